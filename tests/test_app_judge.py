"""Judging a reconstruction in the app (generated checkpoint and scan): the Compare dock shows the core's
metrics, A/B of a checkpoint with itself is zero error, worst-group clicks select the group, complex modes
render, ROI statistics equal numpy's, and the Diffraction dock shows the core's residual."""

from __future__ import annotations

import numpy as np
import pytest
from app_harness import open_fixture, run_to_end, settle

from ptycho_gui.analysis.comparison import compare_with_object
from ptycho_gui.analysis.residual import diffraction_residual, physics_model_for
from ptycho_gui.app.compare_model import metrics_rows
from ptycho_gui.render.complex_display import COMPLEX_MODES, phase_view

WAIT_MS = 60_000


def finished_window(qtbot, make_window, bundle_path, dataset_path):
    window = make_window()
    open_fixture(window, bundle_path, dataset_path)
    run_to_end(qtbot, window)
    judge = window.judge
    n = window.session.n_batches
    qtbot.waitUntil(lambda: judge.compare.state.compared_batches == n and not judge.compare._busy, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: len(judge.diffraction.tracker.batches) == n, timeout=WAIT_MS)
    settle(qtbot, window)
    return window


def table_rows(table) -> list[tuple[str, str]]:
    return [(table.item(r, 0).text(), table.item(r, 1).text()) for r in range(table.rowCount())]


def test_compare_dock_shows_the_core_metrics_on_one_shared_range(qtbot, make_window, bundle_path, dataset_path):
    window = finished_window(qtbot, make_window, bundle_path, dataset_path)
    session, compare = window.session, window.judge.compare
    core = compare_with_object(session.canvas, session.dataset.object_guess, session.dataset.pixel_size_m)
    assert compare.state.reference.kind == "objectGuess"
    assert compare.state.comparison.as_dict() == core.as_dict()
    assert table_rows(compare.table) == metrics_rows(core)
    recon, ref = compare.plots["reconstruction"].image, compare.plots["reference"].image
    assert tuple(recon.levels) == tuple(ref.levels) == compare.figure.levels
    np.testing.assert_array_equal(compare.build_plots().frc_curve.getData()[1], core.frc.curve[np.isfinite(core.frc.curve)])


def test_judge_plots_are_built_when_their_dock_first_comes_into_view(qtbot, make_window, bundle_path, dataset_path):
    """Tabbed behind the ground truth and the statistics, the judge docks open without plots (a window opens
    faster) yet compare and track residuals; choosing a tab builds its plots with what was computed."""
    window = finished_window(qtbot, make_window, bundle_path, dataset_path)
    compare, diffraction = window.judge.compare, window.judge.diffraction
    assert compare._panels is None and diffraction._plots is None
    assert compare.table.rowCount() > 0 and len(diffraction.batch_curve()[0]) == window.session.n_batches
    window.session.select(0, 0)
    for dock in (window.docks["compare"], window.docks["diffraction"]):
        dock.raise_()
    qtbot.waitUntil(lambda: compare._panels is not None and diffraction._plots is not None, timeout=WAIT_MS)
    np.testing.assert_array_equal(compare._panels.plots["error"].image.image, np.nan_to_num(compare.figure.error))
    np.testing.assert_array_equal(diffraction._plots["residual"].image.image, diffraction.pictures.residual)


def test_typed_range_is_used_by_reconstruction_and_reference(qtbot, make_window, bundle_path, dataset_path):
    window = finished_window(qtbot, make_window, bundle_path, dataset_path)
    compare = window.judge.compare
    compare.levels_edit.setText("0.1:0.9")
    compare.levels_edit.editingFinished.emit()
    qtbot.waitUntil(lambda: compare.figure.levels == (0.1, 0.9), timeout=WAIT_MS)
    assert tuple(compare.plots["reconstruction"].image.levels) == (0.1, 0.9)
    assert tuple(compare.plots["reference"].image.levels) == (0.1, 0.9)
    style = window.session.compare_display
    assert compare.style is style and style.levels_mode == "locked" and style.locked_levels == (0.1, 0.9)


