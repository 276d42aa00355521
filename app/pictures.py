"""Pure picture building: the exact arrays the patch grid, canvas and ground-truth views draw (and exports reuse).

Each function reads its inputs and a style and returns a new picture with the levels it used; none
stores anything, so asking for a picture never changes what another reader sees.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ptycho_gui.app.display import MosaicLayout, build_mosaic, normalize_per_tile, quantity_of
from ptycho_gui.app.view_styles import CanvasDisplay, PatchDisplay
from ptycho_gui.render.canvas_picture import CanvasPicture, canvas_phase_view
from ptycho_gui.render.colormaps import auto_levels
from ptycho_gui.render.complex_display import PHASE_VIEWS, phase_view
from ptycho_gui.types import BatchResult, Canvas


@dataclass
class MosaicImage:
    """The patch grid's picture of one batch: display image, raw values for readout, geometry, levels."""

    batch: BatchResult
    quantity: str
    values: np.ndarray
    """(B, C, N, N) float32 displayed quantity before any per-tile normalization."""
    image: np.ndarray
    """(H, W) float32 mosaic actually drawn (per-tile normalized in 'per patch' mode)."""
    layout: MosaicLayout
    levels: tuple[float, float]


@dataclass
class ObjectImage:
    """An image placed in object-pixel coordinates: ``rect`` = (x0, y0, width, height) of its pixel edges."""

    image: np.ndarray
    levels: tuple[float, float]
    rect: tuple[float, float, float, float]
    quantity: str


def canvas_rect(canvas: Canvas) -> tuple[float, float, float, float]:
    """Pixel-edge rectangle of a canvas in display coordinates (object pixels when not mirrored)."""
    h, w = canvas.image.shape
    return (canvas.center_xy[0] - w // 2 - 0.5, canvas.center_xy[1] - h // 2 - 0.5, float(w), float(h))


def canvas_display_xy(canvas: Canvas, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where object point (x, y) is drawn in the canvas view (its place in the canvas's own layout)."""
    col, row = canvas.object_to_canvas(x, y)
    h, w = canvas.image.shape
    return col - w // 2 + canvas.center_xy[0], row - h // 2 + canvas.center_xy[1]


def canvas_object_xy(canvas: Canvas, dx: float, dy: float) -> tuple[float, float]:
    """The object point drawn at display point (dx, dy) of the canvas view (inverse of canvas_display_xy)."""
    if canvas.mirrored:
        return 2 * canvas.center_xy[0] - dx, 2 * canvas.center_xy[1] - dy
    return dx, dy


def mosaic_picture(batch: BatchResult, raw: np.ndarray, style: PatchDisplay) -> MosaicImage:
    """The patch grid's picture of ``batch``; ``raw`` is its patches, or its inputs for 'input (log)'."""
    values = quantity_of(raw, style.quantity)
    b, c, n, _ = values.shape
    layout = MosaicLayout.for_batch(b, c, n)
    if style.levels_mode == "per patch":
        tiles, levels = normalize_per_tile(values), (0.0, 1.0)
    elif style.locked_levels is not None:
        tiles, levels = values, style.locked_levels
    else:
        tiles, levels = values, auto_levels(values, style.quantity)
    return MosaicImage(batch, style.quantity, values, build_mosaic(tiles, layout, levels[0]), layout, levels)


def canvas_picture(canvas: Canvas, style: CanvasDisplay, cache: CanvasPicture | None = None) -> ObjectImage:
    """The stitched canvas in the style's quantity (weight: the stitching weights), with its levels.

    ``cache`` (the caller's ``CanvasPicture``) recomputes only the tiles that changed since its last update;
    the returned image is then its live array. Phase with its offset removed is computed over the whole canvas.
    """
    if style.quantity == "phase" and style.phase_view != PHASE_VIEWS[0]:
        image, auto = canvas_phase_view(canvas, style.phase_view)
        return ObjectImage(image, style.locked_levels or auto, canvas_rect(canvas), style.quantity)
    picture = cache if cache is not None else CanvasPicture()
    picture.update(canvas, style.quantity)
    return ObjectImage(picture.values, style.locked_levels or picture.auto_levels(), canvas_rect(canvas), style.quantity)


def truth_picture(object_guess: np.ndarray, style: CanvasDisplay, levels: tuple[float, float] | None) -> ObjectImage:
    """A dataset's objectGuess in the canvas quantity (weight shows amplitude); ``levels`` None: automatic."""
    quantity = "amplitude" if style.quantity == "weight" else style.quantity
    if quantity == "phase":
        image, auto = phase_view(object_guess, None, style.phase_view)
    else:
        image = quantity_of(object_guess, quantity)
        auto = auto_levels(image, quantity)
    h, w = image.shape
    return ObjectImage(image, levels or auto, (-0.5, -0.5, float(w), float(h)), quantity)
