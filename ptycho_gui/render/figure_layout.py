"""Page layout shared by the exported figures: the provenance title block above a body of known height
(statistics, comparison and diffraction figures), and a row of image panels each with its colour bar (the
Compare and Diffraction docks' figures)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ptycho_gui.render.annotations import (
    SMALL_PX,
    TEXT_PX,
    PixelLayout,
    draw_level_bar,
    draw_title_block,
    title_block_height,
)
from ptycho_gui.render.patch_grid import wrap_lines

FIGURE_MARGIN = 16
"""Pixels between the figure's edge and its content."""


def titled_layout(width: int, body_px: int, heading: str, lines: list[str], title: bool = True, dpi: int = 100,
                  title_gap: int = 12, untitled_top: int = 8) -> tuple[PixelLayout, int]:
    """A figure ``width`` px wide: the title block (``heading`` and ``lines`` wrapped to the width, when ``title``)
    then ``title_gap`` px, else ``untitled_top`` px, above a body ``body_px`` tall; returns it and the body's top."""
    text = wrap_lines(lines, width - 2 * FIGURE_MARGIN) if title else []
    title_h = title_block_height(len(text)) + title_gap if title else untitled_top
    layout = PixelLayout(width, FIGURE_MARGIN + title_h + body_px + FIGURE_MARGIN, dpi)
    if title:
        draw_title_block(layout, FIGURE_MARGIN, FIGURE_MARGIN, heading, text)
    return layout, FIGURE_MARGIN + title_h


@dataclass(frozen=True)
class ImagePanel:
    """One picture of an image row: its pixels, title and colour bar."""

    rgb: np.ndarray
    """(H, W, 3) uint8 as drawn."""
    title: str
    levels: tuple[float, float] | None
    """Range of the colour bar; None draws none (an RGB rendering such as HSV)."""
    cmap: str
    label: str


def draw_image_row(layout: PixelLayout, panels: Sequence[ImagePanel], top: float, row_px: float):
    """The panels side by side in equal columns across the figure (inside its margins), each with its colour bar
    at the column's right; returns their Axes."""
    column = (layout.width - 2 * FIGURE_MARGIN) / len(panels)
    axes = []
    for k, panel in enumerate(panels):
        left = FIGURE_MARGIN + k * column
        ax = layout.axes(left + 40, top + 28, column - 130, row_px - 70)
        ax.imshow(panel.rgb, interpolation="nearest")
        ax.set_title(panel.title, fontsize=layout.points(TEXT_PX), loc="left")
        ax.tick_params(labelsize=layout.points(SMALL_PX))
        if panel.levels is not None:
            draw_level_bar(layout, (left + column - 80, top + 28, 14, row_px - 70), panel.levels, panel.cmap,
                           panel.label, SMALL_PX)
        axes.append(ax)
    return axes