def test_the_compare_dock_draws_with_its_style_object(qtbot, make_window, bundle_path, dataset_path):
    window = finished_window(qtbot, make_window, bundle_path, dataset_path)
    compare, style = window.judge.compare, window.session.compare_display
    compare.mode.setCurrentText("phase")
    qtbot.waitUntil(lambda: compare.figure.mode == "phase", timeout=WAIT_MS)
    assert style.quantity == "phase" and compare.colormap.currentText() == style.colormap == "twilight"
    compare.colormap.setCurrentText("magma")
    qtbot.waitUntil(lambda: compare.figure.colormap == "magma", timeout=WAIT_MS)
    assert style.colormaps["phase"] == "magma" and style.colormaps["amplitude"] == "viridis"
    assert compare.plots["reconstruction"]._colormap_name == "magma"
    compare.unwrap.setChecked(True)
    compare.error_levels_edit.setText("-0.5:0.5")
    compare.error_levels_edit.editingFinished.emit()
    qtbot.waitUntil(lambda: compare.figure.error_levels == (-0.5, 0.5), timeout=WAIT_MS)
    assert style.unwrap and style.error_levels == (-0.5, 0.5)
    compare.mode.setCurrentText("amplitude")
    qtbot.waitUntil(lambda: compare.figure.mode == "amplitude", timeout=WAIT_MS)
    assert compare.colormap.currentText() == "viridis" and compare.figure.colormap == "viridis"


def test_ab_of_a_checkpoint_with_itself_is_zero_error(qtbot, make_window, bundle_path, dataset_path):
    window = finished_window(qtbot, make_window, bundle_path, dataset_path)
    compare = window.judge.compare
    assert compare.open_checkpoint(bundle_path)
    qtbot.waitUntil(lambda: compare.state.reference.kind == "checkpoint" and compare.state.comparison is not None,
                    timeout=WAIT_MS)
    result = compare.state.comparison
    assert result.shift_xy == pytest.approx((0.0, 0.0), abs=1e-6)
    assert result.amplitude.rmse == pytest.approx(0.0, abs=1e-6)
    assert result.amplitude.ssim == pytest.approx(1.0, abs=1e-6)
    assert result.phase.rmse_rad == pytest.approx(0.0, abs=1e-5)
    assert np.nanmax(np.abs(compare.figure.error)) < 1e-5


def test_every_complex_mode_renders(qtbot, make_window, bundle_path, dataset_path):
    window = finished_window(qtbot, make_window, bundle_path, dataset_path)
    compare = window.judge.compare
    for mode in COMPLEX_MODES:
        compare.mode.setCurrentText(mode)
        qtbot.waitUntil(lambda m=mode: compare.figure.mode == m, timeout=WAIT_MS)
        image = compare.plots["reconstruction"].image.image
        assert image is not None and np.isfinite(image).all() and np.ptp(image) > 0
        assert (image.ndim == 3) == (mode == "complex (HSV)")
        assert compare.wheel.isVisibleTo(compare) == (mode == "complex (HSV)")
    compare.mode.setCurrentText("phase")
    compare.unwrap.setChecked(True)
    qtbot.waitUntil(lambda: compare.figure.mode == "phase" and compare.unwrap.isChecked(), timeout=WAIT_MS)


def test_roi_stats_equal_numpy(qtbot, make_window, bundle_path, dataset_path):
    window = finished_window(qtbot, make_window, bundle_path, dataset_path)
    compare = window.judge.compare
    tools = compare.roi["error"]
    tools.show_roi.setChecked(True)
    x0, y0, _, _ = compare._rect
    values = compare.figure.error
    rows, cols = np.nonzero(np.isfinite(values))
    r, c = int(np.median(rows)) - 6, int(np.median(cols)) - 8
    tools.roi.setPos((x0 + c, y0 + r))
    tools.roi.setSize((16, 12))
    expected = values[r:r + 12, c:c + 16].astype(np.float64)
    expected = expected[np.isfinite(expected)]
    stats = tools.stats
    assert stats.area == expected.size > 0
    assert stats.mean == pytest.approx(expected.mean())
    assert stats.std == pytest.approx(expected.std())
    assert (stats.minimum, stats.maximum) == (pytest.approx(expected.min()), pytest.approx(expected.max()))
    tools.show_line.setChecked(True)
    assert tools.profile_values is not None and tools.profile_values.size > 1


def test_worst_group_click_selects_that_group_and_shows_its_batch(qtbot, make_window, bundle_path, dataset_path):
    window = finished_window(qtbot, make_window, bundle_path, dataset_path)
    session, diffraction = window.session, window.judge.diffraction
    diffraction.refresh_worst()
    item = diffraction.worst.item(0)
    group = item.data(0x0100)
    scores = diffraction.tracker.worst("residual", 1)[1]
    assert group is not None and np.isfinite(scores[0])
    session.go_to(0 if session.batch_of_group(group) else 1)
    diffraction.worst.itemClicked.emit(item)
    qtbot.waitUntil(lambda: session.selection is not None and session.selection.group == group, timeout=WAIT_MS)
    assert session.current.index == session.batch_of_group(group)


