"""Stitching: parity with PtychoPINN's canvases, geometry on a known object, batching and its cost."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import map_coordinates

from ptycho_gui.engine.grouping import group_neighbors, group_positions
from ptycho_gui.engine.stitching import Stitcher, coverage_fraction, stitch
from ptycho_gui.types import STITCH_MODES

PARITY_TOLERANCE = 1e-4
"""Max |Δ| allowed against PtychoPINN's canvases, as a fraction of their max amplitude."""


@pytest.fixture(scope="module")
def coords(dataset_path):
    with np.load(dataset_path, allow_pickle=False) as data:
        return data["xcoords"], data["ycoords"]


@pytest.fixture(scope="module")
def shared_coords(shared_dataset_path):
    """The positions of the scan PtychoPINN's reference canvases were stitched on."""
    with np.load(shared_dataset_path, allow_pickle=False) as data:
        return data["xcoords"], data["ycoords"]


def _parity(reference, coords, mode):
    positions = group_positions(reference["groups"], *coords)
    canvas = stitch(mode, 20, positions, reference["pred_patches"])
    expected = reference["canvas"]
    assert canvas.image.shape == expected.shape and canvas.image.dtype == np.complex64
    return np.abs(canvas.image - expected).max() / np.abs(expected).max()


def test_bridge_replica_reproduces_ptychopinn_workflow_canvas(workflow_reference, shared_coords):
    """Measured: max |Δ| = 1.9e-6 on a max amplitude of 8.27 (2.3e-7 relative)."""
    assert workflow_reference["canvas"].shape == (172, 172)
    assert _parity(workflow_reference, shared_coords, "ptychopinn-bridge") <= PARITY_TOLERANCE


def test_cli_replica_reproduces_ptychopinn_cli_canvas(cli_reference, shared_coords):
    """Measured: max |Δ| = 4.0e-5 on a max amplitude of 8.73 (4.6e-6 relative)."""
    assert cli_reference["canvas"].shape == (184, 184)
    assert _parity(cli_reference, shared_coords, "ptychopinn-cli") <= PARITY_TOLERANCE


def test_cli_reference_is_not_the_position_stitch(cli_reference, shared_coords):
    """The CLI canvas is mirrored: the correct stitch of the same patches differs from it everywhere."""
    assert _parity(cli_reference, shared_coords, "position") > 0.5


# --- geometry on a synthetic object with known amplitude and phase -------------------------------

PATCH = 32
CROP = 16


def _object() -> np.ndarray:
    rows, cols = np.mgrid[:128, :128].astype(np.float64)
    amplitude = (
        1.5
        + 0.6 * np.sin(cols / 6.0) * np.cos(rows / 9.0)
        + 0.4 * np.exp(-((cols - 70) ** 2 + (rows - 50) ** 2) / 200.0)
        + 0.3 * np.tanh((cols - 1.3 * rows + 20) / 3.0)
    )
    phase = 0.8 * np.sin((cols + 2 * rows) / 15.0) + 0.5 * np.exp(-((cols - 40) ** 2 + (rows - 85) ** 2) / 300.0)
    return amplitude * np.exp(1j * phase)


