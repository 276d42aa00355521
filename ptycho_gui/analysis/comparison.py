"""Comparing a reconstruction with a reference (ground truth or another reconstruction), in the canvas frame.

Steps, over the *covered* pixels (stitch weight above half its maximum, and inside the reference):
1. register the reconstruction by a sub-pixel translation (``registration``);
2. fit the amplitude scale by least squares, |recon| ≈ scale·|ref|, and divide it out;
3. fit the global phase offset and linear ramp of angle(recon·conj(ref)) and remove them;
4. amplitude RMSE, PSNR (data range of the reference), SSIM (scikit-image, 7×7), Pearson correlation;
   phase RMSE of the wrapped difference and Pearson correlation of the phases;
5. FRC of the complex images (over the bounding box) with the half-bit threshold, under a smooth window
   (``frc_window``): the compared pixels with their enclosed holes filled, tapered to zero at the edge over
   about 2·``FRC_TAPER_PX``. A hard edge or the regular holes of the half-maximum mask would multiply both
   images by one sharp pattern, which correlates at every frequency.

All of it runs on the bounding box of the compared pixels (plus ``CROP_MARGIN_PX``); maps, masks and
the phase plane are reported in the full (canvas) frame, the plane about its centre (W//2, H//2).

Non-finite results (e.g. the correlation of a constant image) are None in JSON. PSNR of identical
images is infinite; it is reported as ``PSNR_CAP_DB`` so the JSON stays strict.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter, label
from skimage.metrics import structural_similarity

from ptycho_gui.analysis.frame import canvas_in_canvas_frame, object_in_canvas_frame
from ptycho_gui.analysis.frc import FrcResult, fourier_ring_correlation
from ptycho_gui.analysis.phase_alignment import PhasePlane, fit_phase_plane, wrap
from ptycho_gui.analysis.registration import apply_shift, register_shift, shift_mask
from ptycho_gui.types import Canvas

COVERED_FRACTION = 0.5
"""A pixel is compared when its stitch weight exceeds this fraction of the maximum weight."""
CROP_MARGIN_PX = 16
"""Work on the compared pixels' bounding box grown by this margin (registration shifts beyond it lose pixels)."""
FRC_TAPER_PX = 3.0
"""Gaussian width (px) of the FRC window's edge: it rises from 0 on the edge to 0.9 about 2 σ inside."""
FRC_TAPER_TRUNCATE = 2.0
"""The taper's kernel reaches 2 σ (6 px): a taper needs no 4 σ tail, and the short kernel halves its cost."""
SSIM_WINDOW = 7
"""SSIM window (scikit-image's default); SSIM runs on the mask's bounding box grown by half a window."""
PSNR_CAP_DB = 1000.0
"""PSNR reported for a zero error (identical images): finite, far above any real comparison."""


@dataclass(frozen=True)
class AmplitudeMetrics:
    """Amplitude agreement after registration and scale removal."""

    scale: float
    """Least-squares factor with |reconstruction| ≈ scale·|reference| (1.75 = reconstruction 1.75× too bright)."""
    rmse: float
    psnr_db: float
    ssim: float
    corr: float


@dataclass(frozen=True)
class PhaseMetrics:
    """Phase agreement after registration and offset/ramp removal (wrapped differences)."""

    offset_rad: float
    """Phase of reconstruction minus reference at the image centre, removed."""
    ramp_rad_per_px: tuple[float, float]
    """(x, y) linear ramp of reconstruction minus reference, removed."""
    rmse_rad: float
    corr: float


