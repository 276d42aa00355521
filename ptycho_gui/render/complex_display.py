"""Displaying a complex image: amplitude, phase (offset removed, optionally unwrapped), real, imaginary, HSV.

The HSV rendering maps phase to hue and amplitude (within its levels) to brightness, so both halves
of a complex object are seen at once; ``phase_wheel`` draws its legend. Phase shown 'auto' has the
global phase offset (angle of the amplitude-weighted sum) removed and robust levels, so a small phase
object (−0.07 rad) is not one flat colour at ±π. Unwrapping is scikit-image's ``unwrap_phase``.
"""

from __future__ import annotations

import math

import numpy as np
from matplotlib.colors import hsv_to_rgb
from skimage.restoration import unwrap_phase

from ptycho_gui.render.colormaps import AUTO_PERCENTILES, PHASE_LEVELS, nonempty_levels

COMPLEX_MODES: tuple[str, ...] = ("amplitude", "phase", "real", "imaginary", "complex (HSV)")
"""How a complex image can be shown; 'complex (HSV)' is an RGB picture (hue = phase, value = amplitude)."""
PHASE_VIEWS: tuple[str, ...] = ("wrapped ±π", "auto (offset removed)", "auto, unwrapped")
"""How a phase view draws phase: raw angle on ±π, or with the global offset removed on robust levels
(the Compare dock's rule), optionally unwrapped."""
PHASE_VIEW_NAMES: dict[str, str] = {"wrapped": PHASE_VIEWS[0], "offset-removed": PHASE_VIEWS[1],
                                    "unwrapped": PHASE_VIEWS[2]}
"""Command-line names of ``PHASE_VIEWS`` (``ptycho-inspect export --phase-view``)."""


def phase_offset(values: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Global phase offset of a complex image: the angle of its (masked) sum, i.e. amplitude-weighted."""
    data = values[mask] if mask is not None else np.ravel(values)
    total = np.sum(data[np.isfinite(data)], dtype=np.complex128)
    return float(np.angle(total)) if total != 0 else 0.0


def remove_phase_offset(values: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """The complex image with its global phase offset removed (complex64)."""
    return (np.asarray(values) * np.complex64(np.exp(-1j * phase_offset(values, mask)))).astype(np.complex64)


def display_phase(values: np.ndarray, mask: np.ndarray | None = None, remove_offset: bool = True,
                  unwrap: bool = False) -> np.ndarray:
    """float32 phase of a complex image: offset removed (optional), unwrapped over ``mask`` (optional)."""
    z = remove_phase_offset(values, mask) if remove_offset else np.asarray(values)
    phase = np.angle(np.nan_to_num(z)).astype(np.float64)
    if unwrap:
        if mask is not None and not mask.all():
            unwrapped = unwrap_phase(np.ma.masked_array(phase, mask=~mask))
            phase = np.where(mask, np.ma.getdata(unwrapped), 0.0)
        else:
            phase = unwrap_phase(phase)
        if mask is None or mask.any():
            phase = phase - np.median(phase[mask] if mask is not None else phase)
    return phase.astype(np.float32)


def phase_view(values: np.ndarray, mask: np.ndarray | None = None,
               how: str = "wrapped ±π") -> tuple[np.ndarray, tuple[float, float]]:
    """(float32 phase as drawn, its automatic levels) for one of ``PHASE_VIEWS``.

    'wrapped ±π' is the raw angle on ±π; the 'auto' views remove the global offset (angle of the masked
    sum, an amplitude-weighted circular mean over ``mask``), unwrap when asked, and take robust levels
    over ``mask``, so a −0.07 rad object on a 2.5 rad offset fills the colour range instead of one flat colour.
    """
    if how not in PHASE_VIEWS:
        raise ValueError(f"unknown phase view {how!r}; choose one of {', '.join(PHASE_VIEWS)}")
    if how == "wrapped ±π":
        return np.angle(np.nan_to_num(np.asarray(values))).astype(np.float32), PHASE_LEVELS
    phase = display_phase(values, mask, remove_offset=True, unwrap=how == "auto, unwrapped")
    return phase, robust_levels(phase, mask)


def robust_levels(values: np.ndarray, mask: np.ndarray | None = None, symmetric: bool = False) -> tuple[float, float]:
    """0.5–99.5 percentile levels of the finite (masked) values; symmetric about 0 when asked."""
    data = np.asarray(values)[mask] if mask is not None else np.ravel(values)
    data = data[np.isfinite(data)]
    if data.size == 0:
        return (0.0, 1.0)
    lo, hi = (float(v) for v in np.percentile(data, AUTO_PERCENTILES))
    if symmetric:
        bound = max(abs(lo), abs(hi), 1e-12)
        return (-bound, bound)
    return nonempty_levels(lo, hi)


def complex_rgb(values: np.ndarray, amplitude_levels: tuple[float, float],
                phase: np.ndarray | None = None) -> np.ndarray:
    """(H, W, 3) uint8: hue = phase (−π…π round the wheel), value = amplitude within its levels, full saturation."""
    z = np.nan_to_num(np.asarray(values))
    angle = np.angle(z) if phase is None else np.asarray(phase)
    lo, hi = amplitude_levels
    value = np.clip((np.abs(z) - lo) / max(hi - lo, 1e-12), 0.0, 1.0)
    hue = np.mod(angle + math.pi, 2 * math.pi) / (2 * math.pi)
    hsv = np.stack([hue, np.ones_like(hue), value], axis=-1)
    return np.rint(hsv_to_rgb(hsv) * 255).astype(np.uint8)


def phase_wheel(size: int = 64) -> np.ndarray:
    """(size, size, 4) uint8 legend of ``complex_rgb``: angle = phase (0 to the right, y up), radius = amplitude."""
    axis = (np.arange(size) - (size - 1) / 2) / ((size - 1) / 2)
    x, y = np.meshgrid(axis, -axis)
    radius = np.hypot(x, y)
    rgb = complex_rgb(np.minimum(radius, 1.0) * np.exp(1j * np.arctan2(y, x)), (0.0, 1.0))
    alpha = np.where(radius <= 1.0, 255, 0).astype(np.uint8)
    return np.concatenate([rgb, alpha[..., None]], axis=-1)


def complex_quantity(values: np.ndarray, mode: str, mask: np.ndarray | None = None,
                     unwrap: bool = False) -> np.ndarray:
    """float32 image of one scalar mode of ``COMPLEX_MODES`` (phase with its offset removed)."""
    if mode == "phase":
        return display_phase(values, mask, remove_offset=True, unwrap=unwrap)
    z = np.nan_to_num(np.asarray(values))
    if mode == "amplitude":
        return np.abs(z).astype(np.float32)
    if mode == "real":
        return np.real(z).astype(np.float32)
    if mode == "imaginary":
        return np.imag(z).astype(np.float32)
    raise ValueError(f"unknown complex mode {mode!r}; choose one of {', '.join(COMPLEX_MODES)}")
