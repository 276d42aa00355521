"""PtychoPINN-compatible diagnostic files: the debug dump and the ``PatchStatsLogger`` output.

Field names and meanings follow PtychoPINN's own writers (contract §6.1–6.2) so existing comparison
scripts read them unchanged. Where PtychoPINN writes a placeholder image, a real patch grid is written.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ptycho_gui.engine.statistics import patch_stats_logger_entry
from ptycho_gui.export.atomic import write_bytes_atomic, write_text_atomic
from ptycho_gui.export.json_text import dumps_finite
from ptycho_gui.types import BatchResult, Canvas

PATCH_LIMIT = 16
GRID_COLUMNS = 4
GRID_TILE_IN, GRID_TITLE_IN, GRID_PAD = 2.5, 0.25, 0.03
"""Grid tile size and title height (inches), and the margin around each tile (fraction of the tile)."""


def stitched_offsets(positions: np.ndarray, stitch: str) -> np.ndarray:
    """The (x, y) offsets a stitch mode places patches at: group centres for the bridge replica."""
    if stitch == "ptychopinn-bridge":
        return positions.mean(axis=1)
    return positions.reshape(-1, 2)


def offsets_json(offsets: np.ndarray) -> dict:
    """``offsets.json``: raw global offsets (not centred) and their spread, as PtychoPINN writes it."""
    dx, dy = offsets[:, 0], offsets[:, 1]
    return {
        "count": int(len(offsets)),
        "first_offsets_px": [{"dx": float(x), "dy": float(y)} for x, y in offsets[:PATCH_LIMIT]],
        "mean_dx": float(dx.mean()),
        "mean_dy": float(dy.mean()),
        "std_dx": float(dx.std()),
        "std_dy": float(dy.std()),
        "centered_std_dx": float((dx - dx.mean()).std()),
        "centered_std_dy": float((dy - dy.mean()).std()),
    }


def canvas_json(canvas: Canvas, patch_size: int, n_patch_slots: int, offsets: np.ndarray) -> dict:
    """``canvas.json``: sizes and the largest absolute raw coordinate on each axis."""
    return {
        "patch_size": int(patch_size),
        "canvas_size": int(canvas.image.shape[-1]),
        "num_patch_slots": int(n_patch_slots),
        "max_abs_dx": float(np.abs(offsets[:, 0]).max()),
        "max_abs_dy": float(np.abs(offsets[:, 1]).max()),
    }


def stats_json(patch_amplitude_moments: dict[str, float], canvas: Canvas) -> dict:
    """``stats.json``: patch amplitude moments and |canvas| moments (uncovered zeros included)."""
    amp = np.abs(canvas.image)
    return {
        "patch_amplitude": patch_amplitude_moments,
        "canvas_amplitude": {
            "mean": float(amp.mean()),
            "std": float(amp.std()),
            "min": float(amp.min()),
            "max": float(amp.max()),
        },
    }


class PatchAmplitudeMoments:
    """Streaming mean/std/min/max/var_zero_mean of |patches| over every patch of a run."""

    def __init__(self) -> None:
        self.count = 0
        self.total = 0.0
        self.total_sq = 0.0
        self.dev_sq = 0.0
        self.minimum = np.inf
        self.maximum = -np.inf

    def add(self, patches: np.ndarray) -> None:
        """Fold one batch of complex patches (B, C, N, N) in."""
        amp = np.abs(patches).astype(np.float64)
        self.count += amp.size
        self.total += amp.sum()
        self.total_sq += np.square(amp).sum()
        self.dev_sq += np.square(amp - amp.mean(axis=(-2, -1), keepdims=True)).sum()
        self.minimum = min(self.minimum, float(amp.min()))
        self.maximum = max(self.maximum, float(amp.max()))

    def as_dict(self) -> dict[str, float | None]:
        """Population moments, as PtychoPINN's ``stats.json`` reports them (null before any batch: a run stopped early)."""
        if self.count == 0:
            return dict.fromkeys(("mean", "std", "min", "max", "var_zero_mean"))
        mean = self.total / self.count
        return {
            "mean": float(mean),
            "std": float(np.sqrt(max(self.total_sq / self.count - mean * mean, 0.0))),
            "min": float(self.minimum),
            "max": float(self.maximum),
            "var_zero_mean": float(self.dev_sq / self.count),
        }


