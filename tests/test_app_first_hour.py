"""The rough edges of a scientist's first hour with the app (issue 11), each checked as the user meets it."""

from __future__ import annotations

from app_harness import RUN_TIMEOUT_MS, ForwardCounter, open_fixture
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication


def test_shortcuts_work_from_the_moment_the_window_opens(qtbot, make_window, bundle_path, dataset_path):
    window = make_window()
    open_fixture(window, bundle_path, dataset_path)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5000)
    plot = window.views["patches"].plot.widget
    qtbot.waitUntil(lambda: QApplication.focusWidget() is plot, timeout=5000)
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Space)
    assert window.session.state == "running"
    qtbot.waitUntil(lambda: window.session.state == "finished", timeout=RUN_TIMEOUT_MS)
    keys = [seq.toString() for seq in window.actions_by_name["quit"].shortcuts()]
    assert keys.count("Ctrl+Q") == 1, "an ambiguous Ctrl+Q does nothing on X11"


def _wait_for_in_flight_batches(qtbot, session, quiet_ms: int = 2000) -> None:
    """Return once no batch has arrived for ``quiet_ms`` (batches already in flight at a pause still land)."""
    while True:
        with qtbot.waitSignal(session.sigBatchComputed, timeout=quiet_ms, raising=False) as arrival:
            pass
        if not arrival.signal_triggered:
            return


def test_no_time_left_is_shown_while_paused_and_batches_are_counted_from_zero(qtbot, make_window, bundle_path,
                                                                            dataset_path, monkeypatch):
    ForwardCounter(delay=0.05).install(monkeypatch)
    window = make_window()
    open_fixture(window, bundle_path, dataset_path)
    session, controls = window.session, window.views["run"]
    statuses: list[str] = []
    session.sigStatus.connect(statuses.append)
    session.start()
    qtbot.waitUntil(lambda: len(session.done) >= 1, timeout=RUN_TIMEOUT_MS)
    session.pause()
    assert session.progress().seconds_left is None
    assert "left" not in controls.progress_label.text()
    _wait_for_in_flight_batches(qtbot, session)
    missing = max(set(range(session.n_batches)) - set(session.done))
    session.go_to(missing)
    assert f"computing batch {missing} (batches 0–{session.n_batches - 1})" in statuses[-1]
    qtbot.waitUntil(lambda: session.current is not None and session.current.index == missing,
                    timeout=RUN_TIMEOUT_MS)
    header = window.views["patches"].plot.header
    qtbot.waitUntil(lambda: header.text().startswith(f"Batch {missing} of 0–{session.n_batches - 1}"),
                    timeout=RUN_TIMEOUT_MS)


def test_checkpoint_identity_in_title_summary_and_recent_files(qtbot, make_window, bundle_path, dataset_path):
    window = make_window()
    open_fixture(window, bundle_path, dataset_path)
    model = window.session.model
    identity = f"{bundle_path.parent.name}/{bundle_path.name} · sha256 {model.sha256[:8]} · {model.family}"
    assert model.identity() == identity
    assert identity in window.windowTitle()
    summary = window.views["summary"].tree
    values = [summary.topLevelItem(0).child(i).text(1) for i in range(summary.topLevelItem(0).childCount())]
    assert identity in values
    labels = [action.text() for action in window.recent_menu.actions()]
    assert identity in labels
    assert f"{dataset_path.parent.name}/{dataset_path.name}" in labels


def test_screen_colormaps_are_the_export_tables():
    import numpy as np

    from ptycho_gui.app.display import COLORMAPS
    from ptycho_gui.app.plot_helpers import colormap
    from ptycho_gui.render.colormaps import lookup_table

    for name in COLORMAPS:
        screen = colormap(name).getLookupTable(0.0, 1.0, 256, alpha=False)
        assert np.abs(screen.astype(int) - lookup_table(name).astype(int)).max() <= 1, name


