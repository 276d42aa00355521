"""Annotated canvas figures: the stitched image in object-pixel axes with overlays, and — when the dataset
has a true object — ground truth and error map side by side in the same frame.

Axes are object pixels (x = column, y = row, y down). A mirrored canvas (PtychoPINN CLI replica) is
drawn in its own layout, so its axes run right-to-left and bottom-to-top; overlays still land where
that stitch placed each scan position.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import numpy as np
from matplotlib.collections import PatchCollection
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle
from mpl_toolkits.axes_grid1.anchored_artists import AnchoredSizeBar
from scipy.ndimage import map_coordinates

from ptycho_gui.engine.stitching import COVERED_WEIGHT
from ptycho_gui.render.annotations import (
    SMALL_PX,
    TEXT_PX,
    PixelLayout,
    Provenance,
    draw_colorbar,
    draw_title_block,
    scale_bar_length,
    title_block_height,
)
from ptycho_gui.render.canvas_picture import canvas_phase_view
from ptycho_gui.render.colormaps import ImageStyle, colorize, nonempty_levels, quantity_of
from ptycho_gui.render.complex_display import PHASE_VIEWS, phase_view
from ptycho_gui.render.figure import RenderedFigure
from ptycho_gui.render.patch_grid import wrap_lines
from ptycho_gui.types import Canvas

MARGIN = 16
TARGET_PANEL_PX = 520
AXIS_LEFT, AXIS_BOTTOM, PANEL_TITLE = 58, 46, 24
COLORBAR_GAP, COLORBAR_WIDTH, COLORBAR_TEXT = 10, 14, 78
LEGEND_BAND = 30
UNCOVERED_RGB = (225, 225, 225)
ERROR_COLORMAP = "RdBu_r"
SCAN_COLOR, BATCH_COLOR, SELECTED_COLOR = "white", "#ff8c00", "#e8112d"
MIN_WIDTH = 760
STACK_ASPECT = 1.4
"""Panels wider than this (width / height) are stacked vertically instead of side by side."""


@dataclass
class CanvasOverlays:
    """What to draw over the canvas: all scan positions (faint), a batch's crop footprints, a selected patch."""

    scan_positions: np.ndarray | None = None
    """(P, 2) object-pixel (x, y)."""
    batch_positions: np.ndarray | None = None
    """(K, 2) (x, y) of the highlighted batch's patches."""
    batch_label: str = "current batch"
    selected_position: tuple[float, float] | None = None
    patch_size: int | None = None
    """N, to outline the selected patch's full footprint."""


@dataclass(frozen=True)
class CanvasOptions:
    """Annotation and layout choices of a canvas figure (None = automatic)."""

    scale: int | None = None
    title: bool = True
    colorbar: bool = True
    scale_bar: bool = True
    truth: bool = True
    """Show ground truth and the error map when a true object is given."""
    fit_to_coverage: bool = True
    """Show only the covered part of the canvas frame (plus a few pixels)."""
    dpi: int = 100
    phase_view: str = PHASE_VIEWS[0]
    """How phase is drawn, as the canvas view's phase view (one of ``PHASE_VIEWS``; the GUI's default is raw ±π)."""

    def __post_init__(self) -> None:
        if self.phase_view not in PHASE_VIEWS:
            raise ValueError(f"unknown phase view {self.phase_view!r}; choose one of {', '.join(PHASE_VIEWS)}")


