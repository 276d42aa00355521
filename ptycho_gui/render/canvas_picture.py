"""The live canvas as a view draws it, kept up to date tile by tile instead of over the whole canvas.

A 50,000-position scan stitches into a canvas of millions of pixels; recomputing its displayed
quantity, uncovered mask and auto levels at every live refresh costs the GUI thread a long turn.
``CanvasPicture`` recomputes the quantity and mask only in the tiles whose revision changed
(``Canvas.tile_revisions``) and takes auto levels from a bounded, regularly decimated sample.
"""

from __future__ import annotations

import math

import numpy as np

from ptycho_gui.engine.stitching import COVERED_WEIGHT, dirty_tile_slices
from ptycho_gui.render.colormaps import LEVEL_SAMPLES, auto_levels, quantity_of
from ptycho_gui.render.complex_display import PHASE_VIEWS, phase_view
from ptycho_gui.types import Canvas


def canvas_quantity(canvas: Canvas, quantity: str, rows: slice = slice(None), cols: slice = slice(None)) -> np.ndarray:
    """The float32 displayed quantity ('weight' or a ``quantity_of`` the image) of (a region of) a canvas.

    Non-finite values become 0; an unknown quantity raises ValueError.
    """
    if quantity == "weight":
        return np.nan_to_num(np.asarray(canvas.weight[rows, cols], dtype=np.float32), nan=0.0, posinf=0.0,
                             neginf=0.0)
    return quantity_of(canvas.image[rows, cols], quantity)


def canvas_phase_view(canvas: Canvas, how: str) -> tuple[np.ndarray, tuple[float, float] | None]:
    """(float32 phase, automatic levels) of a canvas as the canvas view draws it in phase view ``how``.

    'wrapped ±π' is the raw angle with no levels of its own (None: the usual ±π); the other ``PHASE_VIEWS``
    remove the global offset over the pixels any crop reached (weight > 0), unwrap when asked, and take robust
    levels there — computed over the whole canvas, so an export cut to the coverage shows the same numbers.
    """
    if how == PHASE_VIEWS[0]:
        return quantity_of(canvas.image, "phase"), None
    reached = canvas.weight > 0
    return phase_view(canvas.image, reached if reached.any() else None, how)


def uncovered_mask(weight: np.ndarray) -> np.ndarray:
    """uint8 mask, 1 where no crop reached the pixel (weight ≤ COVERED_WEIGHT), 0 elsewhere."""
    return (weight <= COVERED_WEIGHT).view(np.uint8)


def level_stride(shape: tuple[int, int], samples: int = LEVEL_SAMPLES) -> int:
    """Row and column step of the regular grid that samples at most about ``samples`` pixels of an image."""
    return max(1, math.ceil(math.sqrt(shape[0] * shape[1] / samples)))


def canvas_auto_levels(values: np.ndarray, weight: np.ndarray, quantity: str) -> tuple[float, float]:
    """Auto levels of a displayed canvas quantity from a regular grid of at most ~LEVEL_SAMPLES pixels.

    Amplitude, real and imaginary parts: ``auto_levels`` (0.5–99.5 percentiles) of the covered sampled
    pixels (every pixel when the canvas has at most LEVEL_SAMPLES of them); phase: ±π; weight: 0 to
    its maximum. The cost is bounded whatever the canvas size.
    """
    if quantity == "weight":
        return (0.0, max(float(values.max()), 1e-6)) if values.size else (0.0, 1.0)
    step = level_stride(values.shape)
    sample, covered = values[::step, ::step], weight[::step, ::step] > 0
    return auto_levels(sample, quantity, covered if covered.any() else None)


class CanvasPicture:
    """Displayed quantity and uncovered mask of the latest canvas, recomputed only where tiles changed.

    ``values`` and ``uncovered`` are updated in place by ``update``: a caller that keeps them sees
    the next canvas once it is updated.
    """

    def __init__(self) -> None:
        self.values: np.ndarray | None = None
        """(H, W) float32 displayed quantity."""
        self.uncovered: np.ndarray | None = None
        """(H, W) uint8, 1 where the canvas is not covered."""
        self.weight: np.ndarray | None = None
        """The weight map of the canvas last drawn (for levels)."""
        self.quantity: str | None = None
        self._revisions: np.ndarray | None = None

    def update(self, canvas: Canvas, quantity: str) -> np.ndarray:
        """Bring the picture up to ``canvas`` shown as ``quantity``; returns the (rows, cols) tile flags recomputed."""
        revisions = canvas.tile_revisions
        self.weight = canvas.weight
        incremental = (
            revisions is not None and self._revisions is not None and quantity == self.quantity
            and self.values is not None and self.values.shape == canvas.image.shape
            and self._revisions.shape == revisions.shape
        )
        if not incremental:
            self.quantity = quantity
            if revisions is None:
                self.values = canvas_quantity(canvas, quantity)
                self.uncovered = uncovered_mask(canvas.weight)
                self._revisions = None
                return np.ones((1, 1), dtype=bool)
            # Tiles never written (revision 0) are all zero: quantity 0, uncovered; only the others are computed.
            self.values = np.zeros(canvas.image.shape, dtype=np.float32)
            self.uncovered = np.ones(canvas.image.shape, dtype=np.uint8)
            self._revisions = np.zeros_like(revisions)
        changed = revisions != self._revisions
        for rows, cols in dirty_tile_slices(changed, canvas.image.shape):
            self.values[rows, cols] = canvas_quantity(canvas, quantity, rows, cols)
            self.uncovered[rows, cols] = uncovered_mask(canvas.weight[rows, cols])
        self._revisions = revisions.copy()
        return changed if incremental else np.ones(revisions.shape, dtype=bool)

    def auto_levels(self) -> tuple[float, float]:
        """Auto levels of the picture (``canvas_auto_levels``); (0, 1) before the first update."""
        if self.values is None or self.weight is None:
            return (0.0, 1.0)
        return canvas_auto_levels(self.values, self.weight, self.quantity)

    def clear(self) -> None:
        """Forget the picture (the next update computes everything)."""
        self.values = self.uncovered = self.weight = self.quantity = self._revisions = None
