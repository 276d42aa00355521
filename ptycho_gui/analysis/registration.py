"""Sub-pixel registration of a reconstruction onto a reference (scikit-image ``phase_cross_correlation``).

Each amplitude is reduced to its own valid pixels with the mean removed (zero elsewhere), then zero-padded
to a fast FFT size (the padding only adds zeros to images that are already zero outside their masks). The returned ``(x, y)`` shift is the one
to *apply* to the reconstruction: a reconstruction displaced by d relative to the reference gives −d.
"""

from __future__ import annotations

import numpy as np
from scipy import fft
from skimage.registration import phase_cross_correlation

UPSAMPLE = 20
"""Registration precision 1/UPSAMPLE px (0.05 px)."""


def _centered(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """float32 ``values`` less their mean over ``mask``, zero outside it."""
    out = np.zeros(values.shape, dtype=np.float32)
    if mask.any():
        inside = values[mask]
        out[mask] = inside - np.float32(inside.mean(dtype=np.float64))
    return out


def fast_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    """Each axis grown to the next length scipy's FFT handles fast (e.g. 932 = 4·233 → 945)."""
    return tuple(fft.next_fast_len(int(n)) for n in shape)


def register_shift(
    moving: np.ndarray, reference: np.ndarray, moving_mask: np.ndarray, reference_mask: np.ndarray
) -> tuple[float, float]:
    """(x, y) shift to apply to ``moving`` so its amplitude lines up with ``reference``, each over its own mask.

    Each image keeps its own valid region, so a reference wider than the reconstruction's coverage
    registers without the bias towards zero shift that one shared window would add.
    """
    ref = _centered(np.abs(reference), reference_mask)
    mov = _centered(np.abs(moving), moving_mask)
    if not ref.any() or not mov.any():
        return 0.0, 0.0
    padded = fast_shape(ref.shape)
    spectra = fft.fft2(ref, s=padded), fft.fft2(mov, s=padded)
    shift, _, _ = phase_cross_correlation(*spectra, upsample_factor=UPSAMPLE, space="fourier", normalization=None)
    return float(shift[1]), float(shift[0])


def _integer_shift(image: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """``image`` moved by whole pixels (rows dy, columns dx), zero fill."""
    out = np.zeros_like(image)
    h, w = image.shape
    if abs(dy) >= h or abs(dx) >= w:
        return out
    out[max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = image[max(-dy, 0):h - max(dy, 0),
                                                                      max(-dx, 0):w - max(dx, 0)]
    return out


def apply_shift(image: np.ndarray, shift_xy: tuple[float, float]) -> np.ndarray:
    """``image`` moved by (x, y) pixels: content at (r, c) goes to (r + y, c + x); bilinear, zero outside."""
    image = np.asarray(image)
    if shift_xy == (0.0, 0.0):
        return np.array(image, copy=True)
    ix, iy = int(np.floor(shift_xy[0])), int(np.floor(shift_xy[1]))
    fx, fy = shift_xy[0] - ix, shift_xy[1] - iy
    out = np.zeros_like(image, dtype=np.result_type(image.dtype, np.float32))
    for dy, wy in ((iy, 1.0 - fy), (iy + 1, fy)):
        for dx, wx in ((ix, 1.0 - fx), (ix + 1, fx)):
            if wy * wx > 0:
                out += np.float32(wy * wx) * _integer_shift(image, dy, dx)
    return out


def shift_mask(mask: np.ndarray, shift_xy: tuple[float, float]) -> np.ndarray:
    """Pixels whose every bilinear source pixel was in ``mask`` after moving it by (x, y)."""
    if shift_xy == (0.0, 0.0):
        return mask.copy()
    return apply_shift(mask.astype(np.float32), shift_xy) > 1.0 - 1e-5
