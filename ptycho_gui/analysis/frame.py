"""Putting a reference image (a dataset's ``objectGuess`` or another canvas) into a canvas's frame.

A canvas pixel (row, col) depicts object point ``x = cx + s·(col − W//2)``, ``y = cy + s·(row − H//2)``
(``s = −1`` for the mirrored CLI replica). An object array's pixel (row, col) is object point (x=col, y=row);
another canvas maps object points through its own frame. Samples are bilinear; points outside the
reference are 0 and reported as not valid.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import map_coordinates

from ptycho_gui.types import Canvas


def canvas_object_points(canvas: Canvas) -> tuple[np.ndarray, np.ndarray]:
    """Object (x, y) of every canvas pixel, each (H, W) float64."""
    h, w = canvas.image.shape
    sign = -1.0 if canvas.mirrored else 1.0
    rows, cols = np.mgrid[0:h, 0:w].astype(np.float64)
    return canvas.center_xy[0] + sign * (cols - w // 2), canvas.center_xy[1] + sign * (rows - h // 2)


def _sample(image: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bilinear samples of a (H, W) array at fractional (rows, cols) and where they fall inside it."""
    coords = np.stack([rows.ravel(), cols.ravel()])
    h, w = image.shape
    inside = ((rows >= 0) & (rows <= h - 1) & (cols >= 0) & (cols <= w - 1))
    if np.iscomplexobj(image):
        real = map_coordinates(image.real.astype(np.float64), coords, order=1, mode="constant", cval=0.0)
        imag = map_coordinates(image.imag.astype(np.float64), coords, order=1, mode="constant", cval=0.0)
        values = real + 1j * imag
    else:
        values = map_coordinates(image.astype(np.float64), coords, order=1, mode="constant", cval=0.0)
    return values.reshape(rows.shape), inside


def object_in_canvas_frame(obj: np.ndarray, canvas: Canvas) -> tuple[np.ndarray, np.ndarray]:
    """(complex64 (H, W) object resampled on the canvas grid, bool (H, W) where it was inside the object)."""
    x, y = canvas_object_points(canvas)
    values, inside = _sample(np.asarray(obj), y, x)
    return values.astype(np.complex64), inside


def canvas_in_canvas_frame(other: Canvas, canvas: Canvas) -> tuple[np.ndarray, np.ndarray]:
    """(another canvas's image and its weight, both resampled into ``canvas``'s frame); weight 0 outside it."""
    x, y = canvas_object_points(canvas)
    h, w = other.image.shape
    sign = -1.0 if other.mirrored else 1.0
    cols = w // 2 + sign * (x - other.center_xy[0])
    rows = h // 2 + sign * (y - other.center_xy[1])
    values, inside = _sample(np.asarray(other.image), rows, cols)
    weight, _ = _sample(np.asarray(other.weight, dtype=np.float64), rows, cols)
    return values.astype(np.complex64), np.where(inside, weight, 0.0).astype(np.float32)
