"""A rendered figure ready to write: the matplotlib Figure plus what describes it (style, layout, provenance)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from matplotlib.figure import Figure

from ptycho_gui.render.colormaps import ImageStyle


@dataclass
class RenderedFigure:
    """A figure drawn by ``render`` with its DPI, its resolved style (None for plots) and JSON-able metadata.

    ``metadata`` records what a reader needs to reuse the image: the kind of figure, the colormap and
    levels used, provenance and (for patch grids) every tile's pixel box.
    """

    figure: Figure
    dpi: int
    style: ImageStyle | None = None
    metadata: dict = field(default_factory=dict)

    def rgb(self) -> np.ndarray:
        """The figure drawn by Agg as an (H, W, 3) uint8 array: the exact pixels a PNG export holds."""
        canvas = self.figure.canvas
        canvas.draw()
        return np.array(np.asarray(canvas.buffer_rgba())[..., :3])