def _sample(image: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Bilinear sub-pixel samples of a complex image at (row, col), zero outside."""
    rows, cols = np.broadcast_arrays(rows, cols)
    real = map_coordinates(image.real, [rows, cols], order=1, mode="constant")
    imag = map_coordinates(image.imag, [rows, cols], order=1, mode="constant")
    return real + 1j * imag


def _truth_patches(obj: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Patch pixel (N//2, N//2) at scan position (x = column, y = row), as PtychoPINN's patches."""
    offsets = np.arange(PATCH) - PATCH // 2
    rows = positions[..., 1][..., None, None] + offsets[:, None]
    cols = positions[..., 0][..., None, None] + offsets[None, :]
    return _sample(obj, rows, cols).astype(np.complex64)


def _truth_in_frame(obj: np.ndarray, canvas) -> np.ndarray:
    """The object region a canvas claims to show: pixel (H//2, W//2) is object point center_xy."""
    height, width = canvas.image.shape
    rows, cols = np.mgrid[:height, :width].astype(np.float64)
    return _sample(obj, canvas.center_xy[1] + rows - height // 2, canvas.center_xy[0] + cols - width // 2)


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


@pytest.fixture(scope="module")
def synthetic_scan():
    rng = np.random.default_rng(1)
    grid = np.arange(30.0, 98.0, 5.0)
    gx, gy = np.meshgrid(grid, grid)
    x = gx.ravel() + rng.uniform(-0.5, 0.5, gx.size)
    y = gy.ravel() + rng.uniform(-0.5, 0.5, gy.size)
    return _object(), x, y


@pytest.mark.parametrize("C", [1, 4])
def test_position_stitch_reproduces_the_object(synthetic_scan, C):
    obj, x, y = synthetic_scan
    positions = group_positions(group_neighbors(x, y, C, None, 6, 3), x, y)
    canvas = stitch("position", CROP, positions, _truth_patches(obj, positions))
    truth = _truth_in_frame(obj, canvas)
    covered = canvas.weight > 1e-6
    assert covered.mean() > 0.9
    assert _correlation(np.abs(canvas.image[covered]), np.abs(truth[covered])) >= 0.99
    assert _correlation(np.angle(canvas.image[covered]), np.angle(truth[covered])) >= 0.99


@pytest.mark.parametrize("C", [1, 4])
def test_cli_replica_does_not_reproduce_the_object(synthetic_scan, C):
    """PtychoPINN's CLI layout is point-reflected: same patches, amplitude correlation far below."""
    obj, x, y = synthetic_scan
    positions = group_positions(group_neighbors(x, y, C, None, 6, 3), x, y)
    canvas = stitch("ptychopinn-cli", CROP, positions, _truth_patches(obj, positions))
    truth = _truth_in_frame(obj, canvas)
    covered = canvas.weight > 1e-6
    assert canvas.mirrored
    assert _correlation(np.abs(canvas.image[covered]), np.abs(truth[covered])) < 0.5


@pytest.mark.parametrize(("mode", "sign"), [("position", 1), ("ptychopinn-bridge", 1), ("ptychopinn-cli", -1)])
def test_delta_orientation(mode, sign):
    """A delta at relative offset (+3, +1) lands at centre + (row +1, col +3); the CLI replica mirrors it."""
    n = 16
    positions = np.array([[[53.0, 41.0]], [[47.0, 39.0]]])
    patches = np.zeros((2, 1, n, n), dtype=np.complex64)
    patches[0, 0, n // 2, n // 2] = 1.0
    canvas = stitch(mode, 8, positions, patches)
    height, width = canvas.image.shape
    assert canvas.center_xy == pytest.approx((50.0, 40.0))
    peak = np.unravel_index(np.abs(canvas.image).argmax(), canvas.image.shape)
    assert peak == (height // 2 + sign * 1, width // 2 + sign * 3)
    col, row = canvas.object_to_canvas(53.0, 41.0)
    assert (row, col) == peak


@pytest.mark.parametrize("mode", STITCH_MODES)
def test_incremental_equals_one_shot_in_any_batch_order(generated_reference, coords, mode):
    positions = group_positions(generated_reference["groups"], *coords)
    patches = generated_reference["pred_patches"]
    one_shot = stitch(mode, 20, positions, patches)
    stitcher = Stitcher(mode, 20, 64, positions)
    order = np.random.default_rng(0).permutation(len(positions))
    for batch in np.array_split(order, 7):
        stitcher.add(batch, patches[batch])
    incremental = stitcher.canvas()
    scale = np.abs(one_shot.image).max()
    np.testing.assert_allclose(incremental.image, one_shot.image, rtol=0, atol=1e-6 * scale)
    np.testing.assert_allclose(incremental.weight, one_shot.weight, rtol=1e-6, atol=1e-6)
    assert incremental.center_xy == one_shot.center_xy and stitcher.n_added == len(positions)


def test_add_cost_is_the_batch_window_not_the_canvas(coords, generated_reference):
    """Each add touches B·C windows of (M+1)² pixels, however many batches came before and however big the canvas."""
    positions = group_positions(generated_reference["groups"], *coords)
    patches = generated_reference["pred_patches"]
    stitcher = Stitcher("position", 20, 64, positions)
    updates = []
    for batch in np.array_split(np.arange(96), 48):
        stitcher.add(batch, patches[batch])
        updates.append(stitcher.last_add_updates)
    assert updates == [2 * 4 * 21**2] * 48
    assert updates[0] < stitcher.size**2
    wide = positions.copy()
    wide[-1] += 600.0
    far = Stitcher("position", 20, 64, wide)
    far.add(np.arange(2), patches[:2])
    assert far.size > 5 * stitcher.size and far.last_add_updates == updates[0]


def test_adding_a_group_twice_is_refused_until_reset(generated_reference, coords):
    positions = group_positions(generated_reference["groups"], *coords)
    patches = generated_reference["pred_patches"]
    stitcher = Stitcher("position", 20, 64, positions)
    stitcher.add(np.arange(4), patches[:4])
    with pytest.raises(ValueError, match="twice"):
        stitcher.add(np.arange(3, 6), patches[3:6])
    with pytest.raises(ValueError, match="twice"):
        stitcher.add(np.array([7, 7]), patches[[7, 7]])
    stitcher.reset()
    assert stitcher.n_added == 0 and not stitcher.canvas().weight.any()
    stitcher.add(np.arange(4), patches[:4])
    assert stitcher.n_added == 4


def test_frame_and_canvas_fields(generated_reference, coords):
    positions = group_positions(generated_reference["groups"], *coords)
    canvas = stitch("position", 20, positions, generated_reference["pred_patches"])
    assert canvas.center_xy == pytest.approx(tuple(positions.reshape(-1, 2).mean(axis=0)))
    adj = np.abs(positions.reshape(-1, 2) - positions.reshape(-1, 2).mean(axis=0)).max()
    pad = int(np.ceil(adj))
    assert canvas.image.shape == (20 + 2 * (pad + pad % 2),) * 2
    assert canvas.weight.dtype == np.float32 and canvas.stitch == "position" and canvas.crop == 20
    assert not canvas.mirrored
    assert 0.0 < coverage_fraction(canvas) < 1.0
    assert coverage_fraction(canvas) == pytest.approx((canvas.weight > 1e-6).mean())


def test_cli_replica_clamps_the_crop_to_the_patch(generated_reference, coords):
    positions = group_positions(generated_reference["groups"], *coords)
    assert Stitcher("ptychopinn-cli", 100, 64, positions).crop == 64
    with pytest.raises(ValueError, match="crop"):
        Stitcher("position", 100, 64, positions)


def test_invalid_arguments_are_refused(generated_reference, coords):
    positions = group_positions(generated_reference["groups"], *coords)
    with pytest.raises(ValueError, match="mode"):
        Stitcher("mirror", 20, 64, positions)
    with pytest.raises(ValueError, match="positions"):
        Stitcher("position", 20, 64, positions[..., 0])
    stitcher = Stitcher("position", 20, 64, positions)
    with pytest.raises(ValueError, match="shape"):
        stitcher.add(np.arange(2), generated_reference["pred_patches"][:3])
