"""The shared figure layout: a title block above a body of known height, and a row of image panels with colour bars."""

from __future__ import annotations

import numpy as np

from ptycho_gui.render.annotations import title_block_height
from ptycho_gui.render.figure_layout import FIGURE_MARGIN, ImagePanel, draw_image_row, titled_layout


def test_titled_layout_puts_the_body_below_the_title_block():
    layout, top = titled_layout(800, 300, "Heading", ["one line", "another"], dpi=100)
    assert top == FIGURE_MARGIN + title_block_height(2) + 12
    assert layout.height == top + 300 + FIGURE_MARGIN and layout.width == 800
    assert [t.get_text() for t in layout.figure.texts] == ["Heading", "one line", "another"]
    bare, bare_top = titled_layout(800, 300, "Heading", ["one line"], title=False)
    assert bare_top == FIGURE_MARGIN + 8 and not bare.figure.texts


def test_image_row_draws_each_panel_with_a_colour_bar_unless_it_has_no_levels():
    layout, top = titled_layout(1200, 400, "Row", [])
    rgb = np.zeros((8, 8, 3), dtype=np.uint8)
    axes = draw_image_row(layout, [ImagePanel(rgb, "a", (0.0, 1.0), "viridis", "a units"),
                                   ImagePanel(rgb, "b", None, "viridis", "b units")], top, 400)
    assert [ax.get_title(loc="left") for ax in axes] == ["a", "b"]
    bars = [ax for ax in layout.figure.axes if ax not in axes]
    assert len(bars) == 1 and bars[0].get_ylabel() == "a units"
    assert axes[0].get_position().x1 < bars[0].get_position().x0 < axes[1].get_position().x0
