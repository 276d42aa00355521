"""Array → display conversions: mosaic geometry round-trips, quantities, levels and offsets."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ptycho_gui.app.display import (
    MosaicLayout,
    build_mosaic,
    group_offsets,
    member_to_centre_segments,
    normalize_per_tile,
    quantity_of,
)
from ptycho_gui.app.session import canvas_display_xy, canvas_object_xy, canvas_rect
from ptycho_gui.render.colormaps import auto_levels
from ptycho_gui.types import Canvas


@pytest.mark.parametrize(("groups", "channels", "n"), [(16, 4, 64), (7, 4, 8), (5, 1, 16), (1, 4, 8)])
def test_mosaic_tiles_round_trip_and_gaps_hit_nothing(groups, channels, n):
    layout = MosaicLayout.for_batch(groups, channels, n)
    tiles = np.arange(groups * channels * n * n, dtype=np.float32).reshape(groups, channels, n, n)
    mosaic = build_mosaic(tiles, layout, fill=-1.0)
    assert mosaic.shape == layout.shape
    for g in range(groups):
        for c in range(channels):
            row, col = layout.origin(g, c)
            np.testing.assert_array_equal(mosaic[row:row + n, col:col + n], tiles[g, c])
            assert layout.tile_at(col + 3.7, row + 1.2) == (g, c, 1, 3)
    covered = sum(layout.tile_at(col + 0.5, row + 0.5) is not None
                  for row in range(mosaic.shape[0]) for col in range(mosaic.shape[1]))
    assert covered == groups * channels * n * n == int((mosaic >= 0).sum())
    assert layout.tile_at(-1, 0) is None and layout.tile_at(0, mosaic.shape[0] + 5) is None


def test_layout_puts_a_groups_channels_side_by_side_and_stays_near_square():
    layout = MosaicLayout.for_batch(16, 4, 64)
    rows = {layout.origin(3, c)[0] for c in range(4)}
    cols = [layout.origin(3, c)[1] for c in range(4)]
    assert len(rows) == 1 and cols == sorted(cols) and cols[1] - cols[0] == 64 + layout.gap
    height, width = layout.shape
    assert 0.5 < height / width < 2


def test_quantities_of_a_complex_array():
    values = np.array([[3 + 4j, -1 + 0j]], dtype=np.complex64)
    np.testing.assert_allclose(quantity_of(values, "amplitude"), [[5, 1]])
    np.testing.assert_allclose(quantity_of(values, "phase"), [[math.atan2(4, 3), math.pi]], rtol=1e-6)
    np.testing.assert_allclose(quantity_of(values, "real"), [[3, -1]])
    np.testing.assert_allclose(quantity_of(values, "imaginary"), [[4, 0]])
    logs = quantity_of(np.array([0.0, 1.0, 100.0], dtype=np.float32), "input (log)")
    np.testing.assert_allclose(logs, [-2, 0, 2], rtol=1e-6)
    assert quantity_of(np.array([np.nan, np.inf], dtype=np.float32), "real").tolist() == [0, 0]
    with pytest.raises(ValueError, match="unknown quantity"):
        quantity_of(values, "brightness")


def test_levels_are_robust_fixed_for_phase_and_never_empty():
    data = np.linspace(0, 1, 10_001, dtype=np.float32)
    data[0] = -1000
    lo, hi = auto_levels(data, "amplitude")
    assert 0 <= lo < 0.01 and 0.99 < hi <= 1
    assert auto_levels(data, "phase") == (-math.pi, math.pi)
    lo, hi = auto_levels(np.full(10, 2.0, dtype=np.float32), "amplitude")
    assert lo < 2 < hi
    mask = np.zeros_like(data, dtype=bool)
    mask[-10:] = True
    assert auto_levels(data, "amplitude", mask)[0] > 0.99


def test_per_tile_normalization_spans_zero_to_one_per_tile():
    tiles = np.stack([np.linspace(2, 4, 16).reshape(4, 4), np.full((4, 4), 7.0)])[None].astype(np.float32)
    normalized = normalize_per_tile(tiles)
    assert normalized[0, 0].min() == 0 and normalized[0, 0].max() == 1
    assert (normalized[0, 1] == 0).all()


def test_group_offsets_and_segments():
    positions = np.array([[[0, 0], [2, 0], [0, 2], [2, 2]]], dtype=float)
    centres, offsets = group_offsets(positions)
    np.testing.assert_array_equal(centres, [[1, 1]])
    np.testing.assert_array_equal(offsets[0], [[-1, -1], [1, -1], [-1, 1], [1, 1]])
    x, y = member_to_centre_segments(positions)
    assert x.tolist() == [0, 1, 2, 1, 0, 1, 2, 1] and y.tolist() == [0, 1, 0, 1, 2, 1, 2, 1]


@pytest.mark.parametrize("mirrored", [False, True])
def test_canvas_display_frame_round_trips(mirrored):
    canvas = Canvas(image=np.zeros((20, 30), np.complex64), weight=np.zeros((20, 30), np.float32),
                    center_xy=(100.0, 50.0), stitch="position", crop=8, mirrored=mirrored)
    x, y = np.array([93.5, 110.0]), np.array([41.0, 55.25])
    dx, dy = canvas_display_xy(canvas, x, y)
    for k in range(2):
        assert canvas_object_xy(canvas, dx[k], dy[k]) == pytest.approx((x[k], y[k]))
    assert canvas_rect(canvas) == (100 - 15 - 0.5, 50 - 10 - 0.5, 30.0, 20.0)
    if not mirrored:
        np.testing.assert_array_equal(dx, x)
