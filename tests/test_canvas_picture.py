"""The live canvas picture: tile-wise refreshes equal full recomputation, levels from a bounded sample."""

from __future__ import annotations

import numpy as np
import pytest

from ptycho_gui.engine.stitching import COVERED_WEIGHT, Stitcher, dirty_tile_slices, stitch
from ptycho_gui.render.canvas_picture import (
    CanvasPicture,
    canvas_auto_levels,
    canvas_quantity,
    level_stride,
    uncovered_mask,
)
from ptycho_gui.render.colormaps import LEVEL_SAMPLES, auto_levels, quantity_of
from ptycho_gui.types import CANVAS_TILE, Canvas

N = 16


def scan(n_groups: int, spacing: float = 9.0, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(G, 1, 2) jittered raster positions wide enough for several canvas tiles, and random complex patches."""
    rng = np.random.default_rng(seed)
    side = int(np.ceil(np.sqrt(n_groups)))
    rows, cols = np.divmod(np.arange(n_groups), side)
    positions = np.stack([spacing * cols, spacing * rows], axis=-1)[:, None, :] + rng.uniform(-0.5, 0.5, (n_groups, 1, 2))
    patches = (rng.normal(size=(n_groups, 1, N, N)) + 1j * rng.normal(size=(n_groups, 1, N, N))).astype(np.complex64)
    return positions, patches


def test_dirty_tile_slices_cover_exactly_the_flagged_tiles():
    tiles = np.zeros((3, 4), dtype=bool)
    tiles[0, 1:3] = tiles[2, 0] = tiles[2, 3] = True
    shape = (2 * CANVAS_TILE + 5, 3 * CANVAS_TILE + 7)
    covered = np.zeros(shape, dtype=bool)
    for rows, cols in dirty_tile_slices(tiles, shape):
        covered[rows, cols] = True
    expected = np.kron(tiles, np.ones((CANVAS_TILE, CANVAS_TILE), dtype=bool))[: shape[0], : shape[1]]
    np.testing.assert_array_equal(covered, expected)
    assert len(dirty_tile_slices(tiles, shape)) == 3


@pytest.mark.parametrize("mode", ["position", "ptychopinn-bridge", "ptychopinn-cli"])
def test_stitcher_refreshes_only_changed_tiles_and_equals_the_one_shot_canvas(mode):
    positions, patches = scan(400)
    if mode == "ptychopinn-bridge":
        positions = np.concatenate([positions, positions + 1.0], axis=1)
        patches = np.concatenate([patches, patches], axis=1)
    stitcher = Stitcher(mode, 12, N, positions)
    previous = None
    for batch in np.array_split(np.arange(len(positions)), 7):  # raster order: each batch a strip of rows
        stitcher.add(batch, patches[batch])
        canvas = stitcher.canvas()
        assert canvas.tile_revisions.shape == (-(-canvas.image.shape[0] // CANVAS_TILE),) * 2
        if previous is not None:
            unchanged = canvas.tile_revisions == previous.tile_revisions
            assert unchanged.any() and not unchanged.all()
            for rows, cols in dirty_tile_slices(unchanged, canvas.image.shape):
                np.testing.assert_array_equal(canvas.image[rows, cols], previous.image[rows, cols])
                np.testing.assert_array_equal(canvas.weight[rows, cols], previous.weight[rows, cols])
        previous = canvas
    whole = stitch(mode, 12, positions, patches)
    np.testing.assert_allclose(canvas.image, whole.image, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(canvas.weight, whole.weight, rtol=1e-6, atol=1e-9)
    stitcher.reset()
    assert (stitcher.canvas().tile_revisions != canvas.tile_revisions).all()


@pytest.mark.parametrize("quantity", ["amplitude", "phase", "real", "imaginary", "weight"])
def test_picture_updated_tile_by_tile_equals_the_full_computation(quantity):
    positions, patches = scan(400, seed=2)
    stitcher = Stitcher("position", 12, N, positions)
    picture = CanvasPicture()
    partial_updates = 0
    for batch in np.array_split(np.arange(len(positions)), 6):
        stitcher.add(batch, patches[batch])
        canvas = stitcher.canvas()
        changed = picture.update(canvas, quantity)
        partial_updates += int(not changed.all())
        full = CanvasPicture()
        full.update(canvas, quantity)
        np.testing.assert_array_equal(picture.values, full.values)
        np.testing.assert_array_equal(picture.uncovered, full.uncovered)
        np.testing.assert_array_equal(picture.values, canvas_quantity(canvas, quantity))
        np.testing.assert_array_equal(picture.uncovered, (canvas.weight <= COVERED_WEIGHT).astype(np.uint8))
        assert picture.auto_levels() == full.auto_levels()
    assert partial_updates >= 4


def test_picture_follows_a_new_quantity_a_new_stitcher_and_canvases_without_revisions():
    positions, patches = scan(100, seed=4)
    first = Stitcher("position", 12, N, positions)
    first.add(np.arange(100), patches)
    picture = CanvasPicture()
    picture.update(first.canvas(), "amplitude")
    second = Stitcher("position", 8, N, positions)
    second.add(np.arange(50), patches[:50])
    canvas = second.canvas()
    picture.update(canvas, "amplitude")
    np.testing.assert_array_equal(picture.values, np.abs(canvas.image))
    picture.update(canvas, "phase")
    np.testing.assert_array_equal(picture.values, quantity_of(canvas.image, "phase"))
    bare = Canvas(image=canvas.image * 2, weight=canvas.weight, center_xy=canvas.center_xy, stitch="position", crop=8)
    assert picture.update(bare, "phase").all()
    np.testing.assert_array_equal(picture.values, quantity_of(bare.image, "phase"))


def test_auto_levels_use_every_covered_pixel_of_small_canvases_and_a_bounded_grid_of_large_ones():
    rng = np.random.default_rng(5)
    small = rng.gamma(2.0, 1.0, (200, 300)).astype(np.float32)
    weight = np.where(rng.uniform(size=small.shape) < 0.7, 1.0, 0.0).astype(np.float32)
    assert level_stride(small.shape) == 1
    assert canvas_auto_levels(small, weight, "amplitude") == auto_levels(small, "amplitude", weight > 0)
    large = rng.gamma(2.0, 1.0, (1400, 1400)).astype(np.float32)
    big_weight = np.ones_like(large)
    big_weight[:, :100] = 0
    step = level_stride(large.shape)
    assert step > 1 and (large[::step, ::step].size <= LEVEL_SAMPLES * 1.1)
    sampled = canvas_auto_levels(large, big_weight, "amplitude")
    assert sampled == auto_levels(large[::step, ::step], "amplitude", big_weight[::step, ::step] > 0)
    covered = large[:, 100:]
    assert 0.003 <= np.mean(covered < sampled[0]) <= 0.007  # the sample's 0.5 and 99.5 percentiles are the
    assert 0.993 <= np.mean(covered < sampled[1]) <= 0.997  # whole covered canvas's to within 0.2 points
    assert canvas_auto_levels(large, big_weight, "phase") == (-np.pi, np.pi)
    assert canvas_auto_levels(large, big_weight, "weight") == (0.0, float(large.max()))


def test_uncovered_mask_is_one_byte_a_pixel():
    mask = uncovered_mask(np.array([[0.0, 1.0], [COVERED_WEIGHT, 2 * COVERED_WEIGHT]], dtype=np.float32))
    assert mask.dtype == np.uint8
    np.testing.assert_array_equal(mask, [[1, 0], [1, 0]])