def test_diffraction_dock_shows_the_core_residual_of_the_selected_group(qtbot, make_window, bundle_path,
                                                                      dataset_path):
    window = finished_window(qtbot, make_window, bundle_path, dataset_path)
    session, diffraction = window.session, window.judge.diffraction
    session.select(3, 0)
    run = session.run
    physics = physics_model_for(session.model, session.dataset)
    patches = session.store.get(np.array([3]))
    measured = run.read_inputs(np.array([3])) * run.input_scale
    core = diffraction_residual(physics.predict(patches, run.positions[[3]]), measured,
                                diffraction.tracker.scale)
    np.testing.assert_allclose(diffraction.shown.residual.predicted, core.predicted, rtol=1e-6)
    np.testing.assert_allclose(diffraction.plots["residual"].image.image, core.residual[0, 0], rtol=1e-6, atol=1e-7)
    curve = window.views["statistics"].residual_curve.getData()
    assert len(curve[0]) == session.n_batches and np.isfinite(curve[1]).all()


def export_from_the_dock(qtbot, window, view_name: str, folder) -> list:
    """Right-click 'Export…' of a dock: the Export dialog opens with that view's item, PNG and NPZ ticked."""
    from PySide6.QtWidgets import QDialog

    from ptycho_gui.app.export_dialog import ExportDialog

    view = window.judge.compare if view_name == "compare" else window.judge.diffraction
    view.sigExportRequested.emit(view_name)
    dialog = [d for d in window.findChildren(QDialog, "export_dialog") if d.isVisible()][-1]
    assert isinstance(dialog, ExportDialog)
    ticked = [item for item, box in dialog.item_boxes.items() if box.isChecked()]
    formats = [fmt for fmt, box in dialog.format_boxes.items() if box.isChecked()]
    assert ticked == ["comparison" if view_name == "compare" else "pattern"] and formats == ["png", "npz"]
    dialog.format_boxes["h5"].setChecked(True)
    dialog.folder_edit.setText(str(folder))
    dialog.export_button.click()
    qtbot.waitUntil(lambda: not dialog.busy, timeout=WAIT_MS)
    assert dialog.last_error is None, dialog.last_error
    files = list(dialog.last_report.files)
    dialog.shutdown()
    dialog.close()
    return files


def test_compare_and_diffraction_export_what_the_docks_draw(qtbot, make_window, bundle_path, dataset_path, tmp_path):
    import h5py

    from ptycho_gui.export.images import read_png_metadata

    window = finished_window(qtbot, make_window, bundle_path, dataset_path)
    compare = window.judge.compare
    compare.levels_edit.setText("0.1:1.2")
    compare.levels_edit.editingFinished.emit()
    compare.colormap.setCurrentText("inferno")
    qtbot.waitUntil(lambda: compare.figure is not None and compare.figure.levels == (0.1, 1.2)
                    and compare.figure.colormap == "inferno", timeout=WAIT_MS)
    files = export_from_the_dock(qtbot, window, "compare", tmp_path / "compare")
    assert [p.name for p in files] == ["comparison.png", "comparison.npz", "comparison.h5"]
    with np.load(files[1], allow_pickle=False) as data:
        np.testing.assert_array_equal(data["reconstruction_shown"], compare.plots["reconstruction"].image.image)
        np.testing.assert_array_equal(data["reference_values"], compare.values_of("reference"))
        np.testing.assert_array_equal(data["error_shown"], compare.figure.error)
        np.testing.assert_array_equal(data["levels"], [0.1, 1.2])
        np.testing.assert_array_equal(data["aligned"], compare.state.comparison.aligned)
    with h5py.File(files[2], "r") as file:
        np.testing.assert_array_equal(file["error_levels"][()], compare.figure.error_levels)
    metadata = read_png_metadata(files[0])
    assert metadata["levels"] == [0.1, 1.2] and metadata["colormap"] == "inferno"
    window.session.select(2, 0)
    settle(qtbot, window)
    diffraction = window.judge.diffraction
    files = export_from_the_dock(qtbot, window, "diffraction", tmp_path / "diffraction")
    assert [p.name for p in files] == ["diffraction_pattern.png", "diffraction_pattern.npz", "diffraction_pattern.h5"]
    with np.load(files[1], allow_pickle=False) as data:
        for name, key in (("measured", "measured_log10"), ("predicted", "predicted_log10"),
                          ("residual", "residual")):
            np.testing.assert_array_equal(data[key], diffraction.plots[name].image.image)
        assert int(data["group"]) == 2 and tuple(data["log10_levels"]) == diffraction.pictures.levels


