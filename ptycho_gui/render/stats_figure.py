"""Statistics figures: the per-batch curves of a run (amplitude, var_zero_mean, phase, input scale,
non-finite count) and the amplitude histogram of the current batch, with the provenance title block."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from matplotlib.ticker import MaxNLocator

from ptycho_gui.render.annotations import SMALL_PX, TEXT_PX, PixelLayout, Provenance
from ptycho_gui.render.figure import RenderedFigure
from ptycho_gui.render.figure_layout import FIGURE_MARGIN, titled_layout

WIDTH, PANEL_HEIGHT = 1200, 300
HISTOGRAM_BINS = 100
CURVE_PANELS: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    ("amplitude", (("global_mean", "mean"), ("global_std", "std"), ("amp_min", "min"), ("amp_max", "max"))),
    ("var_zero_mean (per-image mean removed)", (("var_zero_mean", "var_zero_mean"),)),
    ("phase (rad)", (("phase_mean", "mean"), ("phase_std", "std"))),
    ("input scale", (("input_scale", "input scale"),)),
    ("non-finite values", (("nonfinite", "count"),)),
)


@dataclass(frozen=True)
class StatsOptions:
    """Annotation choices of a statistics figure."""

    title: bool = True
    dpi: int = 100


def _curves(ax, stats: dict[str, np.ndarray], title: str, series, current: int | None, layout: PixelLayout) -> None:
    batches = np.arange(len(next(iter(stats.values()))))
    for name, label in series:
        values = np.asarray(stats[name], dtype=np.float64)
        ax.plot(batches, values, marker="o", ms=3, lw=1.2, label=label)
        if current is not None and 0 <= current < len(values) and np.isfinite(values[current]):
            ax.plot([current], [values[current]], marker="o", ms=7, mfc="none", mec="black", mew=1.2)
    if current is not None:
        ax.axvline(current, color="black", lw=0.8, ls="--", alpha=0.6)
    ax.set_title(title, fontsize=layout.points(TEXT_PX), loc="left")
    ax.set_xlabel("batch index", fontsize=layout.points(SMALL_PX))
    ax.set_xlim(-0.5, len(batches) - 0.5)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.tick_params(labelsize=layout.points(SMALL_PX))
    ax.grid(alpha=0.3)
    if len(series) > 1:
        ax.legend(fontsize=layout.points(SMALL_PX), loc="best", framealpha=0.85, ncols=2)


def _histogram(ax, amplitudes: np.ndarray | None, current: int | None, layout: PixelLayout) -> None:
    if amplitudes is None:
        ax.set_axis_off()
        return
    values = np.asarray(amplitudes, dtype=np.float64).ravel()
    ax.hist(values[np.isfinite(values)], bins=HISTOGRAM_BINS, color="#3b6ea8")
    ax.set_title(f"amplitude histogram, batch {current}", fontsize=layout.points(TEXT_PX), loc="left")
    ax.set_xlabel("amplitude", fontsize=layout.points(SMALL_PX))
    ax.set_ylabel("pixels", fontsize=layout.points(SMALL_PX))
    ax.tick_params(labelsize=layout.points(SMALL_PX))
    ax.grid(alpha=0.3)


def render_statistics_figure(
    stats: dict[str, np.ndarray],
    provenance: Provenance,
    heading: str,
    current_batch: int | None = None,
    current_amplitudes: np.ndarray | None = None,
    options: StatsOptions = StatsOptions(),
) -> RenderedFigure:
    """Per-batch curves (one value per batch index, NaN = not computed) and the current batch's histogram."""
    missing = [name for _, series in CURVE_PANELS for name, _ in series if name not in stats]
    if missing:
        raise ValueError(f"statistics lack {', '.join(missing)}")
    computed = np.isfinite(np.asarray(stats["global_mean"], dtype=np.float64))
    text = provenance.lines() + [f"{int(computed.sum())} of {computed.size} batches computed"]
    layout, body_top = titled_layout(WIDTH, 2 * PANEL_HEIGHT, heading, text, options.title, options.dpi,
                                     title_gap=36, untitled_top=20)
    top, bottom = 1 - body_top / layout.height, (FIGURE_MARGIN + 44) / layout.height
    grid = layout.figure.add_gridspec(2, 3, left=0.06, right=0.985, top=top, bottom=bottom, hspace=0.42, wspace=0.22)
    axes = [layout.figure.add_subplot(grid[i // 3, i % 3]) for i in range(6)]
    for ax, (title, series) in zip(axes[: len(CURVE_PANELS)], CURVE_PANELS, strict=True):
        _curves(ax, stats, title, series, current_batch, layout)
    _histogram(axes[5], current_amplitudes, current_batch, layout)
    metadata = {
        "kind": "statistics",
        "heading": heading,
        "current_batch": current_batch,
        "batches_computed": int(computed.sum()),
        "provenance": asdict(provenance),
    }
    return RenderedFigure(figure=layout.figure, dpi=options.dpi, metadata=metadata)