def patch_grid_png(amplitudes: np.ndarray, titles: list[str], columns: int = GRID_COLUMNS) -> bytes:
    """A PNG grid of amplitude images (magma, one title each, 2.5 in per tile at 200 dpi, as PtychoPINN's).

    Each tile's axes are placed directly and titled with a plain text artist: matplotlib's ``tight_layout``
    and axes titles measure every axis on each draw, which took two thirds of the time (1.5 s a grid).
    """
    rows = max(1, int(np.ceil(len(amplitudes) / columns)))
    figure = Figure(figsize=(GRID_TILE_IN * columns, GRID_TILE_IN * rows), dpi=200)
    FigureCanvasAgg(figure)
    width, height = 1 / columns, 1 / rows
    title = GRID_TITLE_IN / (GRID_TILE_IN * rows)
    for k, amplitude in enumerate(amplitudes):
        row, column = divmod(k, columns)
        left, bottom = (column + GRID_PAD) * width, 1 - (row + 1 - GRID_PAD) * height
        ax = figure.add_axes((left, bottom, width * (1 - 2 * GRID_PAD), height * (1 - 2 * GRID_PAD) - title))
        ax.set_axis_off()
        ax.imshow(amplitude, cmap="magma", origin="upper")
        ax.text(0.5, 1.02, titles[k], transform=ax.transAxes, ha="center", va="bottom", fontsize=9)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=200)
    return buffer.getvalue()


class DebugDumpCollector:
    """Collects what the debug dump and the patch-stats log need while a run streams batches."""

    def __init__(self) -> None:
        self.moments = PatchAmplitudeMoments()
        self.first_patches: list[np.ndarray] = []
        self.first_labels: list[str] = []
        self.stats_entries: list[dict] = []

    def add(self, result: BatchResult) -> None:
        """Fold one batch in: moments, the first patches for the grids, its stats-log entry."""
        self.moments.add(result.patches)
        self.stats_entries.append(patch_stats_logger_entry(result.stats, result.index, len(result.group_indices)))
        for b, group in enumerate(result.group_indices):
            for c in range(result.patches.shape[1]):
                if len(self.first_patches) < PATCH_LIMIT:
                    self.first_patches.append(np.abs(result.patches[b, c]))
                    self.first_labels.append(f"group {group} ch {c} (row {result.groups[b, c]})")

    def write(self, out_dir: Path, canvas: Canvas, positions: np.ndarray, patch_size: int,
              overwrite: bool = True) -> list[Path]:
        """Write ``debug_dump/`` and ``analysis/`` under ``out_dir`` (no symlink below it followed); return the files.

        Non-finite numbers (a network gone NaN) are written as JSON ``null``, never ``NaN``.
        """
        dump, analysis = out_dir / "debug_dump", out_dir / "analysis"
        offsets = stitched_offsets(positions, canvas.stitch)
        amplitudes = np.stack(self.first_patches) if self.first_patches else np.zeros((0, patch_size, patch_size))
        pinn_titles = [f"Patch {i}" for i in range(len(amplitudes))]
        files = {
            dump / "offsets.json": _json(offsets_json(offsets)),
            dump / "canvas.json": _json(canvas_json(canvas, patch_size, positions.shape[0] * positions.shape[1], offsets)),
            dump / "stats.json": _json(stats_json(self.moments.as_dict(), canvas)),
            analysis / "torch_patch_stats.json": _json(self.stats_entries),
        }
        written = [write_text_atomic(path, text, overwrite, out_dir) for path, text in files.items()]
        written.append(write_bytes_atomic(dump / "pred_patches_amp_grid.png", patch_grid_png(amplitudes, pinn_titles),
                                          overwrite, out_dir))
        written.append(write_bytes_atomic(analysis / "torch_patch_grid.png",
                                          patch_grid_png(amplitudes, self.first_labels), overwrite, out_dir))
        return written


def _json(payload: object) -> str:
    return dumps_finite(payload, indent=2) + "\n"
