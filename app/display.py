"""Array → display conversions shared by the views and the exporter (numpy only, no Qt).

Everything here turns arrays the engine produced into what a view draws: a displayed quantity of a
complex array, a patch mosaic with its tile geometry, and colour levels. No science happens here;
it is the one place that decides how numbers become pixels, so the export dialog can reproduce a
view exactly by calling the same functions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ptycho_gui.render.colormaps import quantity_of as complex_quantity_of

PATCH_QUANTITIES: tuple[str, ...] = ("amplitude", "phase", "real", "imaginary", "input (log)")
"""What the patch grid can show; 'input (log)' is the raw diffraction fed to the network, log10."""

CANVAS_QUANTITIES: tuple[str, ...] = ("amplitude", "phase", "real", "imaginary", "weight")
"""What the canvas can show; 'weight' is the coverage map (sum of translated crop masks)."""

LEVELS_MODES: tuple[str, ...] = ("auto per batch", "locked", "per patch")
"""How colour levels follow the data: recomputed per batch, frozen across batches, or per tile."""

COLORMAPS: tuple[str, ...] = ("viridis", "inferno", "magma", "cividis", "turbo", "gray", "twilight")
"""Colormap choices; 'twilight' is cyclic (the default for phase)."""

DEFAULT_COLORMAP: dict[str, str] = {
    "amplitude": "viridis",
    "phase": "twilight",
    "real": "cividis",
    "imaginary": "cividis",
    "input (log)": "inferno",
    "weight": "gray",
}

LOG_FLOOR = 1e-4
"""log display floor relative to the batch peak: 4 decades of diffraction are shown."""


def quantity_of(values: np.ndarray, quantity: str) -> np.ndarray:
    """The displayed float32 quantity: of a complex array, of raw diffraction ('input (log)') or a weight map."""
    if quantity == "input (log)":
        peak = float(np.max(values)) if values.size else 0.0
        floor = peak * LOG_FLOOR if peak > 0 else LOG_FLOOR
        out = np.log10(np.maximum(values, floor))
    elif quantity == "weight":
        out = np.asarray(values)
    else:
        return complex_quantity_of(values, quantity)
    return np.nan_to_num(np.asarray(out, dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0)


def normalize_per_tile(tiles: np.ndarray) -> np.ndarray:
    """Each (N, N) tile of a (..., N, N) stack rescaled to [0, 1] by its own min and max."""
    lo = tiles.min(axis=(-2, -1), keepdims=True)
    hi = tiles.max(axis=(-2, -1), keepdims=True)
    span = np.where(hi > lo, hi - lo, 1.0)
    return ((tiles - lo) / span).astype(np.float32)


@dataclass(frozen=True)
class MosaicLayout:
    """Geometry of a batch mosaic: groups in a grid, each group's C channels side by side in a row.

    Tile (g, c) occupies rows ``[r0, r0+N)`` and columns ``[c0, c0+N)`` with ``(r0, c0) = origin(g, c)``.
    """

    n_groups: int
    channels: int
    N: int
    group_columns: int
    gap: int = 2
    group_gap: int = 10

    @classmethod
    def for_batch(cls, n_groups: int, channels: int, N: int) -> MosaicLayout:
        """A layout close to square for ``n_groups`` groups of ``channels`` tiles."""
        columns = max(1, min(n_groups, round(math.sqrt(n_groups / channels))))
        return cls(n_groups=n_groups, channels=channels, N=N, group_columns=columns)

    @property
    def group_rows(self) -> int:
        return math.ceil(self.n_groups / self.group_columns)

    @property
    def group_width(self) -> int:
        return self.channels * self.N + (self.channels - 1) * self.gap

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, columns) of the whole mosaic."""
        height = self.group_rows * self.N + (self.group_rows - 1) * self.group_gap
        width = self.group_columns * self.group_width + (self.group_columns - 1) * self.group_gap
        return height, width

    def origin(self, group: int, channel: int) -> tuple[int, int]:
        """(row, column) of the top-left pixel of tile (group, channel)."""
        group_row, group_col = divmod(group, self.group_columns)
        row = group_row * (self.N + self.group_gap)
        col = group_col * (self.group_width + self.group_gap) + channel * (self.N + self.gap)
        return row, col

    def tile_at(self, col: float, row: float) -> tuple[int, int, int, int] | None:
        """(group, channel, patch row, patch column) under mosaic point (col, row), or None in a gap."""
        if col < 0 or row < 0:
            return None
        group_row, r = divmod(int(row), self.N + self.group_gap)
        group_col, c = divmod(int(col), self.group_width + self.group_gap)
        channel, pc = divmod(c, self.N + self.gap)
        group = group_row * self.group_columns + group_col
        if (r >= self.N or c >= self.group_width or pc >= self.N or group_col >= self.group_columns
                or group >= self.n_groups):
            return None
        return group, channel, r, pc


def tile_mask(layout: MosaicLayout) -> np.ndarray:
    """(H, W) bool: True on tile pixels, False in gaps and unused slots."""
    mask = np.zeros(layout.shape, dtype=bool)
    for group in range(layout.n_groups):
        for channel in range(layout.channels):
            row, col = layout.origin(group, channel)
            mask[row:row + layout.N, col:col + layout.N] = True
    return mask


def build_mosaic(tiles: np.ndarray, layout: MosaicLayout, fill: float) -> np.ndarray:
    """Place a (B, C, N, N) float32 stack into one (H, W) image; gaps get ``fill`` (never NaN)."""
    mosaic = np.full(layout.shape, fill, dtype=np.float32)
    n = layout.N
    for group in range(tiles.shape[0]):
        for channel in range(tiles.shape[1]):
            row, col = layout.origin(group, channel)
            mosaic[row:row + n, col:col + n] = tiles[group, channel]
    return mosaic


def group_offsets(positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Group centres (G, 2) and each member's offset from its centre (G, C, 2), both as (x, y)."""
    centres = positions.mean(axis=1)
    return centres, positions - centres[:, None, :]


def member_to_centre_segments(positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """x and y arrays of 'pairs' segments joining each member position to its group centre."""
    centres, _ = group_offsets(positions)
    starts = positions.reshape(-1, 2)
    ends = np.repeat(centres, positions.shape[1], axis=0)
    pairs = np.stack([starts, ends], axis=1).reshape(-1, 2)
    return pairs[:, 0], pairs[:, 1]
