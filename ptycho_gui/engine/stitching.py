"""Stitching patches into one canvas, batch by batch, in the correct geometry or as PtychoPINN does.

Each patch's central M×M crop is shifted by its sub-pixel offset with bilinear weights into an
(M+1)×(M+1) window and added at an integer canvas offset, together with the same window of ones.
That is TF ``translate(pad(crop, p), +adj)`` with zero fill (contract §5.1–5.2) at a cost per batch
proportional to the batch, never to the canvas. Canvas = Σ patch / (Σ ones + 1e-9).

Modes (``types.STITCH_MODES``):
- ``position``: every channel at its own scan position, content moved by +(pos − mean); correct.
- ``ptychopinn-bridge``: PtychoPINN's training-workflow stitch: channel mean placed at the group
  centre, TF ``reassemble_position`` (float32 offsets, as TF computes them).
- ``ptychopinn-cli``: ``python -m ptycho_torch.inference``'s stitch: every channel at its own position
  with the opposite sign, so the layout is point-reflected about the centre (pitfall P1).
"""

from __future__ import annotations

import itertools
import math
from typing import TypeVar

import numpy as np

from ptycho_gui.types import CANVAS_TILE, STITCH_MODES, Canvas

DENOMINATOR_EPS = 1e-9
"""Added to the weight before dividing, as PtychoPINN's ``reassemble_position`` does."""

COVERED_WEIGHT = 1e-6
"""A canvas pixel counts as covered when its summed crop weight exceeds this."""

MAX_CANVAS_PIXELS = 1 << 26
"""Largest canvas stitched (8192², 1.5 GiB of accumulators): scans far wider are refused before allocating."""


_REVISIONS = itertools.count(1)
"""Canvas tile revisions, unique across every stitcher of the process (0: never written)."""


class CanvasTooLargeError(ValueError):
    """The positions span more than MAX_CANVAS_PIXELS: the canvas is refused before any allocation."""


def canvas_side(mode: str, crop: int, N: int, positions: np.ndarray) -> int:
    """Side of the square canvas a stitch of ``positions`` (G, C, 2) needs, computed without allocating."""
    points = _frame_points(mode, np.asarray(positions, dtype=np.float64))
    offsets = _offsets(mode, points, _frame_center(mode, points))
    start, stop = _crop_bounds(N, min(crop, N) if mode == "ptychopinn-cli" else crop, mode)
    return (stop - start) + 2 * _even_ceil(np.abs(offsets).max())


def check_canvas_size(side: int) -> None:
    """Refuse a canvas above MAX_CANVAS_PIXELS (CanvasTooLargeError naming its size)."""
    if side * side > MAX_CANVAS_PIXELS:
        gib = (side + 1) ** 2 * 24 / 2**30
        raise CanvasTooLargeError(
            f"scan positions span {side} px: the {side}×{side} canvas would need {gib:.1f} GiB "
            f"(cap {MAX_CANVAS_PIXELS} px); some positions lie far outside the scan"
        )


def _crop_bounds(N: int, crop: int, mode: str) -> tuple[int, int]:
    """Rows/columns [start, stop) of the central crop; the replicas keep TF's even-length slice."""
    start = N // 2 - crop // 2
    stop = N // 2 + crop // 2 if mode != "position" else start + crop
    return start, stop


def _even_ceil(value: float) -> int:
    pad = int(math.ceil(value))
    return pad + pad % 2


def _frame_points(mode: str, positions: np.ndarray) -> np.ndarray:
    """The points the frame is built from: group centres for the bridge replica, else every channel."""
    if mode == "ptychopinn-bridge":
        return positions.mean(axis=1)
    return positions.reshape(-1, 2)


def _frame_center(mode: str, points: np.ndarray) -> np.ndarray:
    """Centre of mass, in the precision each mode's original computes it in."""
    if mode == "ptychopinn-bridge":
        return points.astype(np.float32).mean(axis=0, dtype=np.float32)
    return points.mean(axis=0)


def _offsets(mode: str, points: np.ndarray, center: np.ndarray) -> np.ndarray:
    """Canvas displacement of each point from the centre: +(p − centre), mirrored for the CLI replica.

    The replicas round offsets to float32 as their originals do (TF subtracts in float32; torch
    subtracts in float64 and then casts); this is what makes them match PtychoPINN's canvases.
    """
    if mode == "ptychopinn-bridge":
        return (points.astype(np.float32) - center).astype(np.float64)
    if mode == "ptychopinn-cli":
        return -(points - center).astype(np.float32).astype(np.float64)
    return points - center


