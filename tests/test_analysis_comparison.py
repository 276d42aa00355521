"""Comparison metrics on known cases: identity, sub-pixel shift, phase offset and ramp, amplitude scale, FRC."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter
from scipy.ndimage import shift as ndimage_shift

from ptycho_gui.analysis.comparison import PSNR_CAP_DB, compare, compare_canvases, compare_with_object
from ptycho_gui.analysis.frc import fourier_ring_correlation
from ptycho_gui.analysis.groups import group_errors, group_residuals, worst_groups
from ptycho_gui.types import Canvas

SIZE = 160


def _object(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    amp = 1.0 + 4.0 * gaussian_filter(rng.normal(size=(SIZE, SIZE)), 3)
    phase = 4.0 * gaussian_filter(rng.normal(size=(SIZE, SIZE)), 3)
    return (np.abs(amp) * np.exp(1j * phase)).astype(np.complex128)


def _weight() -> np.ndarray:
    weight = np.zeros((SIZE, SIZE), dtype=np.float32)
    weight[25:135, 25:135] = 1.0
    return weight


def test_identical_images_score_perfectly():
    obj = _object()
    result = compare(obj, obj, _weight())
    assert result.shift_xy == (0.0, 0.0)
    assert result.amplitude.ssim == pytest.approx(1.0)
    assert result.amplitude.corr == pytest.approx(1.0)
    assert result.amplitude.psnr_db >= 100
    assert result.phase.rmse_rad == pytest.approx(0.0, abs=1e-6)
    assert result.pixels == 110 * 110
    document = json.loads(result.to_json())
    assert set(document) == {"shift_xy", "pixels", "amplitude", "phase", "frc"}
    assert set(document["amplitude"]) == {"scale", "rmse", "psnr_db", "ssim", "corr"}
    assert set(document["phase"]) == {"offset_rad", "ramp_rad_per_px", "rmse_rad", "corr"}
    assert {"frequency", "curve", "half_bit", "resolution_px"} <= set(document["frc"])
    assert document["amplitude"]["psnr_db"] == PSNR_CAP_DB


def test_known_subpixel_shift_is_recovered():
    obj = _object()
    moved = ndimage_shift(obj.real, (-1.4, 2.6), order=3) + 1j * ndimage_shift(obj.imag, (-1.4, 2.6), order=3)
    result = compare(moved, obj, _weight())
    assert result.shift_xy[0] == pytest.approx(-2.6, abs=0.1)
    assert result.shift_xy[1] == pytest.approx(1.4, abs=0.1)
    assert result.amplitude.corr > 0.99


def test_phase_offset_and_ramp_are_removed():
    obj = _object()
    rng = np.random.default_rng(3)
    noisy = obj * np.exp(1j * 0.1 * rng.normal(size=obj.shape))
    rows, cols = np.mgrid[0:SIZE, 0:SIZE]
    tilted = noisy * np.exp(1j * (0.7 + 0.02 * (cols - SIZE // 2) - 0.03 * (rows - SIZE // 2)))
    plain, removed = compare(noisy, obj, _weight()), compare(tilted, obj, _weight())
    assert removed.phase.rmse_rad == pytest.approx(plain.phase.rmse_rad, abs=1e-3)
    assert removed.phase.offset_rad - plain.phase.offset_rad == pytest.approx(0.7, abs=1e-3)
    assert removed.phase.ramp_rad_per_px[0] - plain.phase.ramp_rad_per_px[0] == pytest.approx(0.02, abs=1e-4)
    assert removed.phase.ramp_rad_per_px[1] - plain.phase.ramp_rad_per_px[1] == pytest.approx(-0.03, abs=1e-4)


def test_known_amplitude_scale_is_recovered():
    obj = _object()
    result = compare(1.75 * obj, obj, _weight())
    assert result.amplitude.scale == pytest.approx(1.75, rel=1e-6)
    assert result.amplitude.rmse == pytest.approx(0.0, abs=1e-6)


def test_frc_of_an_image_with_itself_is_one():
    obj = _object()
    frc = fourier_ring_correlation(obj, obj)
    assert np.allclose(frc.curve[np.isfinite(frc.curve)], 1.0)
    assert frc.resolution_px is None


def test_frc_of_unrelated_noise_crosses_early():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(128, 128)), rng.normal(size=(128, 128))
    frc = fourier_ring_correlation(a, b, pixel_size_m=1e-8)
    assert frc.resolution_px is not None and frc.resolution_px > 10
    assert frc.resolution_m == pytest.approx(frc.resolution_px * 1e-8)


def test_error_maps_are_nan_outside_the_mask():
    obj = _object()
    result = compare(obj * 1.1, obj, _weight())
    assert np.isnan(result.amplitude_error[0, 0]) and np.isfinite(result.amplitude_error[80, 80])
    assert result.amplitude_error.shape == obj.shape


def _canvas(image: np.ndarray, center=(100.0, 120.0)) -> Canvas:
    return Canvas(image=image.astype(np.complex64), weight=_weight(), center_xy=center, stitch="position", crop=20)


def test_object_is_placed_in_the_canvas_frame():
    big = np.zeros((300, 300), dtype=np.complex128)
    obj = _object()
    big[120 - SIZE // 2:120 - SIZE // 2 + SIZE, 100 - SIZE // 2:100 - SIZE // 2 + SIZE] = obj
    result = compare_with_object(_canvas(obj), big)
    assert result.shift_xy == (0.0, 0.0)
    assert result.amplitude.corr == pytest.approx(1.0)


def test_a_canvas_against_itself_is_zero_error():
    canvas = _canvas(_object())
    result = compare_canvases(canvas, canvas)
    assert result.amplitude.rmse == pytest.approx(0.0, abs=1e-6)
    assert result.phase.rmse_rad == pytest.approx(0.0, abs=1e-6)


def test_group_scores_and_worst_groups():
    obj = _object()
    damaged = obj.copy()
    damaged[60:80, 90:110] *= 3.0
    canvas = _canvas(damaged)
    result = compare(damaged, obj, _weight())
    positions = np.array([[[100.0, 120.0]], [[120.0, 110.0]], [[90.0, 130.0]]])
    errors = group_errors(result, canvas, positions, crop=20)
    assert worst_groups(errors.amplitude_rmse, 1)[0] == 1
    assert worst_groups(np.array([0.1, np.nan, 0.5]), 5).tolist() == [2, 0]
    assert group_residuals(np.array([[0.1, 0.3], [np.nan, np.nan]])).tolist()[0] == pytest.approx(0.2)


def _holey_weight(period: int = 8) -> np.ndarray:
    """The coverage of a regular scan: full weight, dipping below half its maximum on a grid of 1-px holes."""
    weight = _weight()
    holes = np.zeros_like(weight, dtype=bool)
    holes[29:131:period, 29:131:period] = True
    weight[holes] = 0.4
    return weight


def test_frc_of_independent_noise_over_a_holey_mask_crosses_half_bit():
    """The mask's regular holes are shared by both images; the FRC window must not make them correlate."""
    rng = np.random.default_rng(3)
    shared = _object()
    noise = 0.05 * np.abs(shared).mean()  # the object's detail drowns in this noise beyond ~0.15 cycles/px

    def noisy() -> np.ndarray:
        return shared + noise * (rng.normal(size=shared.shape) + 1j * rng.normal(size=shared.shape))

    result = compare(noisy(), noisy(), _holey_weight())
    assert result.frc.resolution_px is not None and 3.0 < result.frc.resolution_px < 20.0
    assert np.nanmean(result.frc.curve[-10:]) < 0.2


def test_frc_of_identical_images_over_a_holey_mask_never_crosses():
    obj = _object()
    result = compare(obj, obj, _holey_weight())
    assert result.frc.resolution_px is None
    assert np.nanmin(result.frc.curve) > 0.99  # float32 rounding only
