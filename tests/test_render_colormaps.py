"""The export colour mapping: quantities, levels parsing, auto levels and the exact data → RGB table lookup."""

from __future__ import annotations

import math

import matplotlib
import numpy as np
import pytest

from ptycho_gui.render.colormaps import (
    ImageStyle,
    auto_levels,
    colorize,
    enlarge,
    lookup_table,
    parse_levels,
    quantity_of,
)


def test_quantities_of_a_complex_array():
    values = np.array([[3 + 4j, -1j, np.nan]], dtype=np.complex64)
    np.testing.assert_allclose(quantity_of(values, "amplitude"), [[5, 1, 0]])
    np.testing.assert_allclose(quantity_of(values, "phase"), [[math.atan2(4, 3), -math.pi / 2, 0]], rtol=1e-6)
    np.testing.assert_allclose(quantity_of(values, "real"), [[3, 0, 0]])
    np.testing.assert_allclose(quantity_of(values, "imaginary"), [[4, -1, 0]])
    assert np.isnan(quantity_of(values, "amplitude", keep_nonfinite=True)[0, 2])
    with pytest.raises(ValueError, match="unknown quantity"):
        quantity_of(values, "weight")


def test_parse_levels_accepts_auto_and_ranges_and_refuses_the_rest():
    assert parse_levels("auto") is None
    assert parse_levels(" -3.5:2e1 ") == (-3.5, 20.0)
    for bad in ("3", "2:1", "a:b", "1:inf", "1:2:3"):
        with pytest.raises(ValueError):
            parse_levels(bad)


def test_auto_levels_are_robust_percentiles_and_fixed_for_phase():
    values = np.concatenate([np.linspace(0, 1, 10_000), [1e6]])
    lo, hi = auto_levels(values, "amplitude")
    assert 0 <= lo < 0.01 and 0.99 < hi <= 1.0
    assert auto_levels(values, "phase") == (-math.pi, math.pi)
    flat_lo, flat_hi = auto_levels(np.full(10, 2.0), "amplitude")
    assert flat_lo < 2.0 < flat_hi


def test_colorize_maps_levels_to_the_ends_of_the_colormap_and_clips():
    table = lookup_table("viridis")
    expected = np.rint(matplotlib.colormaps["viridis"](np.linspace(0, 1, 256))[:, :3] * 255).astype(np.uint8)
    np.testing.assert_array_equal(table, expected)
    values = np.array([[-5.0, 0.0, 0.5, 1.0, 7.0, np.nan]])
    rgb = colorize(values, (0.0, 1.0), "viridis")
    assert rgb.shape == (1, 6, 3) and rgb.dtype == np.uint8
    np.testing.assert_array_equal(rgb[0, [0, 1]], table[[0, 0]])
    np.testing.assert_array_equal(rgb[0, 2], table[128])
    np.testing.assert_array_equal(rgb[0, [3, 4]], table[[255, 255]])
    np.testing.assert_array_equal(rgb[0, 5], table[0])


def test_enlarge_repeats_each_pixel_into_a_block():
    rgb = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    big = enlarge(rgb, 3)
    assert big.shape == (6, 9, 3)
    np.testing.assert_array_equal(big[3:6, 6:9], np.broadcast_to(rgb[1, 2], (3, 3, 3)))


def test_style_resolves_colormap_and_levels_and_validates():
    style = ImageStyle("phase").resolved(np.zeros((4, 4)))
    assert style.cmap == "twilight" and style.levels == (-math.pi, math.pi)
    fixed = ImageStyle("amplitude", "magma", (1.0, 2.0)).resolved(np.zeros(3))
    assert fixed.levels == (1.0, 2.0) and fixed.cmap == "magma"
    assert "amplitude" in fixed.describe() and "magma" in fixed.describe()
    with pytest.raises(ValueError, match="unknown colormap"):
        ImageStyle(colormap="no-such-map")
    with pytest.raises(ValueError, match="LO < HI"):
        ImageStyle(levels=(2.0, 1.0))
    with pytest.raises(ValueError, match="per-tile levels exclude fixed levels"):
        ImageStyle(levels=(2.0, 3.0), per_tile=True)
    tile = ImageStyle(per_tile=True).resolved(np.zeros(3))
    assert tile.levels == (0.0, 1.0) and tile.tile_levels(np.array([2.0, 5.0])) == (2.0, 5.0)