Array = TypeVar("Array")
"""A numpy array or a torch tensor (``add_bilinear_windows`` works on either)."""


def add_bilinear_windows(out: Array, crops: Array, frac_x: Array, frac_y: Array) -> Array:
    """Add into ``out`` (E, M+1, M+1) each (M, M) crop (or one shared crop) shifted right/down by fractions in [0, 1).

    Uses only slicing, broadcasting and ``+=``, so ``out``, ``crops`` and the fractions may be numpy arrays or
    torch tensors alike (the host and the device stitcher share it); returns ``out``.
    """
    m = crops.shape[-1]
    wx1 = frac_x[:, None, None]
    wy1 = frac_y[:, None, None]
    wx0 = 1.0 - wx1
    wy0 = 1.0 - wy1
    out[:, :m, :m] += wy0 * wx0 * crops
    out[:, :m, 1:] += wy0 * wx1 * crops
    out[:, 1:, :m] += wy1 * wx0 * crops
    out[:, 1:, 1:] += wy1 * wx1 * crops
    return out


def _bilinear_windows(crops: np.ndarray, frac_x: np.ndarray, frac_y: np.ndarray) -> np.ndarray:
    """(E, M+1, M+1) windows: each (M, M) crop (or one shared crop) shifted right/down by fractions in [0, 1)."""
    m = crops.shape[-1]
    return add_bilinear_windows(np.zeros((frac_x.size, m + 1, m + 1), dtype=crops.dtype), crops, frac_x, frac_y)


