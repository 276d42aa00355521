"""Annotated patch-grid figures: tiles placed pixel-exactly, each labelled, with title, colour and scale bars.

Every tile is ``tile_rgb(patch, style, scale)`` copied onto the figure at a known pixel box (integer
nearest-neighbour enlargement, no resampling), so a decoded PNG reproduces the data → colour mapping
exactly and the boxes recorded in the figure's metadata locate each tile.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from ptycho_gui.render.annotations import (
    LINE_SPACING,
    SMALL_PX,
    TEXT_PX,
    PixelLayout,
    Provenance,
    draw_colorbar,
    draw_scale_bar,
    draw_title_block,
    scale_bar_length,
    title_block_height,
)
from ptycho_gui.render.colormaps import ImageStyle, colorize, enlarge, quantity_of
from ptycho_gui.render.figure import RenderedFigure
from ptycho_gui.types import BatchResult

MARGIN = 16
TILE_GAP = 4
GROUP_GAP = 16
ROW_GAP = 8
MIN_TILE_PX = 112
"""Auto enlargement makes tiles at least this wide so two label lines fit under each."""
COLORBAR_GAP, COLORBAR_WIDTH, COLORBAR_TEXT = 20, 18, 84
COLORBAR_MAX_HEIGHT = 420
SCALE_BAR_BAND = 44
MIN_WIDTH = 760
TARGET_ASPECT = 1.5
CHAR_WIDTH_EM = 0.6
"""Generous mean glyph width of the default sans font, used to wrap title lines to the figure width."""
TILE_LEGEND = "tile labels: g group · c channel · dataset row / scan position (x, y) in object pixels"


@dataclass
class PatchTiles:
    """Patches to show as tiles and what each tile's label says; ``group_size`` tiles belong together."""

    patches: np.ndarray
    """(K, N, N) complex."""
    groups: np.ndarray
    """(K,) index in the run's group table."""
    channels: np.ndarray
    rows: np.ndarray
    """(K,) dataset row of the pattern each tile was predicted from."""
    positions: np.ndarray
    """(K, 2) scan position (x, y) in object pixels."""
    group_size: int = 1

    @classmethod
    def from_batches(
        cls, results: Sequence[BatchResult], picks: Sequence[tuple[int, int]] | None = None
    ) -> PatchTiles:
        """Every patch of these batches (each group's channels side by side), or only ``picks``.

        ``picks`` are (group index in the run's table, channel) pairs, shown in the order given.
        """
        patches = np.concatenate([r.patches for r in results])
        group_ids = np.concatenate([r.group_indices for r in results])
        rows = np.concatenate([r.groups for r in results])
        positions = np.concatenate([r.positions for r in results])
        n_groups, channels = patches.shape[:2]
        if picks is None:
            b, c = np.divmod(np.arange(n_groups * channels), channels)
            group_size = channels
        else:
            where = {int(g): i for i, g in enumerate(group_ids)}
            missing = [p for p in picks if int(p[0]) not in where or not 0 <= int(p[1]) < channels]
            if missing:
                raise ValueError(f"patches {missing} are not in the given batches")
            b = np.array([where[int(g)] for g, _ in picks], dtype=np.int64)
            c = np.array([int(ch) for _, ch in picks], dtype=np.int64)
            group_size = 1
        return cls(
            patches=patches[b, c],
            groups=group_ids[b].astype(np.int64),
            channels=c.astype(np.int64),
            rows=rows[b, c].astype(np.int64),
            positions=positions[b, c].astype(np.float64),
            group_size=group_size,
        )

    def __len__(self) -> int:
        return int(self.patches.shape[0])

    @property
    def N(self) -> int:
        return int(self.patches.shape[-1])

    def label(self, k: int) -> tuple[str, str]:
        """The two label lines of tile ``k``: identity, then scan position."""
        x, y = self.positions[k]
        return f"g{self.groups[k]} · c{self.channels[k]} · row {self.rows[k]}", f"({x:.1f}, {y:.1f})"