def canvas_extent(canvas: Canvas) -> tuple[float, float, float, float]:
    """imshow extent (left, right, bottom, top) of the canvas in object pixels (reversed when mirrored)."""
    h, w = canvas.image.shape
    sign = -1.0 if canvas.mirrored else 1.0
    cx, cy = canvas.center_xy
    left = cx + sign * (-0.5 - w // 2)
    right = cx + sign * (w - 0.5 - w // 2)
    top = cy + sign * (-0.5 - h // 2)
    bottom = cy + sign * (h - 0.5 - h // 2)
    return left, right, bottom, top


def truth_on_canvas(canvas: Canvas, truth: np.ndarray) -> np.ndarray:
    """The true object sampled (bilinear) at every canvas pixel's object point; NaN outside the object."""
    h, w = canvas.image.shape
    rows, cols = np.mgrid[0:h, 0:w]
    x, y = _canvas_to_object(canvas, cols, rows)
    coords = np.stack([y.ravel(), x.ravel()])
    real = map_coordinates(truth.real.astype(np.float64), coords, order=1, mode="constant", cval=np.nan)
    imag = map_coordinates(truth.imag.astype(np.float64), coords, order=1, mode="constant", cval=np.nan)
    return (real + 1j * imag).reshape(h, w)


def _canvas_to_object(canvas: Canvas, col: np.ndarray, row: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    h, w = canvas.image.shape
    sign = -1.0 if canvas.mirrored else 1.0
    return canvas.center_xy[0] + sign * (col - w // 2), canvas.center_xy[1] + sign * (row - h // 2)


def truth_fit(canvas: Canvas, truth_here: np.ndarray, quantity: str) -> tuple[np.ndarray, str]:
    """The truth's quantity matched to the reconstruction's global ambiguity, with a note saying how.

    Amplitude: least-squares scale factor (networks recover amplitude up to a scale); phase: constant
    offset (global phase is arbitrary); real and imaginary parts: unchanged.
    """
    covered = (canvas.weight > COVERED_WEIGHT) & np.isfinite(truth_here)
    true = _quantity_nan(truth_here, quantity)
    if not covered.any():
        return true, "truth"
    if quantity == "amplitude":
        recon = quantity_of(canvas.image, quantity)[covered].astype(np.float64)
        ref = true[covered].astype(np.float64)
        factor = float(recon @ ref / (ref @ ref)) if ref @ ref > 0 else 1.0
        return true * factor, f"{factor:.3g} × truth"
    if quantity == "phase":
        offset = float(np.angle(np.sum(canvas.image[covered] * np.conj(truth_here[covered]))))
        return np.angle(np.exp(1j * (true + offset))), f"truth {'+' if offset >= 0 else '−'} {abs(offset):.3g} rad"
    return true, "truth"


def error_map(canvas: Canvas, truth_here: np.ndarray, quantity: str) -> tuple[np.ndarray, str]:
    """Reconstruction − fitted truth of the quantity on covered pixels (phase wrapped); NaN elsewhere."""
    covered = canvas.weight > COVERED_WEIGHT
    fitted, note = truth_fit(canvas, truth_here, quantity)
    difference = quantity_of(canvas.image, quantity) - fitted
    if quantity == "phase":
        difference = np.angle(np.exp(1j * difference))
    return np.where(covered & np.isfinite(difference), difference, np.nan), note


def _quantity_nan(values: np.ndarray, quantity: str) -> np.ndarray:
    """The quantity of a complex array keeping NaN (outside the object) as NaN."""
    out = quantity_of(values, quantity)
    return np.where(np.isfinite(values), out, np.nan)


def comparison_figures(canvas: Canvas, truth_here: np.ndarray, quantity: str) -> dict:
    """RMS error (after the fit of ``truth_fit``) and Pearson correlation over covered pixels in the object."""
    error, note = error_map(canvas, truth_here, quantity)
    valid = np.isfinite(error)
    if valid.sum() < 2:
        return {"rms": float("nan"), "correlation": float("nan"), "pixels": int(valid.sum()), "fit": note}
    recon = quantity_of(canvas.image, quantity)[valid].astype(np.float64)
    true = _quantity_nan(truth_here, quantity)[valid].astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        correlation = float(np.corrcoef(recon, true)[0, 1])
    return {"rms": float(np.sqrt(np.mean(error[valid] ** 2))), "correlation": correlation,
            "pixels": int(valid.sum()), "fit": note}


def coverage_box(canvas: Canvas, pad: int = 4) -> tuple[slice, slice]:
    """(rows, cols) of the bounding box of the canvas's covered pixels plus ``pad`` (the whole canvas if none)."""
    covered = canvas.weight > COVERED_WEIGHT
    if not covered.any():
        return slice(None), slice(None)
    h, w = canvas.image.shape
    rows, cols = np.flatnonzero(covered.any(axis=1)), np.flatnonzero(covered.any(axis=0))
    return (slice(max(rows[0] - pad, 0), min(rows[-1] + pad + 1, h)),
            slice(max(cols[0] - pad, 0), min(cols[-1] + pad + 1, w)))


def fit_to_coverage(canvas: Canvas, pad: int = 4) -> Canvas:
    """The canvas cut to the bounding box of its covered pixels (plus ``pad``), frame kept consistent."""
    if not (canvas.weight > COVERED_WEIGHT).any():
        return canvas
    rows, cols = coverage_box(canvas, pad)
    x, y = _canvas_to_object(canvas, np.float64(cols.start + (cols.stop - cols.start) // 2),
                             np.float64(rows.start + (rows.stop - rows.start) // 2))
    return replace(canvas, image=canvas.image[rows, cols], weight=canvas.weight[rows, cols],
                   center_xy=(float(x), float(y)), tile_revisions=None)


def _panel_rgb(values: np.ndarray, style: ImageStyle, valid: np.ndarray) -> np.ndarray:
    rgb = colorize(values, style.levels, style.cmap)
    rgb[~valid] = UNCOVERED_RGB
    return rgb


@dataclass(frozen=True)
class _Panel:
    title: str
    rgb: np.ndarray
    extent: tuple[float, float, float, float]
    style: ImageStyle
    bar_label: str | None = None


def _panels(canvas: Canvas, displayed: np.ndarray, style: ImageStyle, truth: np.ndarray | None,
            how: str) -> tuple[list[_Panel], dict]:
    """The reconstruction panel (``displayed``), then truth and error panels when a true object is given.

    In a phase view other than raw ±π the truth is drawn as the ground-truth view draws it (``how``, own levels).
    """
    covered = canvas.weight > COVERED_WEIGHT
    extent = canvas_extent(canvas)
    panels = [_Panel("reconstruction", _panel_rgb(displayed, style, covered), extent, style)]
    if truth is None:
        return panels, {}
    truth_here = truth_on_canvas(canvas, truth)
    inside = np.isfinite(truth_here)
    h, w = truth.shape
    if style.quantity == "phase" and how != PHASE_VIEWS[0]:
        truth_values, truth_levels = phase_view(truth, None, how)
        truth_style = replace(style, levels=truth_levels)
    else:
        true_values = np.nan_to_num(_quantity_nan(truth_here, style.quantity))
        truth_style = replace(style, levels=None).resolved(true_values, covered & inside)
        truth_values = quantity_of(truth, style.quantity)
    panels.append(
        _Panel("ground truth (objectGuess)", _panel_rgb(truth_values, truth_style, np.ones(truth.shape, bool)),
               (-0.5, w - 0.5, h - 0.5, -0.5), truth_style)
    )
    error, _ = error_map(canvas, truth_here, style.quantity)
    finite = np.isfinite(error)
    span = float(np.percentile(np.abs(error[finite]), 99.5)) if finite.any() else 1.0
    lo, hi = nonempty_levels(-span, span)
    error_style = ImageStyle(style.quantity, ERROR_COLORMAP, (lo, hi))
    figures = comparison_figures(canvas, truth_here, style.quantity)
    title = f"error: reconstruction − {figures['fit']} · rms {figures['rms']:.3g} · corr {figures['correlation']:.3f}"
    panels.append(_Panel(title, _panel_rgb(np.nan_to_num(error), error_style, finite), extent, error_style,
                         f"Δ {style.label}"))
    return panels, figures


def _overlay(ax, canvas: Canvas, overlays: CanvasOverlays) -> list:
    """Draw the overlays on the reconstruction axes; return legend handles."""
    handles = []
    if overlays.scan_positions is not None and len(overlays.scan_positions):
        p = np.asarray(overlays.scan_positions)
        ax.scatter(p[:, 0], p[:, 1], s=5, c=SCAN_COLOR, alpha=0.6, edgecolors="none", zorder=3)
        handles.append(Line2D([], [], ls="", marker="o", ms=4, color="#888888", label="scan positions"))
    m = canvas.crop
    if overlays.batch_positions is not None and len(overlays.batch_positions):
        p = np.asarray(overlays.batch_positions)
        boxes = [Rectangle((x - m // 2 - 0.5, y - m // 2 - 0.5), m, m) for x, y in p]
        ax.add_collection(PatchCollection(boxes, facecolor="none", edgecolor=BATCH_COLOR, linewidth=0.7, alpha=0.9,
                                          zorder=4))
        label = f"{overlays.batch_label}: {m}×{m} crops"
        handles.append(Rectangle((0, 0), 1, 1, fc="none", ec=BATCH_COLOR, label=label))
    if overlays.selected_position is not None:
        x, y = overlays.selected_position
        ax.add_patch(Rectangle((x - m // 2 - 0.5, y - m // 2 - 0.5), m, m, fc="none", ec=SELECTED_COLOR, lw=1.6,
                               zorder=5))
        if overlays.patch_size:
            n = overlays.patch_size
            ax.add_patch(Rectangle((x - n // 2 - 0.5, y - n // 2 - 0.5), n, n, fc="none", ec=SELECTED_COLOR, lw=1.0,
                                   ls="--", zorder=5))
        ax.plot([x], [y], marker="+", ms=9, mew=1.6, color=SELECTED_COLOR, zorder=6)
        label = "selected patch (crop; dashed: N×N)"
        handles.append(Rectangle((0, 0), 1, 1, fc="none", ec=SELECTED_COLOR, label=label))
    return handles


def _draw_panel(layout: PixelLayout, panel: _Panel, canvas: Canvas, box: tuple[int, int, int, int],
                options: CanvasOptions):
    """One image panel in object-pixel axes framed like the canvas, with its colour bar; returns the Axes."""
    left, top, pw, ph = box
    ax = layout.axes(left, top, pw, ph)
    ax.imshow(panel.rgb, extent=panel.extent, interpolation="nearest", origin="upper")
    extent = canvas_extent(canvas)
    ax.set_xlim(extent[:2])
    ax.set_ylim(extent[2:])
    ax.set_facecolor("#f4f4f4")
    ax.set_title(panel.title, fontsize=layout.points(TEXT_PX), loc="left")
    ax.set_xlabel("x (object pixels)", fontsize=layout.points(SMALL_PX))
    ax.set_ylabel("y (object pixels)", fontsize=layout.points(SMALL_PX))
    ax.tick_params(labelsize=layout.points(SMALL_PX))
    if options.colorbar:
        draw_colorbar(layout, panel.style, (left + pw + COLORBAR_GAP, top, COLORBAR_WIDTH, ph), panel.bar_label)
    return ax


def _add_scale_bar(layout: PixelLayout, ax, panel_px: float, provenance: Provenance) -> None:
    length, label = scale_bar_length(panel_px / 4, provenance.pixel_size_m)
    bar = AnchoredSizeBar(ax.transData, length, label, loc="lower left", pad=0.4, borderpad=0.6, sep=3,
                          color="black", frameon=True, size_vertical=0,
                          fontproperties={"size": layout.points(SMALL_PX)})
    bar.patch.set(alpha=0.75, facecolor="white", edgecolor="none")
    ax.add_artist(bar)


def _displayed(canvas: Canvas, quantity: str, how: str,
               fit: bool) -> tuple[Canvas, np.ndarray, tuple[float, float] | None]:
    """(canvas as drawn, its displayed values, the phase view's automatic levels or None), cut to the coverage
    when ``fit``; a phase view is computed on the whole canvas first, as the canvas view computes it."""
    if how == PHASE_VIEWS[0]:
        canvas = fit_to_coverage(canvas) if fit else canvas
        return canvas, quantity_of(canvas.image, quantity), None
    values, levels = canvas_phase_view(canvas, how)
    if fit:
        values, canvas = values[coverage_box(canvas)], fit_to_coverage(canvas)
    return canvas, values, levels


def render_canvas_figure(
    canvas: Canvas,
    style: ImageStyle,
    provenance: Provenance,
    heading: str,
    overlays: CanvasOverlays | None = None,
    truth: np.ndarray | None = None,
    options: CanvasOptions = CanvasOptions(),
) -> RenderedFigure:
    """An annotated figure of a canvas (levels auto over covered pixels unless the style fixes them)."""
    overlays = overlays or CanvasOverlays()
    how = options.phase_view if style.quantity == "phase" else PHASE_VIEWS[0]
    canvas, displayed, view_levels = _displayed(canvas, style.quantity, how, options.fit_to_coverage)
    covered = canvas.weight > COVERED_WEIGHT
    style = replace(style, levels=style.levels or view_levels, per_tile=False).resolved(
        displayed, covered if covered.any() else None)
    provenance = replace(provenance, stitch=canvas.stitch, crop=canvas.crop)
    panels, figures = _panels(canvas, displayed, style, truth if options.truth else None, how)

    h, w = canvas.image.shape
    scale = options.scale or panel_scale(canvas)
    pw, ph = w * scale, h * scale
    side = COLORBAR_GAP + COLORBAR_WIDTH + COLORBAR_TEXT if options.colorbar else 12
    block_w, block_h = AXIS_LEFT + pw + side, PANEL_TITLE + ph + AXIS_BOTTOM
    stacked = pw > STACK_ASPECT * ph
    n_across, n_down = (1, len(panels)) if stacked else (len(panels), 1)
    phase_note = "" if how == PHASE_VIEWS[0] else f" · phase view: {how}"
    text = provenance.lines() + [style.describe() + phase_note + " · grey: not covered"]
    if canvas.mirrored:
        text.append("mirrored canvas (PtychoPINN CLI replica): axes run right-to-left and bottom-to-top")
    width = max(2 * MARGIN + block_w * n_across, MIN_WIDTH)
    text = wrap_lines(text, width - 2 * MARGIN) if options.title else []
    title_h = title_block_height(len(text)) + 10 if options.title else 0
    height = MARGIN + title_h + block_h * n_down + LEGEND_BAND + MARGIN
    layout = PixelLayout(width, height, options.dpi)

    if options.title:
        draw_title_block(layout, MARGIN, MARGIN, heading, text)
    handles = []
    for i, panel in enumerate(panels):
        across, down = (0, i) if stacked else (i, 0)
        box = (MARGIN + across * block_w + AXIS_LEFT, MARGIN + title_h + down * block_h + PANEL_TITLE, pw, ph)
        ax = _draw_panel(layout, panel, canvas, box, options)
        if i == 0:
            handles = _overlay(ax, canvas, overlays)
            if options.scale_bar:
                _add_scale_bar(layout, ax, w, provenance)
    if handles:
        layout.figure.legend(handles=handles, loc="upper left", ncols=len(handles), frameon=False,
                             fontsize=layout.points(SMALL_PX),
                             bbox_to_anchor=(MARGIN / width, 1 - (height - MARGIN - LEGEND_BAND + 4) / height))

    metadata = {
        "kind": "canvas",
        "heading": heading,
        "style": {"quantity": style.quantity, "colormap": style.cmap, "levels": list(style.levels),
                  "phase_view": how},
        "canvas": {"shape": [h, w], "center_xy": list(canvas.center_xy), "stitch": canvas.stitch,
                   "crop": canvas.crop, "mirrored": canvas.mirrored, "scale": scale},
        "comparison": figures,
        "provenance": asdict(provenance),
    }
    return RenderedFigure(figure=layout.figure, dpi=options.dpi, style=style, metadata=metadata)


def panel_scale(canvas: Canvas) -> int:
    """Auto enlargement of a canvas panel (about ``TARGET_PANEL_PX`` wide, at least 1)."""
    return max(1, round(TARGET_PANEL_PX / max(canvas.image.shape)))

