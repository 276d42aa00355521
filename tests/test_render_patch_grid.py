"""Patch-grid figures: tiles land pixel-exactly where the layout says, labels are drawn, picks and
scale bars behave (synthetic patches here; the real fixture is exercised by test_export_images)."""

from __future__ import annotations

import numpy as np
import pytest

from ptycho_gui.engine.statistics import batch_statistics
from ptycho_gui.render.annotations import Provenance, scale_bar_length
from ptycho_gui.render.colormaps import ImageStyle, lookup_table
from ptycho_gui.render.patch_grid import GridOptions, PatchTiles, render_patch_grid, tile_rgb
from ptycho_gui.types import BatchResult

PROVENANCE = Provenance("wts.h5.zip", "scan.npz", "position", 20, "bridge", "cpu", "2026-01-01 00:00 UTC")


def synthetic_batch(index: int = 0, groups: int = 5, channels: int = 4, n: int = 16, seed: int = 0) -> BatchResult:
    rng = np.random.default_rng(seed)
    patches = (rng.random((groups, channels, n, n)) * 3 * np.exp(1j * rng.uniform(-3, 3, (groups, channels, n, n))))
    patches = patches.astype(np.complex64)
    group_indices = np.arange(index * groups, (index + 1) * groups)
    return BatchResult(
        index=index,
        group_indices=group_indices,
        groups=rng.integers(0, 500, (groups, channels)),
        positions=rng.uniform(0, 300, (groups, channels, 2)),
        patches=patches,
        stats=batch_statistics(patches, 1.0),
        seconds=0.1,
        input_scale=1.0,
    )


def test_every_tile_is_drawn_exactly_at_its_box_and_every_label_is_drawn():
    tiles = PatchTiles.from_batches([synthetic_batch()])
    figure = render_patch_grid(tiles, ImageStyle("phase"), PROVENANCE, "test grid")
    rgb = figure.rgb()
    meta = figure.metadata
    assert rgb.shape[:2] == (figure.figure.bbox.height, figure.figure.bbox.width)
    style = figure.style
    assert meta["style"]["levels"] == list(style.levels) and meta["style"]["colormap"] == "twilight"
    for k, tile in enumerate(meta["tiles"]):
        left, top, w, h = tile["box"]
        np.testing.assert_array_equal(rgb[top:top + h, left:left + w], tile_rgb(tiles.patches[k], style, meta["scale"]))
        lleft, ltop, lw, lh = tile["label_box"]
        label = rgb[ltop:ltop + lh, lleft:lleft + lw]
        assert (label.min(axis=2) < 128).sum() > 20, f"label of tile {k} is empty"


def test_a_groups_channels_sit_side_by_side_in_one_row():
    tiles = PatchTiles.from_batches([synthetic_batch(groups=7)])
    meta = render_patch_grid(tiles, ImageStyle(), PROVENANCE, "t", GridOptions(groups_per_row=2)).metadata
    boxes = np.array([t["box"] for t in meta["tiles"]])
    for group in range(7):
        rows = boxes[group * 4:(group + 1) * 4]
        assert len(set(rows[:, 1])) == 1 and np.all(np.diff(rows[:, 0]) > 0)
    right, bottom = boxes[:, 0] + boxes[:, 2], boxes[:, 1] + boxes[:, 3]
    for i in range(len(boxes)):
        others = np.arange(len(boxes)) != i
        overlap = (boxes[others, 0] < right[i]) & (right[others] > boxes[i, 0]) & \
                  (boxes[others, 1] < bottom[i]) & (bottom[others] > boxes[i, 1])
        assert not overlap.any()


def test_fixed_levels_and_options_are_honoured():
    tiles = PatchTiles.from_batches([synthetic_batch(groups=2)])
    figure = render_patch_grid(tiles, ImageStyle("amplitude", "gray", (0.5, 1.5)), PROVENANCE, "t",
                               GridOptions(scale=3, labels=False, title=False, colorbar=False, scale_bar=False))
    assert figure.metadata["scale"] == 3 and figure.style.levels == (0.5, 1.5)
    rgb = figure.rgb()
    left, top, w, h = figure.metadata["tiles"][5]["box"]
    assert w == 48
    np.testing.assert_array_equal(rgb[top:top + h, left:left + w], tile_rgb(tiles.patches[5], figure.style, 3))


def test_picks_select_patches_in_the_given_order_with_their_identity():
    batches = [synthetic_batch(0), synthetic_batch(1, seed=1)]
    tiles = PatchTiles.from_batches(batches, picks=[(7, 2), (1, 0)])
    assert len(tiles) == 2 and tiles.group_size == 1
    np.testing.assert_array_equal(tiles.patches[0], batches[1].patches[2, 2])
    assert tiles.rows[1] == batches[0].groups[1, 0]
    first, second = tiles.label(0)
    assert first == f"g7 · c2 · row {batches[1].groups[2, 2]}"
    x, y = batches[1].positions[2, 2]
    assert second == f"({x:.1f}, {y:.1f})"
    with pytest.raises(ValueError, match="not in the given batches"):
        PatchTiles.from_batches(batches, picks=[(99, 0)])


def test_scale_bar_is_round_in_pixels_or_metres():
    assert scale_bar_length(32, None) == (20.0, "20 px")
    assert scale_bar_length(7, None) == (5.0, "5 px")
    length, label = scale_bar_length(32, 10e-9)
    assert label == "200 nm" and length == pytest.approx(20.0)
    length, label = scale_bar_length(64, 50e-9)
    assert label == "2 µm" and length == pytest.approx(40.0)


def test_empty_tiles_are_refused():
    batch = synthetic_batch(groups=1)
    tiles = PatchTiles.from_batches([batch], picks=[])
    with pytest.raises(ValueError, match="no patches"):
        render_patch_grid(tiles, ImageStyle(), PROVENANCE, "t")


def test_per_tile_levels_stretch_every_tile_over_the_whole_colormap():
    batch = synthetic_batch(groups=2)
    batch.patches[1, 3] *= 100
    tiles = PatchTiles.from_batches([batch])
    figure = render_patch_grid(tiles, ImageStyle("amplitude", "viridis", per_tile=True), PROVENANCE, "t")
    meta, rgb = figure.metadata, figure.rgb()
    assert meta["style"]["per_tile"] and meta["style"]["levels"] == [0.0, 1.0]
    assert "per tile" in figure.style.describe()
    table = lookup_table("viridis")
    for k, tile in enumerate(meta["tiles"]):
        amplitude = np.abs(tiles.patches[k])
        assert tile["levels"] == pytest.approx([amplitude.min(), amplitude.max()])
        left, top, w, h = tile["box"]
        region = rgb[top:top + h, left:left + w]
        np.testing.assert_array_equal(region, tile_rgb(tiles.patches[k], figure.style, meta["scale"]))
        colours = {tuple(c) for c in region.reshape(-1, 3)}
        assert tuple(table[0]) in colours and tuple(table[-1]) in colours
