"""Fourier ring correlation of two complex images with the half-bit threshold (van Heel & Schatz 2005).

The images are zero-padded to a fast FFT size (H', W'); rings are one frequency step 1/L wide
(L = min(H', W')), from 0 up to Nyquist (0.5 cycles/px).
FRC(k) = |Σ F1·F2*| / sqrt(Σ|F1|²·Σ|F2|²) over the ring; the half-bit threshold for a ring of n
pixels is (0.2071 + 1.9102/√n) / (1.2071 + 0.9102/√n). The resolution is the period 1/f (pixels) at the
first crossing below the threshold after the DC ring, linearly interpolated; None when it never crosses
(the images agree up to Nyquist, i.e. better than 2 px).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import fft


@dataclass(frozen=True)
class FrcResult:
    """An FRC curve, its half-bit threshold and where they cross."""

    frequency: np.ndarray
    """(K,) ring frequencies in cycles per pixel."""
    curve: np.ndarray
    """(K,) FRC values (NaN for an empty or zero ring)."""
    half_bit: np.ndarray
    """(K,) half-bit threshold per ring."""
    ring_pixels: np.ndarray
    """(K,) pixels per ring."""
    resolution_px: float | None
    """Period (pixels) at the crossing; None when the curve never falls below the threshold."""
    resolution_m: float | None = None
    """``resolution_px`` × pixel size, when a pixel size is known."""


def half_bit_threshold(ring_pixels: np.ndarray) -> np.ndarray:
    """The half-bit information threshold for rings of ``ring_pixels`` pixels."""
    root = np.sqrt(np.maximum(np.asarray(ring_pixels, dtype=np.float64), 1.0))
    return (0.2071 + 1.9102 / root) / (1.2071 + 0.9102 / root)


def _crossing(frequency: np.ndarray, curve: np.ndarray, threshold: np.ndarray) -> float | None:
    """Frequency where ``curve`` first falls below ``threshold`` after ring 0 (linear interpolation)."""
    gap = curve - threshold
    for k in range(1, len(gap)):
        if np.isfinite(gap[k]) and gap[k] < 0:
            before = gap[k - 1]
            if k == 1 or not np.isfinite(before) or before <= 0:
                return float(frequency[k])
            t = before / (before - gap[k])
            return float(frequency[k - 1] + t * (frequency[k] - frequency[k - 1]))
    return None


@lru_cache(maxsize=4)
def _rings(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """(ring index of every pixel of an (h, w) FFT, flattened; pixels per ring up to Nyquist), kept per shape.

    Frequencies past Nyquist (the corners) get one extra index, left out of the counts and the sums.
    """
    size = min(h, w)
    n_rings = size // 2 + 1
    fy = np.fft.fftfreq(h).astype(np.float32)[:, None]
    fx = np.fft.fftfreq(w).astype(np.float32)[None, :]
    ring = np.minimum(np.rint(np.sqrt(fx * fx + fy * fy) * size).astype(np.int64), n_rings).ravel()
    counts = np.bincount(ring, minlength=n_rings + 1)[:n_rings]
    ring.flags.writeable = counts.flags.writeable = False
    return ring, counts


def fourier_ring_correlation(a: np.ndarray, b: np.ndarray, pixel_size_m: float | None = None) -> FrcResult:
    """FRC of two equally shaped (complex or real) images."""
    if a.shape != b.shape or a.ndim != 2:
        raise ValueError(f"FRC needs two images of one 2-D shape, got {a.shape} and {b.shape}")
    h, w = (fft.next_fast_len(int(n)) for n in a.shape)
    size = min(h, w)
    fa = fft.fft2(np.asarray(a, dtype=np.complex64), s=(h, w))
    fb = fft.fft2(np.asarray(b, dtype=np.complex64), s=(h, w))
    ring, counts = _rings(h, w)
    n_rings = len(counts)
    bins = n_rings + 1
    cross = (fa * np.conj(fb)).ravel()
    num_re = np.bincount(ring, cross.real, bins)[:n_rings]
    num_im = np.bincount(ring, cross.imag, bins)[:n_rings]
    pa = np.bincount(ring, (fa.real**2 + fa.imag**2).ravel(), bins)[:n_rings]
    pb = np.bincount(ring, (fb.real**2 + fb.imag**2).ravel(), bins)[:n_rings]
    with np.errstate(invalid="ignore", divide="ignore"):
        curve = np.hypot(num_re, num_im) / np.sqrt(pa * pb)
    frequency = np.arange(n_rings) / size
    threshold = half_bit_threshold(counts)
    crossing = _crossing(frequency, curve, threshold)
    resolution = None if crossing is None or crossing <= 0 else 1.0 / crossing
    resolution_m = None if resolution is None or pixel_size_m is None else resolution * pixel_size_m
    return FrcResult(frequency, curve, threshold, counts.copy(), resolution, resolution_m)