@dataclass(frozen=True)
class Comparison:
    """Everything ``compare`` measured, with the images and maps in the reference's (canvas) frame."""

    shift_xy: tuple[float, float]
    """(x, y) sub-pixel shift applied to the reconstruction to register it."""
    pixels: int
    """Number of pixels compared."""
    amplitude: AmplitudeMetrics
    phase: PhaseMetrics
    frc: FrcResult
    mask: np.ndarray
    """(H, W) bool: the pixels compared."""
    aligned: np.ndarray
    """(H, W) complex64: the reconstruction registered, divided by the scale, offset and ramp removed."""
    reference: np.ndarray
    """(H, W) complex64: the reference as compared."""
    amplitude_error: np.ndarray
    """(H, W) float32 |aligned| − |reference|, NaN outside the mask."""
    phase_error: np.ndarray
    """(H, W) float32 wrapped angle(aligned) − angle(reference), NaN outside the mask."""
    pixel_size_m: float | None = None

    def as_dict(self) -> dict:
        """The metrics as plain JSON-able data (the ``ptycho-inspect metrics --json`` object)."""
        return {
            "shift_xy": [_num(self.shift_xy[0]), _num(self.shift_xy[1])],
            "pixels": int(self.pixels),
            "amplitude": {
                "scale": _num(self.amplitude.scale),
                "rmse": _num(self.amplitude.rmse),
                "psnr_db": _num(self.amplitude.psnr_db),
                "ssim": _num(self.amplitude.ssim),
                "corr": _num(self.amplitude.corr),
            },
            "phase": {
                "offset_rad": _num(self.phase.offset_rad),
                "ramp_rad_per_px": [_num(v) for v in self.phase.ramp_rad_per_px],
                "rmse_rad": _num(self.phase.rmse_rad),
                "corr": _num(self.phase.corr),
            },
            "frc": {
                "frequency": [_num(v) for v in self.frc.frequency],
                "curve": [_num(v) for v in self.frc.curve],
                "half_bit": [_num(v) for v in self.frc.half_bit],
                "resolution_px": _num(self.frc.resolution_px),
                "resolution_m": _num(self.frc.resolution_m),
            },
        }

    def to_json(self) -> str:
        """``as_dict`` as strict JSON text (no NaN or Infinity tokens)."""
        return json.dumps(self.as_dict(), allow_nan=False)


def _num(value: float | None) -> float | None:
    """A finite float, or None."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def covered_mask(weight: np.ndarray) -> np.ndarray:
    """Pixels whose weight exceeds half the maximum weight (all False for an all-zero weight)."""
    weight = np.asarray(weight, dtype=np.float64)
    peak = float(np.nanmax(weight)) if weight.size else 0.0
    if not peak > 0:
        return np.zeros(weight.shape, dtype=bool)
    return weight > COVERED_FRACTION * peak


def _valid_and_covered(image: np.ndarray, weight: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """(pixels holding a value: finite with weight > 0, pixels compared: finite and covered by ``weight``)."""
    finite = np.isfinite(image)
    if weight is None:
        return finite, finite
    return finite & (np.asarray(weight) > 0), finite & covered_mask(weight)


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of two 1-D float32 samples (means in float64, centred dot products by BLAS)."""
    if a.size < 2:
        return float("nan")
    a = a - np.float32(a.mean(dtype=np.float64))
    b = b - np.float32(b.mean(dtype=np.float64))
    aa, bb, ab = (float(np.dot(x, y)) for x, y in ((a, a), (b, b), (a, b)))
    denominator = math.sqrt(aa * bb)
    return ab / denominator if denominator > 0 else float("nan")


def _wrap_fast(phase: np.ndarray) -> np.ndarray:
    """float32 phase wrapped into [−π, π] by rounding (cheaper than ``wrap``; ±π ties do not matter to a correlation)."""
    return phase - np.float32(2 * np.pi) * np.rint(phase * np.float32(0.5 / np.pi))


