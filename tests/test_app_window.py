"""The main window: saved layouts, hover readouts, selection, error dialogs, drag and drop, shortcuts."""

from __future__ import annotations

import shutil

import numpy as np
import pyqtgraph as pg
import pytest
from app_harness import (
    RUN_TIMEOUT_MS,
    open_fixture,
    process_events,
    run_to_end,
    settle,
)
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QAction, QDropEvent
from PySide6.QtWidgets import QDialog, QDockWidget, QMessageBox

from ptycho_gui.app.main import main


def _show_batch(qtbot, window, index: int) -> None:
    window.session.go_to(index)
    qtbot.waitUntil(lambda: window.session.current is not None and window.session.current.index == index,
                    timeout=RUN_TIMEOUT_MS)
    settle(qtbot, window)


def _viewport_point(plot_widget, item, x: float, y: float) -> QPoint:
    """Viewport pixel of item coordinates (x, y)."""
    return plot_widget.mapFromScene(item.mapToScene(QPointF(x, y)))


def test_saved_layout_is_restored_and_reset_layout_undoes_it(qtbot, make_window):
    first = make_window()
    first.docks["offsets"].hide()
    first.tabifyDockWidget(first.docks["canvas"], first.docks["ground_truth"])
    first.close()

    second = make_window()
    assert second.docks["offsets"].isHidden()
    assert second.docks["ground_truth"] in second.tabifiedDockWidgets(second.docks["canvas"])
    second.reset_layout()
    assert not second.docks["offsets"].isHidden()
    assert second.tabifiedDockWidgets(second.docks["canvas"]) == []
    names = {dock.objectName() for dock in second.findChildren(QDockWidget)}
    assert names == {f"dock_{name}" for name in second.docks}


def test_patch_hover_readout_names_the_pixel_under_the_mouse(qtbot, make_window, bundle_path, dataset_path):
    window = make_window()
    open_fixture(window, bundle_path, dataset_path)
    _show_batch(qtbot, window, 2)
    view = window.views["patches"]
    batch = window.session.current
    layout = view._mosaic.layout
    group, channel, prow, pcol = 1, 2, 10, 20
    row0, col0 = layout.origin(group, channel)
    view.plot.view.setRange(xRange=(col0, col0 + layout.N), yRange=(row0, row0 + layout.N), padding=0)
    process_events()
    point = _viewport_point(view.plot.widget, view.plot.image, col0 + pcol + 0.5, row0 + prow + 0.5)
    qtbot.mouseMove(view.plot.widget.viewport(), point)
    qtbot.waitUntil(lambda: "group" in view.readout.text(), timeout=5000)
    x, y = batch.positions[group, channel]
    value = float(np.abs(batch.patches[group, channel, prow, pcol]))
    assert view.readout.text() == (
        f"group {int(batch.group_indices[group])} · channel {channel} · dataset row "
        f"{int(batch.groups[group, channel])} · scan position x={x:.2f}, y={y:.2f} · "
        f"pixel (row {prow}, col {pcol}) · amplitude {value:.5g}"
    )
    assert int(batch.group_indices[group]) == 17