def test_a_dropped_reconstruction_file_becomes_the_reference(qtbot, make_window, bundle_path, dataset_path, tmp_path):
    from ptycho_gui.cli import main

    out = tmp_path / "run"
    assert main(["run", str(bundle_path), str(dataset_path), "-o", str(out), "--device", "cpu",
                 "--n-groups", "48", "--batch-size", "8"]) == 0
    window = finished_window(qtbot, make_window, bundle_path, dataset_path)
    compare = window.judge.compare
    assert window.open_files([out / "reconstruction.h5"]), window.last_error
    qtbot.waitUntil(lambda: compare.state.reference.kind == "reconstruction" and compare.state.comparison is not None,
                    timeout=WAIT_MS)
    assert compare.state.comparison.amplitude.rmse == pytest.approx(0.0, abs=1e-5)
    assert window.session.state == "finished"


def test_a_group_merging_model_says_the_residual_is_not_available(qtbot, make_window, tmp_path):
    from tf_bundle_factory import build_tf_bundle

    from ptycho_gui.types import RunSettings

    bundle = build_tf_bundle(gridsize=2).write(tmp_path / "wts.h5.zip")
    rng = np.random.default_rng(0)
    scan = tmp_path / "scan.npz"
    np.savez(scan, xcoords=rng.uniform(40, 70, 16), ycoords=rng.uniform(40, 70, 16),
             diff3d=rng.random((16, 64, 64)).astype(np.float32),
             probeGuess=np.ones((64, 64), dtype=np.complex64))
    window = make_window(RunSettings(device="cpu", batch_size=8, num_threads=1))
    open_fixture(window, bundle, scan)
    run_to_end(qtbot, window)
    window.session.select(0, 0)
    diffraction = window.judge.diffraction
    assert "not available for this model" in diffraction.message.text()
    assert diffraction.shown is None and diffraction.batch_curve()[0].size == 0


def test_canvas_gets_roi_stats_real_imaginary_and_an_hsv_layer(qtbot, make_window, bundle_path, dataset_path):
    window = finished_window(qtbot, make_window, bundle_path, dataset_path)
    session, judge = window.session, window.judge
    for quantity in ("real", "imaginary"):
        session.set_canvas_quantity(quantity)
        settle(qtbot, window)
        shown = window.views["canvas"].plot.image.image
        np.testing.assert_array_equal(shown, getattr(np, quantity if quantity == "real" else "imag")(
            session.canvas.image).astype(np.float32))
    tools = judge.roi["canvas"]
    tools.show_roi.setChecked(True)
    x0, y0, _, _ = window.views["canvas"]._image.rect
    tools.roi.setPos((x0 + 20, y0 + 24))
    tools.roi.setSize((10, 8))
    expected = shown[24:32, 20:30].astype(np.float64)
    assert tools.stats.area == 80 and tools.stats.mean == pytest.approx(expected.mean())
    layer = judge.complex_layers["canvas"]
    layer.enabled.setChecked(True)
    qtbot.waitUntil(lambda: layer.picture is not None, timeout=WAIT_MS)
    assert layer.picture.shape == (*session.canvas.image.shape, 4) and layer.wheel.isVisibleTo(layer)
    assert layer.layer.isVisible()


def test_canvas_phase_can_be_drawn_with_its_offset_removed(qtbot, make_window, bundle_path, dataset_path):
    window = finished_window(qtbot, make_window, bundle_path, dataset_path)
    session, judge = window.session, window.judge
    assert not judge.phase_view.isVisibleTo(window)
    session.set_canvas_quantity("phase")
    settle(qtbot, window)
    assert judge.phase_view.isVisibleTo(window)
    judge._phase_combo.setCurrentText("auto (offset removed)")
    settle(qtbot, window)
    canvas = session.canvas
    covered = canvas.weight > 0
    expected, levels = phase_view(canvas.image, covered, "auto (offset removed)")
    np.testing.assert_array_equal(window.views["canvas"].plot.image.image, expected)
    assert session.drawn_levels("canvas") == levels and levels != (-np.pi, np.pi)
    assert abs(np.angle(np.sum(np.abs(canvas.image[covered]) * np.exp(1j * expected[covered])))) < 1e-3
    session.set_canvas_levels((-0.5, 0.5))
    settle(qtbot, window)
    assert session.canvas_image().levels == (-0.5, 0.5)


def test_patch_grid_gets_an_hsv_layer_of_the_shown_batch(qtbot, make_window, bundle_path, dataset_path):
    window = finished_window(qtbot, make_window, bundle_path, dataset_path)
    layer = window.judge.complex_layers["patches"]
    layer.enabled.setChecked(True)
    qtbot.waitUntil(lambda: layer.picture is not None, timeout=WAIT_MS)
    assert layer.picture.shape[:2] == window.views["patches"].plot.image.image.shape
    shown = window.session.current.index
    window.session.step(-1 if shown else 1)
    qtbot.waitUntil(lambda: window.session.current.index != shown, timeout=WAIT_MS)
    first = layer.picture
    qtbot.waitUntil(lambda: layer.picture is not first, timeout=WAIT_MS)