def _ssim(a: np.ndarray, b: np.ndarray, mask: np.ndarray, data_range: float) -> float:
    """Mean SSIM over ``mask``; outside it both images hold the reference, so edges are not penalised."""
    box = _region(mask, SSIM_WINDOW // 2)
    if min(mask[box].shape) < SSIM_WINDOW:
        return float("nan")
    fill_a = np.where(mask[box], a[box], b[box])
    _, ssim_map = structural_similarity(fill_a, b[box], win_size=SSIM_WINDOW, data_range=data_range, full=True)
    return float(ssim_map[mask[box]].mean())


def _region(mask: np.ndarray, margin: int) -> tuple[slice, slice]:
    """The bounding box of ``mask`` grown by ``margin`` pixels (clipped to the image)."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    h, w = mask.shape
    return (slice(max(rows[0] - margin, 0), min(rows[-1] + 1 + margin, h)),
            slice(max(cols[0] - margin, 0), min(cols[-1] + 1 + margin, w)))


def _scatter(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """(H, W) float32 holding ``values`` at the ``mask`` pixels, NaN elsewhere."""
    out = np.full(mask.shape, np.nan, dtype=np.float32)
    out[mask] = values
    return out


def _embed(values: np.ndarray, region: tuple[slice, slice], shape: tuple[int, int], fill) -> np.ndarray:
    """``values`` of ``region`` placed in a full (H, W) array filled with ``fill`` elsewhere."""
    out = np.zeros(shape, dtype=values.dtype) if fill == 0 else np.full(shape, fill, dtype=values.dtype)
    out[region] = values
    return out


def _plane_in_frame(plane: PhasePlane, region: tuple[slice, slice], crop: tuple[int, int],
                    shape: tuple[int, int]) -> PhasePlane:
    """A plane fitted about the crop's centre re-expressed about the full image's centre (W//2, H//2)."""
    dx = shape[1] // 2 - region[1].start - crop[1] // 2
    dy = shape[0] // 2 - region[0].start - crop[0] // 2
    offset = plane.offset + plane.ramp_x * dx + plane.ramp_y * dy
    return PhasePlane(float(wrap(offset)), plane.ramp_x, plane.ramp_y)


def fill_holes(mask: np.ndarray) -> np.ndarray:
    """``mask`` with every hole it encloses filled (background not connected to the border, 4-connected).

    Same result as ``scipy.ndimage.binary_fill_holes``; one labelling pass is about twice as fast.
    """
    labels, count = label(~mask)
    enclosed = np.ones(count + 1, dtype=bool)
    enclosed[0] = False
    enclosed[np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]])] = False
    return mask | enclosed[labels]


