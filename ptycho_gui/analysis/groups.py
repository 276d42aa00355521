"""Per-group scores (error against the truth over each group's footprint, physics residual) and rankings.

A group's footprint is the crop×crop square around each of its channels' positions on the canvas;
footprint means come from summed-area tables, so scoring every group costs O(G·C), not O(G·C·crop²).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ptycho_gui.analysis.comparison import Comparison
from ptycho_gui.types import Canvas


@dataclass(frozen=True)
class GroupErrors:
    """Per-group (G,) RMS errors over the compared pixels of each group's footprint (NaN: none compared)."""

    amplitude_rmse: np.ndarray
    phase_rmse: np.ndarray
    pixels: np.ndarray


def _summed_area(values: np.ndarray) -> np.ndarray:
    table = np.zeros((values.shape[0] + 1, values.shape[1] + 1))
    table[1:, 1:] = values.cumsum(axis=0).cumsum(axis=1)
    return table


def _box_sums(table: np.ndarray, rows: np.ndarray, cols: np.ndarray, size: int) -> np.ndarray:
    """Sums over size×size boxes starting at (rows, cols), clipped to the image."""
    h, w = table.shape[0] - 1, table.shape[1] - 1
    r0, c0 = np.clip(rows, 0, h), np.clip(cols, 0, w)
    r1, c1 = np.clip(rows + size, 0, h), np.clip(cols + size, 0, w)
    return table[r1, c1] - table[r0, c1] - table[r1, c0] + table[r0, c0]


def group_errors(comparison: Comparison, canvas: Canvas, positions: np.ndarray, crop: int) -> GroupErrors:
    """RMS amplitude and phase error of each group over its channels' crop footprints on the canvas."""
    positions = np.asarray(positions, dtype=np.float64)
    g, c, _ = positions.shape
    cols, rows = canvas.object_to_canvas(positions[..., 0].ravel(), positions[..., 1].ravel())
    top = np.rint(rows).astype(np.int64) - crop // 2
    left = np.rint(cols).astype(np.int64) - crop // 2
    mask = comparison.mask
    count = _box_sums(_summed_area(mask.astype(np.float64)), top, left, crop).reshape(g, c).sum(axis=1)
    totals = []
    for error in (comparison.amplitude_error, comparison.phase_error):
        squared = np.where(mask, np.nan_to_num(error.astype(np.float64)) ** 2, 0.0)
        totals.append(_box_sums(_summed_area(squared), top, left, crop).reshape(g, c).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        amp, phase = (np.where(count > 0, np.sqrt(t / count), np.nan) for t in totals)
    return GroupErrors(amplitude_rmse=amp, phase_rmse=phase, pixels=count.astype(np.int64))


def group_residuals(nmse: np.ndarray) -> np.ndarray:
    """(G,) mean residual NMSE over each group's channels (NaN where none is known)."""
    nmse = np.asarray(nmse, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        known = np.isfinite(nmse)
        return np.where(known.any(axis=1), np.nansum(nmse, axis=1) / np.maximum(known.sum(axis=1), 1), np.nan)


def worst_groups(scores: np.ndarray, count: int = 10) -> np.ndarray:
    """Indices of the ``count`` highest finite scores, worst first (NaN scores never listed)."""
    scores = np.asarray(scores, dtype=np.float64).ravel()
    finite = np.flatnonzero(np.isfinite(scores))
    order = finite[np.argsort(-scores[finite], kind="stable")]
    return order[:count]