def test_canvas_hover_readout_names_the_object_pixel(qtbot, make_window, bundle_path, dataset_path):
    window = make_window()
    open_fixture(window, bundle_path, dataset_path)
    run_to_end(qtbot, window)
    view = window.views["canvas"]
    canvas = window.session.canvas
    h, w = canvas.image.shape
    row, col = int(np.argmax(canvas.weight) // w), int(np.argmax(canvas.weight) % w)
    x = canvas.center_xy[0] + col - w // 2
    y = canvas.center_xy[1] + row - h // 2
    assert view.readout_text(x, y) == (
        f"object x={x:.1f}, y={y:.1f} · canvas pixel (row {row}, col {col}) · amplitude "
        f"{float(np.abs(canvas.image[row, col])):.5g} · weight {float(canvas.weight[row, col]):.3g}"
    )
    view.plot.view.setRange(xRange=(x - 4, x + 4), yRange=(y - 4, y + 4), padding=0)
    process_events()
    target = _viewport_point(view.plot.widget, view.plot.image, col + 0.5, row + 0.5)
    qtbot.mouseMove(view.plot.widget.viewport(), target)
    qtbot.waitUntil(lambda: f"canvas pixel (row {row}, col {col})" in view.readout.text(), timeout=5000)


def test_clicking_a_tile_selects_the_patch_in_every_view(qtbot, make_window, bundle_path, dataset_path):
    window = make_window()
    open_fixture(window, bundle_path, dataset_path)
    _show_batch(qtbot, window, 1)
    view = window.views["patches"]
    row0, col0 = view._mosaic.layout.origin(3, 1)
    qtbot.mouseClick(view.plot.widget.viewport(), Qt.MouseButton.LeftButton,
                     pos=_viewport_point(view.plot.widget, view.plot.image, col0 + 30, row0 + 30))
    qtbot.waitUntil(lambda: window.session.selection is not None, timeout=5000)
    session = window.session
    assert (session.selection.group, session.selection.channel) == (11, 1)
    settle(qtbot, window)
    xs, ys = view._selection_item.getData()
    assert xs.min() == col0 and ys.min() == row0
    footprint_x, _ = window.views["canvas"].overlay.footprint.getData()
    x, _ = session.run.positions[11, 1]
    assert footprint_x.min() == pytest.approx(x - 32.5)
    offsets = window.views["offsets"]
    selected = offsets.table.selectionModel().selectedRows()
    assert [offsets.model.member(index.row()) for index in selected] == [(11, 1)]


def test_a_bad_file_gives_an_error_dialog_and_the_window_stays_usable(qtbot, make_window, tmp_path, bundle_path,
                                                                      dataset_path):
    window = make_window()
    junk = tmp_path / "scan.npz"
    junk.write_bytes(b"definitely not a scan" * 10)
    assert not window.open_files([junk])
    title, message, _details = window.last_error
    assert title == "Cannot open file" and str(junk) in message
    box = window.message_box
    assert isinstance(box, QMessageBox) and box.isVisible()
    assert box.text() == message and "InvalidInputError" in box.detailedText()
    box.close()
    qtbot.waitUntil(lambda: window.message_box is None, timeout=5000)

    small = tmp_path / "n32.npz"
    rng = np.random.default_rng(0)
    np.savez(small, diff3d=rng.random((8, 32, 32), dtype=np.float32), xcoords=rng.random(8) * 10,
             ycoords=rng.random(8) * 10)
    assert not window.open_files([bundle_path, small])
    assert window.last_error[0] == "Cannot use these files together"
    assert "64×64" in window.last_error[1] and window.session.state == "empty"
    window.message_box.close()

    open_fixture(window, bundle_path, dataset_path)
    _show_batch(qtbot, window, 0)
    assert window.session.current.index == 0


def test_dropped_files_are_recognised_by_content(qtbot, make_window, tmp_path, bundle_path, dataset_path):
    window = make_window()
    weights, scan = tmp_path / "weights.bin", tmp_path / "scan.data"
    shutil.copy(bundle_path, weights)
    shutil.copy(dataset_path, scan)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(scan)), QUrl.fromLocalFile(str(weights))])
    event = QDropEvent(QPointF(100, 100), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    window.dropEvent(event)
    assert window.last_error is None
    assert window.session.model.path == weights and window.session.dataset.path == scan
    assert window.session.state == "ready"
    assert set(window.recent_files()[:2]) == {str(scan.resolve()), str(weights.resolve())}


def test_keyboard_shortcuts_step_run_pause_export_and_quit(qtbot, make_window, bundle_path, dataset_path):
    window = make_window()
    open_fixture(window, bundle_path, dataset_path)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5000)
    session = window.session
    target = window.views["patches"].plot.widget
    target.setFocus()

    qtbot.keyClick(target, Qt.Key.Key_Space)
    assert session.state == "running"
    qtbot.waitUntil(lambda: len(session.done) >= 1, timeout=RUN_TIMEOUT_MS)
    qtbot.keyClick(target, Qt.Key.Key_Space)
    assert session.state == "paused"
    qtbot.keyClick(target, Qt.Key.Key_End)
    qtbot.waitUntil(lambda: session.current is not None and session.current.index == 5, timeout=RUN_TIMEOUT_MS)
    qtbot.keyClick(target, Qt.Key.Key_Left)
    qtbot.waitUntil(lambda: session.current.index == 4, timeout=RUN_TIMEOUT_MS)
    qtbot.keyClick(target, Qt.Key.Key_PageUp)
    qtbot.waitUntil(lambda: session.current.index == 3, timeout=RUN_TIMEOUT_MS)
    qtbot.keyClick(target, Qt.Key.Key_Home)
    qtbot.waitUntil(lambda: session.current.index == 0, timeout=RUN_TIMEOUT_MS)
    qtbot.keyClick(target, Qt.Key.Key_Right)
    qtbot.waitUntil(lambda: session.current.index == 1, timeout=RUN_TIMEOUT_MS)
    qtbot.keyClick(target, Qt.Key.Key_PageDown)
    qtbot.waitUntil(lambda: session.current.index == 2, timeout=RUN_TIMEOUT_MS)

    qtbot.keyClick(target, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
    dialog = window.findChild(QDialog, "export_dialog")
    assert dialog is not None and dialog.isVisible()
    dialog.close()
    target.setFocus()
    assert window.actions_by_name["open"].shortcut().toString() == "Ctrl+O"

    qtbot.keyClick(target, Qt.Key.Key_Q, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=5000)
    assert not session.runner.worker.active


def _export_actions(view) -> list:
    """'Export…' entries of every plot context menu (and widget context menu) inside a view."""
    found = [action for action in view.findChildren(QAction) if action.text() == "Export…"]
    for graphics_view in view.findChildren(pg.GraphicsView):
        for item in graphics_view.scene().items():
            if isinstance(item, pg.ViewBox) and item.menu is not None:
                found += [action for action in item.menu.actions() if action.text() == "Export…"]
    return found


def test_every_view_has_an_export_entry_that_names_it(qtbot, make_window, monkeypatch):
    window = make_window()
    asked: list[str] = []
    names = ("patches", "canvas", "ground_truth", "offsets", "statistics")
    for name in names:
        window.views[name].sigExportRequested.connect(asked.append)
        actions = _export_actions(window.views[name])
        assert actions, name
        actions[0].trigger()
        dialog = window.findChild(QDialog, "export_dialog")
        assert dialog is not None and dialog.isVisible()
        dialog.close()
        qtbot.waitUntil(lambda: window.findChild(QDialog, "export_dialog") is None, timeout=5000)
    assert asked == list(names)


def test_export_reports_a_build_without_the_export_dialog(qtbot, make_window, monkeypatch):
    import sys

    window = make_window()
    monkeypatch.setitem(sys.modules, "ptycho_gui.app.export_dialog", None)
    window.open_export_dialog("canvas")
    assert "Export is not available" in window.message_box.text()


def test_version_flag_prints_the_package_version(capsys):
    from ptycho_gui import __version__

    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert __version__ in capsys.readouterr().out


def test_summary_lists_checkpoint_dataset_and_normalization(qtbot, make_window, bundle_path, dataset_path):
    window = make_window()
    open_fixture(window, bundle_path, dataset_path)
    tree = window.views["summary"].tree
    sections = {tree.topLevelItem(i).text(0): tree.topLevelItem(i) for i in range(tree.topLevelItemCount())}
    assert {"Checkpoint", "Configuration (resolved)", "Dataset", "Run plan"} <= set(sections)
    rows = {}
    for title, section in sections.items():
        for k in range(section.childCount()):
            if title != "Configuration sources":
                rows[section.child(k).text(0)] = section.child(k).text(1)
    assert rows["family"] == "cnn" and rows["N"] == "64" and rows["gridsize"] == "2"
    assert "Configuration sources" in sections
    assert rows["M"] == "100" and rows["normalization"].startswith("bridge")
    assert dataset_path.name in window.windowTitle() and bundle_path.name in window.windowTitle()


def test_a_missing_demo_is_reported_not_raised(qtbot, make_window, monkeypatch):
    import ptycho_gui.demo as demo

    window = make_window()
    monkeypatch.delattr(demo, "demo_paths", raising=False)
    assert not window.open_demo()
    assert window.last_error[0] == "Demo not available" and window.session.state == "empty"


def test_clicking_a_statistics_point_shows_that_batch(qtbot, make_window, bundle_path, dataset_path):
    window = make_window()
    open_fixture(window, bundle_path, dataset_path)
    run_to_end(qtbot, window)
    view = window.views["statistics"]
    plot = view.plots[0]
    y = float(np.mean(plot.getViewBox().viewRange()[1]))
    point = view.widget.mapFromScene(plot.getViewBox().mapViewToScene(QPointF(2, y)))
    qtbot.mouseClick(view.widget.viewport(), Qt.MouseButton.LeftButton, pos=point)
    qtbot.waitUntil(lambda: window.session.current.index == 2, timeout=5000)
    settle(qtbot, window)
    assert all(marker.value() == 2 for marker in view.markers)


def test_a_refused_stitch_is_a_dialog_and_the_controls_show_what_is_kept(qtbot, make_window, bundle_path,
                                                                         dataset_path, monkeypatch):
    window = make_window()
    open_fixture(window, bundle_path, dataset_path)
    session, view = window.session, window.views["canvas"]
    kept = session.settings.crop

    def refuse(stitch: str, crop: int):
        raise ValueError(f"crop {crop} refused by the stitcher")

    monkeypatch.setattr(session.run, "new_stitcher", refuse)
    view.crop.setValue(kept - 2)
    view.crop.editingFinished.emit()
    title, message, _details = window.last_error
    assert title == "Cannot stitch that way" and f"crop {kept - 2} refused" in message
    assert session.settings.crop == kept and view.crop.value() == kept
    window.message_box.close()