def frc_window(mask: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """float32 apodization for the FRC, smooth everywhere the images hold values.

    The region is the compared pixels with their enclosed holes filled (where both images hold values); the
    window is ``(2g − 1)²`` clipped at 0, g the region blurred by ``FRC_TAPER_PX``: 0 on its edge, near 1 about
    2 σ inside, and zero only where an image has no value. The half-maximum mask has small holes on the scan
    grid; a window with holes or a hard edge multiplies both images by one sharp pattern, and their shared
    low-frequency content then correlates up to Nyquist.
    """
    region = fill_holes(mask) & valid
    blurred = gaussian_filter(region.astype(np.float32), FRC_TAPER_PX, truncate=FRC_TAPER_TRUNCATE)
    rise = np.clip(np.float32(2) * blurred - np.float32(1), 0, 1, out=blurred)
    return np.where(valid, rise * rise, np.float32(0))


def _frc_inputs(a: np.ndarray, b: np.ndarray, window: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both images less their window-weighted mean, under the window."""
    total = float(window.sum(dtype=np.float64))

    def centred(image: np.ndarray) -> np.ndarray:
        weighted = image * window
        if not total > 0:
            return weighted
        return weighted - np.complex64(weighted.sum(dtype=np.complex128) / total) * window

    return centred(a), centred(b)


def compare(
    reconstruction: np.ndarray,
    reference: np.ndarray,
    weight: np.ndarray | None = None,
    reference_weight: np.ndarray | None = None,
    pixel_size_m: float | None = None,
) -> Comparison:
    """Register, align and score a complex (H, W) reconstruction against a reference of the same shape.

    ``weight`` is the reconstruction's stitch weight (None: every pixel counts); ``reference_weight`` the
    reference's (another reconstruction's weight, or a 0/1 validity map); both use the half-maximum rule.
    """
    recon = np.asarray(reconstruction).astype(np.complex64, copy=False)
    ref = np.asarray(reference).astype(np.complex64, copy=False)
    if recon.shape != ref.shape or recon.ndim != 2:
        raise ValueError(f"reconstruction {recon.shape} and reference {ref.shape} must be one 2-D shape")
    recon_valid, recon_mask = _valid_and_covered(recon, weight)
    ref_valid, ref_mask = _valid_and_covered(ref, reference_weight)
    if not (recon_mask & ref_mask).any():
        raise ValueError("the reconstruction and the reference share no covered pixel")
    full_shape = recon.shape
    region = _region(recon_mask & ref_mask, CROP_MARGIN_PX)
    recon_mask, ref_mask, recon_valid, ref_valid = (m[region] for m in (recon_mask, ref_mask, recon_valid, ref_valid))
    recon = np.where(recon_valid, recon[region], np.complex64(0))
    ref = np.where(ref_valid, ref[region], np.complex64(0))

    shift_xy = register_shift(recon, ref, recon_mask & ref_mask, ref_mask)
    moved = apply_shift(recon, shift_xy)
    mask = shift_mask(recon_mask, shift_xy) & ref_mask
    if not mask.any():
        raise ValueError(f"no covered pixel left after registering by {shift_xy}")

    amp_ref = np.abs(ref)
    amp_ref_in = amp_ref[mask]
    a, b = np.abs(moved[mask]).astype(np.float64), amp_ref_in.astype(np.float64)
    ref_energy = float(np.dot(b, b))
    scale = float(np.dot(a, b)) / ref_energy if ref_energy > 0 else float("nan")
    divisor = scale if math.isfinite(scale) and scale != 0 else 1.0
    phase_fit = fit_phase_plane(moved, ref, mask)
    aligned = moved * (phase_fit.plane.phasor(moved.shape, -1.0) / np.float32(divisor))

    amp_aligned = np.abs(aligned)
    amp_aligned_in = amp_aligned[mask]
    amp_diff = amp_aligned_in - amp_ref_in
    rmse = math.sqrt(float(np.mean(amp_diff.astype(np.float64) ** 2)))
    data_range = float(b.max() - b.min())
    range_for_ssim = data_range if data_range > 0 else 1.0
    psnr = PSNR_CAP_DB if rmse == 0 else min(PSNR_CAP_DB, 20 * math.log10(range_for_ssim / rmse))
    phase_diff = phase_fit.residual
    phase_ref = np.angle(ref[mask])

    valid = shift_mask(recon_valid, shift_xy) & ref_valid
    frc = fourier_ring_correlation(*_frc_inputs(aligned, ref, frc_window(mask, valid)), pixel_size_m)
    plane = _plane_in_frame(phase_fit.plane, region, moved.shape, full_shape)
    return Comparison(
        shift_xy=shift_xy,
        pixels=int(mask.sum()),
        amplitude=AmplitudeMetrics(
            scale=scale,
            rmse=rmse,
            psnr_db=psnr,
            ssim=_ssim(amp_aligned, amp_ref, mask, range_for_ssim),
            corr=_pearson(amp_aligned_in, amp_ref_in),
        ),
        phase=PhaseMetrics(
            offset_rad=plane.offset,
            ramp_rad_per_px=(plane.ramp_x, plane.ramp_y),
            rmse_rad=math.sqrt(float(np.mean(phase_diff.astype(np.float64) ** 2))),
            corr=_pearson(_wrap_fast(phase_ref + phase_diff), phase_ref),
        ),
        frc=frc,
        mask=_embed(mask, region, full_shape, False),
        aligned=_embed(aligned.astype(np.complex64), region, full_shape, 0),
        reference=_embed(ref.astype(np.complex64), region, full_shape, 0),
        amplitude_error=_embed(_scatter(amp_diff, mask), region, full_shape, np.nan),
        phase_error=_embed(_scatter(phase_diff, mask), region, full_shape, np.nan),
        pixel_size_m=pixel_size_m,
    )


def compare_with_object(canvas: Canvas, obj: np.ndarray, pixel_size_m: float | None = None) -> Comparison:
    """A canvas against a true object (``objectGuess``) resampled into the canvas frame."""
    reference, inside = object_in_canvas_frame(obj, canvas)
    return compare(canvas.image, reference, canvas.weight, inside.astype(np.float32), pixel_size_m)


def compare_canvases(canvas: Canvas, other: Canvas, pixel_size_m: float | None = None) -> Comparison:
    """A canvas against another reconstruction's canvas (A/B), the other resampled into this frame."""
    reference, reference_weight = canvas_in_canvas_frame(other, canvas)
    return compare(canvas.image, reference, canvas.weight, reference_weight, pixel_size_m)


__all__ = ["AmplitudeMetrics", "Comparison", "PhaseMetrics", "PhasePlane", "compare", "compare_canvases",
           "compare_with_object", "covered_mask", "fill_holes", "frc_window"]