@dataclass(frozen=True)
class GridOptions:
    """Annotation and layout choices of a patch grid (None = automatic)."""

    scale: int | None = None
    """Integer enlargement of every tile (nearest neighbour)."""
    groups_per_row: int | None = None
    labels: bool = True
    title: bool = True
    colorbar: bool = True
    scale_bar: bool = True
    dpi: int = 100


@dataclass(frozen=True)
class GridGeometry:
    """Pixel layout of a patch-grid figure; boxes are (left, top, width, height) from the top-left."""

    width: int
    height: int
    scale: int
    mosaic: tuple[int, int, int, int]
    tiles: np.ndarray
    """(K, 4) tile boxes."""
    labels: np.ndarray
    """(K, 4) label boxes (zero height when labels are off)."""
    title_top: int
    title_lines: int
    colorbar: tuple[int, int, int, int] | None
    scale_bar_top: int | None


def tile_rgb(patch: np.ndarray, style: ImageStyle, scale: int) -> np.ndarray:
    """The exact pixels of one tile: quantity → colormap at the style's (or the tile's) levels → enlarged."""
    if style.levels is None:
        raise ValueError("tile_rgb needs a resolved style (levels fixed)")
    displayed = quantity_of(patch, style.quantity)
    return enlarge(colorize(displayed, style.tile_levels(displayed), style.cmap), scale)


def auto_scale(N: int) -> int:
    """Smallest integer enlargement that makes an N-pixel tile at least ``MIN_TILE_PX`` wide."""
    return max(1, math.ceil(MIN_TILE_PX / N))


def label_band(labels: bool) -> int:
    """Pixels below each tile reserved for its two label lines."""
    return int(math.ceil(2 * SMALL_PX * LINE_SPACING)) + 4 if labels else 0


def grid_geometry(n_tiles: int, N: int, group_size: int, options: GridOptions, title_lines: int) -> GridGeometry:
    """Place ``n_tiles`` tiles (in groups of ``group_size``), title, colour and scale bars in pixels."""
    scale = options.scale or auto_scale(N)
    tile = N * scale
    band = label_band(options.labels)
    n_groups = math.ceil(n_tiles / group_size)
    group_width = group_size * tile + (group_size - 1) * TILE_GAP
    row_height = tile + band + ROW_GAP
    per_row = options.groups_per_row or round(math.sqrt(n_groups * row_height * TARGET_ASPECT / group_width))
    per_row = max(1, min(n_groups, per_row))
    n_rows = math.ceil(n_groups / per_row)
    mosaic_w = per_row * group_width + (per_row - 1) * GROUP_GAP
    mosaic_h = n_rows * (tile + band) + (n_rows - 1) * ROW_GAP

    title_h = title_block_height(title_lines) + 10 if options.title else 0
    mosaic_left, mosaic_top = MARGIN, MARGIN + title_h
    side = COLORBAR_GAP + COLORBAR_WIDTH + COLORBAR_TEXT if options.colorbar else 0
    width = max(MARGIN + mosaic_w + side + MARGIN, MIN_WIDTH if options.title else 0)
    bottom = SCALE_BAR_BAND if options.scale_bar else 0
    height = mosaic_top + mosaic_h + bottom + MARGIN

    k = np.arange(n_tiles)
    group, channel = np.divmod(k, group_size)
    grow, gcol = np.divmod(group, per_row)
    left = mosaic_left + gcol * (group_width + GROUP_GAP) + channel * (tile + TILE_GAP)
    top = mosaic_top + grow * row_height
    ones = np.ones_like(k)
    tiles = np.stack([left, top, tile * ones, tile * ones], axis=1)
    labels = np.stack([left, top + tile, tile * ones, band * ones], axis=1)
    colorbar = None
    if options.colorbar:
        colorbar = (mosaic_left + mosaic_w + COLORBAR_GAP, mosaic_top, COLORBAR_WIDTH,
                    min(mosaic_h, COLORBAR_MAX_HEIGHT))
    return GridGeometry(
        width=int(width),
        height=int(height),
        scale=scale,
        mosaic=(mosaic_left, mosaic_top, mosaic_w, mosaic_h),
        tiles=tiles.astype(np.int64),
        labels=labels.astype(np.int64),
        title_top=MARGIN,
        title_lines=title_lines,
        colorbar=colorbar,
        scale_bar_top=mosaic_top + mosaic_h + 14 if options.scale_bar else None,
    )


