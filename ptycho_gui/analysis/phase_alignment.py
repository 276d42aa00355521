"""Fitting the global phase offset and linear phase ramp between two complex images.

The phase difference d = angle(a · conj(b)) is wrapped, so the fit starts from the mean wrapped phase
gradient (the angle of Σ p[+1]·conj(p) of the products p = a·conj(b), which tolerates any ramp below π/px), takes the offset as the
angle of the ramp-free sum, then refines offset and ramp by weighted least squares on the wrapped
residual. Coordinates are pixels from the image centre (W//2, H//2), so the offset is the phase
difference at the centre.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

REFINEMENTS = 2


@dataclass(frozen=True)
class PhasePlane:
    """offset + ramp_x·(col − W//2) + ramp_y·(row − H//2), in radians."""

    offset: float
    ramp_x: float
    ramp_y: float

    def phasor(self, shape: tuple[int, int], sign: float = 1.0) -> np.ndarray:
        """exp(i·sign·plane) on an (H, W) grid as complex64, built from one row and one column."""
        h, w = shape
        column = np.exp(1j * sign * (self.offset + self.ramp_y * (np.arange(h) - h // 2)))
        row = np.exp(1j * sign * self.ramp_x * (np.arange(w) - w // 2))
        return np.outer(column.astype(np.complex64), row.astype(np.complex64))


def wrap(phase: np.ndarray) -> np.ndarray:
    """Phase wrapped into (−π, π]."""
    return np.pi - np.remainder(np.pi - np.asarray(phase), 2 * np.pi)


def _gradient(product: np.ndarray, mask: np.ndarray, axis: int) -> float:
    """Mean wrapped phase step along ``axis`` between neighbouring masked pixels (amplitude-weighted)."""
    lead = [slice(None), slice(None)]
    trail = [slice(None), slice(None)]
    lead[axis], trail[axis] = slice(1, None), slice(None, -1)
    pair = mask[tuple(lead)] & mask[tuple(trail)]
    total = np.sum(product[tuple(lead)][pair] * np.conj(product[tuple(trail)][pair]), dtype=np.complex128)
    return float(np.angle(total)) if total != 0 else 0.0


@dataclass(frozen=True)
class PhaseFit:
    """A fitted plane and what it leaves of the phase difference."""

    plane: PhasePlane
    residual: np.ndarray
    """float32 wrapped angle(a · conj(b)) − plane at the mask pixels (0 where a · conj(b) = 0)."""


def fit_phase_plane(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> PhaseFit:
    """The plane that best explains angle(a · conj(b)) over ``mask``, weighted by |a|·|b|, and its residual.

    The residual equals angle(a · exp(−i·plane) · conj(b)) without a second arctangent over the pixels.
    """
    product = (a * np.conj(b)).astype(np.complex64, copy=False)
    inside = product[mask]
    wm = np.abs(inside)
    if not wm.any():
        return PhaseFit(PhasePlane(0.0, 0.0, 0.0), np.zeros(inside.shape, dtype=np.float32))
    ramp_x, ramp_y = _gradient(product, mask, 1), _gradient(product, mask, 0)
    tilt = PhasePlane(0.0, ramp_x, ramp_y).phasor(a.shape, -1.0)[mask]
    offset = float(np.angle(np.sum(inside * tilt, dtype=np.complex128)))
    h, w = a.shape
    rows, cols = np.nonzero(mask)
    x = (cols - w // 2).astype(np.float32)
    y = (rows - h // 2).astype(np.float32)
    d = np.angle(inside)
    columns = (None, x, y)
    weighted = (wm, wm * x, wm * y)
    normal = np.array([[float(np.sum(wu if v is None else wu * v, dtype=np.float64)) for v in columns]
                       for wu in weighted])
    params = np.array([offset, ramp_x, ramp_y])
    for _ in range(REFINEMENTS):
        rhs = np.array([float(np.dot(wu, _wrapped_residual(d, params, x, y))) for wu in weighted])
        params = params + np.linalg.lstsq(normal, rhs, rcond=None)[0]
    residual = np.where(wm > 0, _wrapped_residual(d, params, x, y), np.float32(0))
    return PhaseFit(PhasePlane(float(wrap(params[0])), float(params[1]), float(params[2])), residual)


def _wrapped_residual(d: np.ndarray, params: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """float32 d − (offset + ramp_x·x + ramp_y·y), wrapped into [−π, π] by rounding."""
    residual = d - (np.float32(params[0]) + np.float32(params[1]) * x + np.float32(params[2]) * y)
    residual -= np.float32(2 * np.pi) * np.rint(residual * np.float32(0.5 / np.pi))
    return residual
