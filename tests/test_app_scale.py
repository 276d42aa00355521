"""The GUI at 50,000 scan positions: overlays decimated by view, bounded items, lazy offsets table."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pyqtgraph as pg
import pytest
from app_harness import RUN_TIMEOUT_MS

from ptycho_gui.app.canvas_view import UNCOVERED_LUT, UNCOVERED_RGBA
from ptycho_gui.app.offsets_view import MAX_LINKED_MEMBERS
from ptycho_gui.app.position_cloud import MAX_POINTS, PositionCloud, decimate_in_view
from ptycho_gui.demo import demo_paths
from ptycho_gui.render.canvas_picture import uncovered_mask
from ptycho_gui.types import Canvas, RunSettings

M = 50_000


def raster(m: int = M, spacing: float = 6.0) -> tuple[np.ndarray, np.ndarray]:
    """A jittered square raster of ``m`` positions."""
    side = int(np.ceil(np.sqrt(m)))
    rows, cols = np.divmod(np.arange(m), side)
    jitter = np.random.default_rng(0).uniform(-0.5, 0.5, (2, m))
    return 40 + spacing * cols + jitter[0], 40 + spacing * rows + jitter[1]


@pytest.fixture(scope="module")
def big_scan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 50,000-position HDF5 scan kept small: its first 512 patterns are written, the rest of the chunked stack
    reads as the fill value (the reader refuses stacks storing under 1/200 of their size as possible bombs)."""
    path = tmp_path_factory.mktemp("scale") / "scan_50000.h5"
    x, y = raster()
    with h5py.File(path, "w") as f:
        f["xcoords"], f["ycoords"] = x, y
        stack = f.create_dataset("diff3d", (M, 64, 64), dtype=np.float32, chunks=(16, 64, 64), fillvalue=1.0)
        stack[:512] = 1.0
    return path


def test_decimation_keeps_at_most_one_position_per_cell_and_every_position_when_few_are_in_view():
    x, y = raster()
    whole = ((float(x.min()), float(x.max())), (float(y.min()), float(y.max())))
    kept = decimate_in_view(x, y, *whole, cell=(30.0, 30.0))
    assert 0 < kept.size <= MAX_POINTS
    cells = set(zip(np.floor((x[kept] - whole[0][0]) / 30.0).astype(int),
                    np.floor((y[kept] - whole[1][0]) / 30.0).astype(int), strict=True))
    assert len(cells) == kept.size
    assert kept.size > 0.9 * ((whole[0][1] - whole[0][0]) / 30.0) * ((whole[1][1] - whole[1][0]) / 30.0)
    zoom = ((100.0, 200.0), (300.0, 400.0))
    inside = np.flatnonzero((x >= 100) & (x <= 200) & (y >= 300) & (y <= 400))
    np.testing.assert_array_equal(decimate_in_view(x, y, *zoom, cell=(12.0, 12.0)), inside)
    coarse = decimate_in_view(x, y, *whole, cell=(0.1, 0.1), max_points=500)
    assert 0 < coarse.size <= 500


def test_position_cloud_draws_a_bounded_number_of_points_and_all_of_a_zoomed_region(qtbot):
    widget = pg.PlotWidget()
    qtbot.addWidget(widget)
    widget.resize(600, 600)
    widget.show()
    qtbot.waitExposed(widget)
    plot = widget.getPlotItem()
    x, y = raster()
    plot.getViewBox().setRange(xRange=(x.min(), x.max()), yRange=(y.min(), y.max()), padding=0)
    cloud = PositionCloud(plot, size=3, brush=pg.mkBrush("k"), z=1)
    cloud.set_positions(x, y)
    assert cloud.total == M
    assert 0 < cloud.shown <= MAX_POINTS
    plot.getViewBox().setRange(xRange=(100, 200), yRange=(300, 400), padding=0)
    inside = int(((x >= 100) & (x <= 200) & (y >= 300) & (y <= 400)).sum())
    qtbot.waitUntil(lambda: cloud.shown == inside, timeout=5_000)
    cloud.set_positions(None, None)
    assert cloud.shown == 0 and cloud.total == 0


def test_uncovered_mask_is_one_byte_a_pixel_painted_grey_only_where_uncovered(qtbot):
    weight = np.zeros((4, 6), dtype=np.float32)
    weight[:, 3:] = 1.0
    canvas = Canvas(image=np.ones((4, 6), dtype=np.complex64), weight=weight, center_xy=(3.0, 2.0),
                    stitch="position", crop=4, mirrored=False)
    mask = uncovered_mask(canvas.weight)
    assert mask.dtype == np.uint8 and mask.shape == (4, 6)
    item = pg.ImageItem(axisOrder="row-major")
    item.setImage(mask, autoLevels=False, levels=(0, 1), lut=UNCOVERED_LUT)
    item.render()
    uncovered, covered = item.qimage.pixelColor(0, 0), item.qimage.pixelColor(5, 3)
    assert (uncovered.red(), uncovered.green(), uncovered.blue(), uncovered.alpha()) == UNCOVERED_RGBA
    assert covered.alpha() == 0


def test_window_at_50000_positions_keeps_overlays_bounded_and_the_offsets_table_to_one_batch(make_window, qtbot,
                                                                                          big_scan):
    window = make_window(RunSettings(device="cpu", batch_size=8, n_groups=16, num_threads=1))
    assert window.open_files([demo_paths()[0], big_scan]), window.last_error
    session = window.session
    window.session.redraws.flush()
    canvas_view, offsets_view = window.views["canvas"], window.views["offsets"]
    assert offsets_view.all_points.total == M
    assert 0 < offsets_view.all_points.shown <= MAX_POINTS
    assert offsets_view.all_links.xData.size <= 2 * MAX_LINKED_MEMBERS
    session.start()
    qtbot.waitUntil(lambda: session.state == "finished", timeout=RUN_TIMEOUT_MS)
    session.redraws.flush()
    assert canvas_view.overlay.all_positions.total == M
    assert 0 < canvas_view.overlay.all_positions.shown <= MAX_POINTS
    assert len(canvas_view.overlay.batch_positions.data) == 8
    assert offsets_view.model.rowCount() == 8 == len(offsets_view.batch_points.data)
    assert canvas_view.uncovered.image.dtype == np.uint8
    assert "1 torch thread ·" in window.device_label.text()