def test_offsets_table_shows_whole_numbers_and_every_column_at_the_default_size(qtbot, make_window, bundle_path,
                                                                               dataset_path):
    from ptycho_gui.app.offsets_view import TABLE_COLUMNS, widest_cells

    window = make_window()
    open_fixture(window, bundle_path, dataset_path)
    view = window.views["offsets"]
    table, metrics = view.table, view.table.fontMetrics()
    view.fit_columns(widest_cells(123_456, 4, 1_234_567, window.session.run.positions * 100))
    assert table.columnWidth(0) > metrics.horizontalAdvance("123455")
    assert table.columnWidth(2) > metrics.horizontalAdvance("1234566")
    window.session.replan()

    def all_columns_fit() -> bool:
        total = sum(table.columnWidth(c) for c in range(len(TABLE_COLUMNS) - 1))
        return total + metrics.horizontalAdvance("y") < table.viewport().width()

    qtbot.waitUntil(all_columns_fit, timeout=5_000)  # fails (TimeoutError) when a column stays cut off


def test_cleared_results_leave_no_colour_bar_or_scaled_ticks(qtbot, make_window, bundle_path, dataset_path):
    from app_harness import run_to_end, settle

    window = make_window()
    open_fixture(window, bundle_path, dataset_path)
    run_to_end(qtbot, window)
    for name in ("patches", "canvas"):
        assert window.views[name].plot.colorbar.isVisible()
    window.session.set_batch_size(16)
    settle(qtbot, window)
    for name in ("patches", "canvas"):
        assert not window.views[name].plot.colorbar.isVisible(), name
    stats = window.views["statistics"]
    for plot in (*stats.plots, stats.histogram_plot):
        low, high = plot.getViewBox().viewRange()[1]
        assert -0.5 < low and high < 1.5
        assert plot.getAxis("left").autoSIPrefixScale == 1.0


def test_statistics_curves_join_only_neighbouring_computed_batches(qtbot, make_window, bundle_path, dataset_path):
    import numpy as np

    from ptycho_gui.app.statistics_view import consecutive

    assert consecutive(np.array([0, 1, 2, 5, 6, 9])).tolist() == [True, True, False, True, False, False]
    window = make_window()
    open_fixture(window, bundle_path, dataset_path)
    session = window.session
    session.go_to(0)
    qtbot.waitUntil(lambda: 0 in session.done, timeout=RUN_TIMEOUT_MS)
    session.go_to(3)
    qtbot.waitUntil(lambda: 3 in session.done, timeout=RUN_TIMEOUT_MS)
    window.session.redraws.flush()
    curve = window.views["statistics"].curves["global_mean"]
    x, _ = curve.getData()
    assert x.tolist() == [0, 3]
    assert not np.any(curve.curve.opts["connect"][:-1]), "a line is drawn across batches 1 and 2"


def _spans(window) -> dict[str, float]:
    """Width of the data shown by each image view (object or patch pixels)."""
    spans = {}
    for name in ("patches", "canvas", "ground_truth"):
        (x0, x1), _ = window.views[name].plot.view.viewRange()
        spans[name] = x1 - x0
    return spans


def test_reset_layout_floating_and_resizing_keep_each_images_zoom(qtbot, make_window, bundle_path, dataset_path):
    from app_harness import run_to_end, sync_with_display

    window = make_window()
    open_fixture(window, bundle_path, dataset_path)
    run_to_end(qtbot, window)
    sync_with_display(qtbot, window)
    before = _spans(window)
    assert all(0 < span < 2000 for span in before.values()), before

    def check(what: str) -> None:
        sync_with_display(qtbot, window)
        after = _spans(window)
        for name, span in after.items():
            assert span < 4 * before[name], f"{name} zoomed out after {what}: {before[name]:.0f} -> {span:.0f} px"

    window.reset_layout()
    check("Reset layout")
    window.docks["canvas"].setFloating(True)
    check("floating the canvas")
    window.docks["canvas"].setFloating(False)
    check("docking the canvas again")
    window.resize(900, 600)
    check("shrinking the window")
    window.resize(1600, 1000)
    check("growing the window")


def test_export_draws_each_view_with_its_own_levels(qtbot, make_window, bundle_path, dataset_path):
    from app_harness import run_to_end
    from test_app_export import close, open_dialog

    window = make_window()
    open_fixture(window, bundle_path, dataset_path)
    run_to_end(qtbot, window)
    session = window.session
    session.set_canvas_levels((0.25, 0.75))
    session.set_patch_levels((0.1, 0.4))
    dialog = open_dialog(window, None)
    for item in ("patches", "canvas"):
        dialog.item_boxes[item].setChecked(True)
    request = dialog.request()
    assert request.style.levels == (0.1, 0.4)
    assert request.canvas_style.levels == (0.25, 0.75), "Ctrl+E must draw the canvas with the canvas's levels"
    close(dialog)
    dialog = open_dialog(window, "canvas")
    dialog.item_boxes["patches"].setChecked(True)
    request = dialog.request()
    assert request.style.levels == (0.1, 0.4) and request.canvas_style.levels == (0.25, 0.75)
    close(dialog)


