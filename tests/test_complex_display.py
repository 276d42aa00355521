"""Complex display (HSV rendering, phase wheel, offset removal, unwrapping) and ROI statistics (core, no Qt)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ptycho_gui.analysis.region import region_stats
from ptycho_gui.render.complex_display import (
    COMPLEX_MODES,
    complex_quantity,
    complex_rgb,
    display_phase,
    phase_offset,
    phase_view,
    phase_wheel,
    robust_levels,
)


def test_offset_removal_gives_a_small_phase_object_its_own_range():
    rng = np.random.default_rng(0)
    phase = -0.07 + 0.02 * rng.standard_normal((64, 64))
    z = (1 + rng.random((64, 64))) * np.exp(1j * (phase + 2.5))
    shown = complex_quantity(z, "phase")
    assert abs(float(np.mean(shown))) < 0.01
    lo, hi = robust_levels(shown)
    assert hi - lo < 0.2
    assert phase_offset(z) == pytest.approx(2.5 - 0.07, abs=0.01)


def test_phase_view_removes_the_circular_mean_over_the_mask_and_keeps_wrapped_on_pi():
    rng = np.random.default_rng(3)
    phase = -0.07 + 0.03 * rng.standard_normal((48, 48))
    z = np.exp(1j * (phase + 2.5)).astype(np.complex64)
    mask = np.zeros(z.shape, dtype=bool)
    mask[8:40, 8:40] = True
    z[~mask] = np.exp(-2.0j)
    raw, raw_levels = phase_view(z, mask, "wrapped ±π")
    np.testing.assert_allclose(raw, np.angle(z), atol=1e-6)
    assert raw_levels == (-math.pi, math.pi)
    shown, levels = phase_view(z, mask, "auto (offset removed)")
    assert abs(np.angle(np.mean(np.exp(1j * shown[mask])))) < 1e-3
    np.testing.assert_allclose(shown[mask], phase[mask] - phase[mask].mean(), atol=2e-3)
    assert levels[1] - levels[0] < 0.3 and levels[0] < 0 < levels[1]
    ramp = np.linspace(0, 12, 48)[None, :] * np.ones((48, 1))
    unwrapped, span = phase_view(np.exp(1j * ramp), None, "auto, unwrapped")
    np.testing.assert_allclose(np.diff(unwrapped, axis=1), np.diff(ramp, axis=1), atol=1e-4)
    assert span[1] - span[0] > 10
    with pytest.raises(ValueError, match="unknown phase view"):
        phase_view(z, mask, "sideways")


def test_unwrapping_recovers_a_steep_ramp_inside_a_mask():
    ramp = np.linspace(0, 20, 80)[None, :] * np.ones((60, 1))
    mask = np.ones(ramp.shape, dtype=bool)
    mask[:8] = False
    unwrapped = display_phase(np.exp(1j * ramp), mask, remove_offset=False, unwrap=True)
    np.testing.assert_allclose(np.diff(unwrapped[mask].reshape(52, 80), axis=1), np.diff(ramp[8:], axis=1), atol=1e-5)
    assert np.ptp(display_phase(np.exp(1j * ramp), remove_offset=False)) < 2 * math.pi + 1e-6


def test_hsv_rendering_maps_phase_to_hue_and_amplitude_to_brightness():
    z = np.array([[1.0, 1j, -1.0, 0.0]])
    rgb = complex_rgb(z, (0.0, 1.0))
    assert rgb.shape == (1, 4, 3) and rgb.dtype == np.uint8
    assert tuple(rgb[0, 3]) == (0, 0, 0)
    assert rgb[0, 0].max() == 255 and len({tuple(p) for p in rgb[0, :3]}) == 3
    wheel = phase_wheel(32)
    assert wheel.shape == (32, 32, 4) and wheel[0, 0, 3] == 0 and wheel[16, 16, 3] == 255


def test_every_scalar_mode_and_unknown_modes():
    z = np.array([[3 + 4j]], dtype=np.complex64)
    assert complex_quantity(z, "amplitude")[0, 0] == pytest.approx(5)
    assert complex_quantity(z, "real")[0, 0] == pytest.approx(3)
    assert complex_quantity(z, "imaginary")[0, 0] == pytest.approx(4)
    assert "complex (HSV)" in COMPLEX_MODES
    with pytest.raises(ValueError, match="unknown complex mode"):
        complex_quantity(z, "hue")


def test_region_stats_equal_numpy_and_skip_nan():
    values = np.arange(20, dtype=np.float64).reshape(4, 5)
    values[0, 0] = np.nan
    stats = region_stats(values)
    finite = values[np.isfinite(values)]
    assert (stats.mean, stats.std, stats.minimum, stats.maximum, stats.area) == (
        pytest.approx(finite.mean()), pytest.approx(finite.std()), 1.0, 19.0, 19)
    assert region_stats(values, values > 10).area == 9
    assert region_stats(np.full((2, 2), np.nan)).area == 0