def wrap_lines(lines: list[str], width_px: int, size_px: float = TEXT_PX) -> list[str]:
    """Wrap text lines so each fits ``width_px`` at ``size_px`` (conservative glyph width)."""
    chars = max(20, int(width_px / (CHAR_WIDTH_EM * size_px)))
    return [piece for line in lines for piece in textwrap.wrap(line, chars) or [""]]


def mosaic_rgb(tiles: PatchTiles, style: ImageStyle, geometry: GridGeometry) -> np.ndarray:
    """The mosaic box as one RGB image: white background, every tile at its box."""
    left0, top0, w, h = geometry.mosaic
    canvas = np.full((h, w, 3), 255, dtype=np.uint8)
    for k in range(len(tiles)):
        left, top, tw, th = geometry.tiles[k]
        canvas[top - top0 : top - top0 + th, left - left0 : left - left0 + tw] = tile_rgb(
            tiles.patches[k], style, geometry.scale
        )
    return canvas


def render_patch_grid(
    tiles: PatchTiles,
    style: ImageStyle,
    provenance: Provenance,
    heading: str,
    options: GridOptions = GridOptions(),
) -> RenderedFigure:
    """An annotated figure of ``tiles`` (auto levels over all tiles unless the style fixes them)."""
    if len(tiles) == 0:
        raise ValueError("no patches to draw")
    style = style.resolved(quantity_of(tiles.patches, style.quantity))
    text = provenance.lines() + [style.describe()] + ([TILE_LEGEND] if options.labels else [])
    draft = grid_geometry(len(tiles), tiles.N, tiles.group_size, options, len(text))
    text = wrap_lines(text, draft.width - 2 * MARGIN)
    geometry = grid_geometry(len(tiles), tiles.N, tiles.group_size, options, len(text))
    layout = PixelLayout(geometry.width, geometry.height, options.dpi)

    layout.image(mosaic_rgb(tiles, style, geometry), geometry.mosaic[0], geometry.mosaic[1])
    if options.labels:
        for k in range(len(tiles)):
            left, top, width, _ = geometry.labels[k]
            first, second = tiles.label(k)
            layout.text(left + width / 2, top + 2, first, SMALL_PX, ha="center")
            layout.text(left + width / 2, top + 2 + SMALL_PX * LINE_SPACING, second, SMALL_PX, ha="center")
    if options.title:
        draw_title_block(layout, MARGIN, geometry.title_top, heading, text)
    if geometry.colorbar is not None:
        draw_colorbar(layout, style, geometry.colorbar)
    if geometry.scale_bar_top is not None:
        length, label = scale_bar_length(tiles.N / 2, provenance.pixel_size_m)
        draw_scale_bar(layout, geometry.mosaic[0], geometry.scale_bar_top, length * geometry.scale, label)

    metadata = {
        "kind": "patch-grid",
        "heading": heading,
        "style": {"quantity": style.quantity, "colormap": style.cmap, "levels": list(style.levels),
                  "per_tile": style.per_tile},
        "scale": geometry.scale,
        "provenance": asdict(provenance),
        "tiles": [
            {
                "group": int(tiles.groups[k]),
                "channel": int(tiles.channels[k]),
                "row": int(tiles.rows[k]),
                "x": float(tiles.positions[k, 0]),
                "y": float(tiles.positions[k, 1]),
                "levels": list(style.tile_levels(quantity_of(tiles.patches[k], style.quantity))),
                "box": [int(v) for v in geometry.tiles[k]],
                "label_box": [int(v) for v in geometry.labels[k]],
            }
            for k in range(len(tiles))
        ],
    }
    return RenderedFigure(figure=layout.figure, dpi=options.dpi, style=style, metadata=metadata)