def test_every_image_view_has_typed_levels_and_a_way_back_to_auto(qtbot, make_window, bundle_path, dataset_path):
    from app_harness import run_to_end, settle

    window = make_window()
    open_fixture(window, bundle_path, dataset_path)
    run_to_end(qtbot, window)
    session = window.session
    controls = {"patches": window.views["patches"].typed_levels, "canvas": window.views["canvas"].levels,
                "ground_truth": window.views["ground_truth"].levels}
    for name, control in controls.items():
        plot = window.views[name].plot
        auto = tuple(plot.image.levels)
        assert control.auto.isChecked(), name
        control.low.setValue(0.3)
        control.high.setValue(0.6)
        control.high.editingFinished.emit()
        settle(qtbot, window)
        assert tuple(plot.image.levels) == (0.3, 0.6), name
        assert not control.auto.isChecked(), name
        plot.colorbar.setLevels((0.2, 0.7))
        plot.colorbar.sigLevelsChangeFinished.emit(plot.colorbar)
        settle(qtbot, window)
        assert tuple(plot.image.levels) == (0.2, 0.7), f"{name}: a colour-bar drag sets the levels"
        assert (control.low.value(), control.high.value()) == (0.2, 0.7)
        control.auto.click()
        settle(qtbot, window)
        assert control.auto.isChecked(), name
        assert tuple(plot.image.levels) == auto, f"{name}: Auto brings back the automatic levels"
    assert session.truth_levels is None and session.canvas_display.levels_mode == "auto"


def test_the_run_dock_sets_neighbours_seed_groups_file_and_normalization_like_the_cli(
        qtbot, make_window, bundle_path, dataset_path, tmp_path):
    import numpy as np

    window = make_window()
    open_fixture(window, bundle_path, dataset_path)
    session, dock = window.session, window.views["run"]
    dock.neighbors.setValue(7)
    dock.neighbors.editingFinished.emit()
    assert session.settings.neighbors == 7 and session.run.neighbors == 7
    groups_before = session.run.groups.copy()
    dock.seed.setValue(5)
    dock.seed.editingFinished.emit()
    assert session.settings.seed == 5
    assert not np.array_equal(session.run.groups, groups_before), "the seed draws other groups"
    dock.normalization.setCurrentText("mmap")
    dock.normalization.lineEdit().editingFinished.emit()
    assert session.settings.normalization == "mmap" and "mmap" in session.run.normalization_description
    groups = np.arange(4 * session.model.C).reshape(4, session.model.C) % len(session.dataset.xcoords)
    np.save(tmp_path / "groups.npy", groups)
    dock.groups_file.setText(str(tmp_path / "groups.npy"))
    dock.groups_file.editingFinished.emit()
    assert session.settings.groups_file == str(tmp_path / "groups.npy")
    assert np.array_equal(session.run.groups, groups)
    dock.neighbors.setValue(0)
    dock.groups_file.setText("")
    dock.groups_file.editingFinished.emit()
    assert session.settings.neighbors is None and session.settings.groups_file is None


def test_statistics_are_usable_in_a_1366x768_window(qtbot, settings_path, bundle_path, dataset_path):
    from app_harness import TEST_SETTINGS, run_to_end, sync_with_display
    from PySide6.QtCore import QSettings

    from ptycho_gui.app.main_window import MainWindow
    from ptycho_gui.app.plot_helpers import configure_pyqtgraph

    configure_pyqtgraph()
    window = MainWindow(QSettings(str(settings_path), QSettings.Format.IniFormat), TEST_SETTINGS)
    qtbot.addWidget(window)
    window.resize(1366, 768)
    window.show()
    qtbot.waitExposed(window)
    try:
        open_fixture(window, bundle_path, dataset_path)
        run_to_end(qtbot, window)
        sync_with_display(qtbot, window)
        stats = window.views["statistics"]
        for plot in (*stats.plots, stats.histogram_plot):
            box = plot.getViewBox()
            assert box.height() >= 60 and box.width() >= 60, (box.width(), box.height())
    finally:
        assert window.session.shutdown(30_000)
        window.close()
