"""Fitting the global phase offset and linear phase ramp between two complex images.

The phase difference d = angle(a · conj(b)) is wrapped, so the fit starts from the mean wrapped phase
gradient (the angle of Σ z[+1]·conj(z), which tolerates any ramp below π/px), takes the offset as the
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

    def evaluate(self, shape: tuple[int, int]) -> np.ndarray:
        """The plane on an (H, W) grid."""
        h, w = shape
        rows, cols = np.mgrid[0:h, 0:w].astype(np.float64)
        return self.offset + self.ramp_x * (cols - w // 2) + self.ramp_y * (rows - h // 2)


def wrap(phase: np.ndarray) -> np.ndarray:
    """Phase wrapped into (−π, π]."""
    return np.pi - np.remainder(np.pi - np.asarray(phase), 2 * np.pi)


def _gradient(z: np.ndarray, mask: np.ndarray, axis: int) -> float:
    """Mean wrapped phase step along ``axis`` between neighbouring masked pixels."""
    lead = [slice(None), slice(None)]
    trail = [slice(None), slice(None)]
    lead[axis], trail[axis] = slice(1, None), slice(None, -1)
    pair = mask[tuple(lead)] & mask[tuple(trail)]
    total = np.sum((z[tuple(lead)] * np.conj(z[tuple(trail)]))[pair])
    return float(np.angle(total)) if total != 0 else 0.0


def fit_phase_plane(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> PhasePlane:
    """The plane that best explains angle(a · conj(b)) over ``mask``, weighted by |a|·|b|."""
    product = (a * np.conj(b)).astype(np.complex64)
    weight = np.abs(product)
    z = product / np.where(weight > 0, weight, 1.0)
    if not mask.any() or not weight[mask].any():
        return PhasePlane(0.0, 0.0, 0.0)
    h, w = a.shape
    rows, cols = np.nonzero(mask)
    x = cols - w // 2
    y = rows - h // 2
    ramp_x, ramp_y = _gradient(z, mask, 1), _gradient(z, mask, 0)
    offset = float(np.angle(np.sum(weight[mask] * z[mask] * np.exp(-1j * (ramp_x * x + ramp_y * y)))))
    d = np.angle(z[mask])
    wm = weight[mask]
    x = x.astype(np.float64)
    y = y.astype(np.float64)
    columns = (np.ones_like(x), x, y)
    normal = np.array([[np.dot(wm * u, v) for v in columns] for u in columns])
    params = np.array([offset, ramp_x, ramp_y])
    for _ in range(REFINEMENTS):
        residual = wrap(d - (params[0] + params[1] * x + params[2] * y))
        step = np.linalg.lstsq(normal, np.array([np.dot(wm * u, residual) for u in columns]), rcond=None)[0]
        params = params + step
    return PhasePlane(float(wrap(params[0])), float(params[1]), float(params[2]))