class Stitcher:
    """Accumulates a canvas from batches of patches; the frame is fixed up front from all positions.

    ``positions`` is the run's full (G, C, 2) (x, y) table, so batches may arrive in any order and
    the result does not depend on it. Each group may be added once per accumulation: adding a
    group again raises ValueError (call ``reset`` to start over).
    """

    def __init__(self, mode: str, crop: int, N: int, positions: np.ndarray):
        if mode not in STITCH_MODES:
            raise ValueError(f"unknown stitch mode {mode!r}; expected one of {STITCH_MODES}")
        positions = np.asarray(positions, dtype=np.float64)
        if positions.ndim != 3 or positions.shape[2] != 2 or positions.shape[0] == 0:
            raise ValueError(f"positions must be a non-empty (G, C, 2) array, got shape {positions.shape}")
        if not np.isfinite(positions).all():
            raise ValueError("positions contain NaN or infinite values")
        if mode == "ptychopinn-cli":
            crop = min(crop, N)
        if not 1 <= crop <= N:
            raise ValueError(f"crop must be between 1 and the patch size N = {N}, got {crop}")
        if mode != "position" and crop < 2:
            raise ValueError(f"the {mode} replica needs a crop of at least 2 (it crops an even length)")
        self.mode = mode
        self.crop = int(crop)
        self.N = int(N)
        self.positions = positions
        points = _frame_points(mode, positions)
        self._center = _frame_center(mode, points)
        frame_offsets = _offsets(mode, points, self._center)
        self._crop_start, self._crop_stop = _crop_bounds(self.N, self.crop, mode)
        crop_len = self._crop_stop - self._crop_start
        self._pad = _even_ceil(np.abs(frame_offsets).max())
        self.size = crop_len + 2 * self._pad
        check_canvas_size(self.size)
        self._allocate()
        self._added = np.zeros(positions.shape[0], dtype=bool)
        self._last_add_updates = 0

    def _allocate(self) -> None:
        """The (H+1)×(W+1) complex128 numerator and float64 weight accumulators (one spare row/column), and
        the canvas computed from them, brought up to date only in the tiles batches reached since (``_dirty``)."""
        self._num = np.zeros((self.size + 1, self.size + 1), dtype=np.complex128)
        self._den = np.zeros((self.size + 1, self.size + 1), dtype=np.float64)
        self._image = np.zeros((self.size, self.size), dtype=np.complex64)
        self._weight = np.zeros((self.size, self.size), dtype=np.float32)
        tiles = -(-self.size // CANVAS_TILE)
        self._dirty = np.zeros((tiles, tiles), dtype=bool)
        """CANVAS_TILE² tiles some window added since the last ``canvas`` reached (scattered batches stay cheap)."""
        self._revisions = np.zeros((tiles, tiles), dtype=np.int64)

    @property
    def shape(self) -> tuple[int, int]:
        """(H, W) of the canvas."""
        return self.size, self.size

    @property
    def center_xy(self) -> tuple[float, float]:
        """Object point (x, y) at canvas pixel (H//2, W//2)."""
        return float(self._center[0]), float(self._center[1])

    @property
    def mirrored(self) -> bool:
        """True for the CLI replica, whose layout is point-reflected about the canvas centre."""
        return self.mode == "ptychopinn-cli"

    @property
    def last_add_updates(self) -> int:
        """Canvas pixel updates made by the last ``add``: its work, batch entries × (M+1)²."""
        return self._last_add_updates

    @property
    def n_added(self) -> int:
        """Number of groups accumulated so far."""
        return int(self._added.sum())

    def reset(self) -> None:
        """Forget every added batch (same frame)."""
        self._num[:] = 0
        self._den[:] = 0
        self._image[:] = 0
        self._weight[:] = 0
        self._dirty[:] = True
        self._added[:] = False
        self._last_add_updates = 0

    def _entry_offsets(self, group_indices: np.ndarray) -> np.ndarray:
        """(E, 2) frame offsets of a batch's entries: group centres for the bridge replica, else every channel."""
        positions = self.positions[group_indices]
        if self.mode == "ptychopinn-bridge":
            return _offsets(self.mode, positions.mean(axis=1), self._center)
        return _offsets(self.mode, positions.reshape(-1, 2), self._center)

    def _checked_indices(self, group_indices: np.ndarray, patches_shape: tuple[int, ...]) -> np.ndarray:
        """The batch's group indices as int64, after checking shapes, range and that none was added before."""
        group_indices = np.asarray(group_indices, dtype=np.int64).ravel()
        expected = (group_indices.size, self.positions.shape[1], self.N, self.N)
        if tuple(patches_shape) != expected:
            raise ValueError(f"patches must have shape {expected}, got {tuple(patches_shape)}")
        if group_indices.size and (group_indices.min() < 0 or group_indices.max() >= self._added.size):
            raise ValueError(f"group indices must lie in [0, {self._added.size})")
        if self._added[group_indices].any() or np.unique(group_indices).size != group_indices.size:
            raise ValueError("a group was added twice to the same canvas; call reset() before re-stitching")
        return group_indices

    def _window_placement(self, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(rows, cols) of each entry's (M+1)² window on the canvas, and its sub-pixel (frac_x, frac_y)."""
        int_x = np.floor(offsets[:, 0])
        int_y = np.floor(offsets[:, 1])
        m = self._crop_stop - self._crop_start
        rows = (self._pad + int_y).astype(np.int64)[:, None, None] + np.arange(m + 1)[None, :, None]
        cols = (self._pad + int_x).astype(np.int64)[:, None, None] + np.arange(m + 1)[None, None, :]
        return rows, cols, offsets[:, 0] - int_x, offsets[:, 1] - int_y

    def add(self, group_indices: np.ndarray, patches: np.ndarray) -> None:
        """Accumulate complex (B, C, N, N) patches of the given rows of the positions table."""
        patches = np.asarray(patches)
        group_indices = self._checked_indices(group_indices, patches.shape)
        if group_indices.size == 0:
            self._last_add_updates = 0
            return
        flat = patches.mean(axis=1) if self.mode == "ptychopinn-bridge" else patches.reshape(-1, self.N, self.N)
        lo, hi = self._crop_start, self._crop_stop
        crops = flat[:, lo:hi, lo:hi].astype(np.complex128)
        rows, cols, frac_x, frac_y = self._window_placement(self._entry_offsets(group_indices))
        m = hi - lo
        np.add.at(self._num, (rows, cols), _bilinear_windows(crops, frac_x, frac_y))
        np.add.at(self._den, (rows, cols), _bilinear_windows(np.ones((1, m, m)), frac_x, frac_y))
        self._added[group_indices] = True
        self._last_add_updates = rows.shape[0] * (m + 1) ** 2
        self._mark_dirty(rows[:, 0, 0], rows[:, -1, 0], cols[:, 0, 0], cols[:, 0, -1])

    def _mark_dirty(self, row0: np.ndarray, row1: np.ndarray, col0: np.ndarray, col1: np.ndarray) -> None:
        """Mark the tiles of every window (first to last row and column, inclusive) for ``canvas`` to recompute."""
        last = self._dirty.shape[0] - 1
        t_row0, t_row1 = np.minimum(row0 // CANVAS_TILE, last), np.minimum(row1 // CANVAS_TILE, last)
        t_col0, t_col1 = np.minimum(col0 // CANVAS_TILE, last), np.minimum(col1 // CANVAS_TILE, last)
        span = np.arange(int(max((t_row1 - t_row0).max(), (t_col1 - t_col0).max())) + 1)
        tile_rows = np.minimum(t_row0[:, None] + span, t_row1[:, None])
        tile_cols = np.minimum(t_col0[:, None] + span, t_col1[:, None])
        self._dirty[tile_rows[:, :, None], tile_cols[:, None, :]] = True

    def partial_sums(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Copies of (added group indices, numerator, weight): additive, so shards of one frame merge by summing."""
        return np.flatnonzero(self._added), self._num.copy(), self._den.copy()

    def merge_partial(self, group_indices: np.ndarray, num: np.ndarray, den: np.ndarray) -> None:
        """Add another stitcher's ``partial_sums`` over the same frame; a group already added raises ValueError."""
        group_indices = np.asarray(group_indices, dtype=np.int64).ravel()
        if num.shape != self._num.shape or den.shape != self._den.shape:
            raise ValueError(f"partial sums of shape {num.shape} do not fit this canvas {self._num.shape}")
        if self._added[group_indices].any():
            raise ValueError("a group was added twice to the same canvas; call reset() before re-stitching")
        self._num += num
        self._den += den
        self._added[group_indices] = True
        self._dirty[:] = True

    def canvas(self) -> Canvas:
        """The canvas of everything added so far, with its frame (a copy: later batches do not change it).

        Only the tiles batches reached since the previous call are divided again (and get a new
        revision), so a live refresh costs a copy of the canvas rather than a division over all of it.
        """
        if self._dirty.any():
            for rows, cols in dirty_tile_slices(self._dirty, self.shape):
                den = self._den[rows, cols]
                self._image[rows, cols] = self._num[rows, cols] / (den + DENOMINATOR_EPS)
                self._weight[rows, cols] = den
            self._revisions[self._dirty] = next(_REVISIONS)
            self._dirty[:] = False
        return Canvas(
            image=self._image.copy(),
            weight=self._weight.copy(),
            center_xy=self.center_xy,
            stitch=self.mode,
            crop=self.crop,
            mirrored=self.mirrored,
            tile_revisions=self._revisions.copy(),
        )


def dirty_tile_slices(tiles: np.ndarray, shape: tuple[int, int]) -> list[tuple[slice, slice]]:
    """(rows, cols) slices of an (H, W) array covering the True CANVAS_TILE² tiles, one per run of a tile row."""
    slices = []
    h, w = shape
    for tile_row, flags in enumerate(tiles):
        edges = np.flatnonzero(np.diff(np.concatenate(([False], flags, [False])).astype(np.int8)))
        rows = slice(tile_row * CANVAS_TILE, min((tile_row + 1) * CANVAS_TILE, h))
        for start, stop in zip(edges[::2], edges[1::2], strict=True):
            slices.append((rows, slice(start * CANVAS_TILE, min(stop * CANVAS_TILE, w))))
    return slices


def stitch(mode: str, crop: int, positions: np.ndarray, patches: np.ndarray) -> Canvas:
    """One-shot stitch of every group: (G, C, N, N) patches at the (G, C, 2) positions."""
    patches = np.asarray(patches)
    stitcher = Stitcher(mode, crop, patches.shape[-1], positions)
    stitcher.add(np.arange(patches.shape[0]), patches)
    return stitcher.canvas()


def coverage_fraction(canvas: Canvas) -> float:
    """Fraction of canvas pixels covered by at least one crop (weight above ``COVERED_WEIGHT``)."""
    return float((canvas.weight > COVERED_WEIGHT).mean())
