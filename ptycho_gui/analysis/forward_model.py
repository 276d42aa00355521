"""PtychoPINN's amplitude forward model (contract §2.5): object patch × probe → far-field amplitude.

Training-time semantics reproduced here (``ForwardModel.forward``):
1. with ``object_big``, **merge** the C channel patches of a group into one region of size
   ``padded_size`` (each zero-padded, translated by −coords_relative, i.e. content to +(pos_c − centre),
   bilinear with zero fill, combined with per-channel weights: the central N/2 mask (``central_mask``,
   PtychoPINN's default), Σ|P|² (``probe``) or the central mask with another denominator (``uniform``));
2. **extract** each channel again: translate the region by +coords_relative and centre-crop N;
3. **illuminate**: patch × probe / probe_scale;
4. **diffract**: ``A = sqrt(fftshift(|FFT2|²) / N²)``, then ÷ output_scale.
``coords_relative`` of channel c is ``centre − pos_c`` (the group centre is the mean position).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import fft

from ptycho_gui.analysis.registration import apply_shift

WEIGHTINGS: tuple[str, ...] = ("central_mask", "probe", "uniform")
DEFAULT_MAX_NEIGHBOR_DISTANCE = 3.0
"""PtychoPINN's default ``max_neighbor_distance`` (the merged region's margin)."""


def padded_size(N: int, gridsize: int, max_neighbor_distance: float = DEFAULT_MAX_NEIGHBOR_DISTANCE) -> int:
    """PtychoPINN ``get_padded_size``: N + (gridsize − 1)·e, e = ceil(max_neighbor_distance) rounded up to even."""
    margin = int(math.ceil(max_neighbor_distance))
    margin += margin % 2
    return N + (gridsize - 1) * margin


def relative_offsets(positions: np.ndarray) -> np.ndarray:
    """PtychoPINN ``coords_relative`` (B, C, 2) of (B, C, 2) group positions: group mean − position."""
    positions = np.asarray(positions, dtype=np.float64)
    return positions.mean(axis=1, keepdims=True) - positions


def central_mask(N: int) -> np.ndarray:
    """(N, N) float64: 1 in the central N/2 square ``[N/4, 3N/4)``, 0 elsewhere."""
    mask = np.zeros((N, N))
    mask[N // 4 : 3 * N // 4, N // 4 : 3 * N // 4] = 1.0
    return mask


def _pad(image: np.ndarray, size: int) -> np.ndarray:
    """Zero-pad the last two axes to size×size, centred (the extra pixel of an odd margin at the end)."""
    n = image.shape[-1]
    lo = (size - n) // 2
    widths = [(0, 0)] * (image.ndim - 2) + [(lo, size - n - lo)] * 2
    return np.pad(image, widths)


def _translate_each(images: np.ndarray, shifts_xy: np.ndarray) -> np.ndarray:
    """(K, H, W) images each moved by its (x, y) shift (content to +t), bilinear, zero fill."""
    pairs = zip(images, shifts_xy, strict=True)
    return np.stack([apply_shift(image, (float(s[0]), float(s[1]))) for image, s in pairs])


def merge_channels(
    patches: np.ndarray,
    relative: np.ndarray,
    size: int,
    weighting: str = "central_mask",
    probe: np.ndarray | None = None,
) -> np.ndarray:
    """(B, size, size) regions merged from (B, C, N, N) patches at ``relative`` (B, C, 2) offsets (step 1)."""
    if weighting not in WEIGHTINGS:
        raise ValueError(f"unknown patch weighting {weighting!r}; choose one of {', '.join(WEIGHTINGS)}")
    b, c, n, _ = patches.shape
    shifts = -np.asarray(relative, dtype=np.float64).reshape(b * c, 2)
    moved = _translate_each(_pad(patches.reshape(b * c, n, n).astype(np.complex128), size), shifts)
    if weighting == "probe":
        if probe is None:
            raise ValueError("probe weighting needs the probe")
        base = np.abs(np.asarray(probe, dtype=np.complex128)) ** 2
    else:
        base = central_mask(n)
    weights = _translate_each(np.broadcast_to(_pad(base, size), (b * c, size, size)), shifts)
    moved = moved.reshape(b, c, size, size)
    weights = weights.reshape(b, c, size, size)
    numerator = (moved * weights).sum(axis=1)
    total = weights.sum(axis=1)
    if weighting == "central_mask":
        return numerator * (total > 1e-6) / (total + 0.001)
    threshold = 1e-6 * total.max(axis=(-2, -1), keepdims=True) if weighting == "probe" else 1e-6
    return numerator * (total > threshold) / np.maximum(total, 1e-12)


def extract_channels(regions: np.ndarray, relative: np.ndarray, N: int) -> np.ndarray:
    """(B, C, N, N) channel patches cut from (B, S, S) regions at ``relative`` offsets (step 2)."""
    b, size, _ = regions.shape
    c = relative.shape[1]
    shifts = np.asarray(relative, dtype=np.float64).reshape(b * c, 2)
    repeated = np.repeat(regions, c, axis=0)
    moved = _translate_each(repeated, shifts)
    lo = (size - N) // 2
    return moved[:, lo : lo + N, lo : lo + N].reshape(b, c, N, N)


def far_field_amplitude(exit_waves: np.ndarray) -> np.ndarray:
    """``sqrt(fftshift(|FFT2|²) / N²)`` over the last two axes (PtychoPINN ``pad_and_diffract``), float32."""
    n = exit_waves.shape[-1]
    spectrum = fft.fft2(np.asarray(exit_waves, dtype=np.complex64), axes=(-2, -1))
    intensity = fft.fftshift(spectrum.real**2 + spectrum.imag**2, axes=(-2, -1))
    return np.sqrt(intensity / np.float32(n * n)).astype(np.float32)


def object_patches_for_diffraction(
    patches: np.ndarray,
    positions: np.ndarray | None,
    object_big: bool,
    size: int | None = None,
    weighting: str = "central_mask",
    probe: np.ndarray | None = None,
) -> np.ndarray:
    """The per-channel object patches the forward model illuminates: merged and extracted when ``object_big``."""
    patches = np.asarray(patches)
    if not object_big:
        return patches
    if positions is None:
        raise ValueError("object_big merging needs the group positions")
    n = patches.shape[-1]
    relative = relative_offsets(positions)
    size = size or padded_size(n, round(math.sqrt(patches.shape[1])))
    return extract_channels(merge_channels(patches, relative, size, weighting, probe), relative, n)


def predicted_amplitude(
    patches: np.ndarray,
    probe: np.ndarray,
    positions: np.ndarray | None = None,
    object_big: bool = False,
    size: int | None = None,
    weighting: str = "central_mask",
    probe_scale: float = 1.0,
    output_scale: float = 1.0,
) -> np.ndarray:
    """Far-field amplitude (B, C, N, N) float32 of complex (B, C, N, N) patches under ``probe`` (N, N)."""
    objects = object_patches_for_diffraction(patches, positions, object_big, size, weighting, probe)
    exit_waves = objects * (np.asarray(probe, dtype=np.complex64) / np.float32(probe_scale))
    return far_field_amplitude(exit_waves) / np.float32(output_scale)
