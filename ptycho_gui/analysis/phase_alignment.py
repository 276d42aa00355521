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


def _gradient(masked: np.ndarray, axis: int) -> float:
    """Mean wrapped phase step along ``axis`` of a product zeroed outside the mask (amplitude-weighted).

    A pair with a zeroed pixel adds nothing, so only neighbouring masked pixels count.
    """
    if axis == 0:
        total = np.vdot(masked[:-1], masked[1:])
    else:
        total = np.sum(masked[:, 1:] * np.conj(masked[:, :-1]), dtype=np.complex128)
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
    masked = np.where(mask, product, np.complex64(0))
    ramp_x, ramp_y = _gradient(masked, 1), _gradient(masked, 0)
    tilt = PhasePlane(0.0, ramp_x, ramp_y).phasor(a.shape, -1.0)[mask]
    offset = float(np.angle(np.sum(inside * tilt, dtype=np.complex128)))
    basis = _plane_basis(mask)
    weighted = basis * wm
    normal = np.array([[float(np.dot(wu, v)) for v in basis] for wu in weighted])
    d = np.angle(inside)
    params = np.array([offset, ramp_x, ramp_y])
    for _ in range(REFINEMENTS):
        rhs = weighted @ _wrapped_residual(d, params, basis)
        params = params + np.linalg.lstsq(normal, rhs.astype(np.float64), rcond=None)[0]
    residual = np.where(wm > 0, _wrapped_residual(d, params, basis), np.float32(0))
    return PhaseFit(PhasePlane(float(wrap(params[0])), float(params[1]), float(params[2])), residual)


def _plane_basis(mask: np.ndarray) -> np.ndarray:
    """(3, n) float32 rows 1, x, y of the mask pixels, x and y counted from the centre (W//2, H//2)."""
    h, w = mask.shape
    basis = np.empty((3, int(np.count_nonzero(mask))), dtype=np.float32)
    basis[0] = 1
    basis[1] = np.broadcast_to(np.arange(w, dtype=np.float32) - np.float32(w // 2), mask.shape)[mask]
    basis[2] = np.broadcast_to((np.arange(h, dtype=np.float32) - np.float32(h // 2))[:, None], mask.shape)[mask]
    return basis


def _wrapped_residual(d: np.ndarray, params: np.ndarray, basis: np.ndarray) -> np.ndarray:
    """float32 d − (offset + ramp_x·x + ramp_y·y), wrapped into [−π, π] by rounding."""
    residual = d - params.astype(np.float32) @ basis
    residual -= np.float32(2 * np.pi) * np.rint(residual * np.float32(0.5 / np.pi))
    return residual
