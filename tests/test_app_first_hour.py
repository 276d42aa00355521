"""The rough edges of a scientist's first hour with the app (issue 11), each checked as the user meets it."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from app_harness import (  # noqa: F401  (fixtures)
    RUN_TIMEOUT_MS,
    ForwardCounter,
    make_window,
    open_fixture,
    settings_path,
)


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
    identity = f"{bundle_path.parent.name}/{bundle_path.name} · sha256 {model.sha256[:8]} · {model.architecture}"
    assert model.identity() == identity
    assert identity in window.windowTitle()
    summary = window.views["summary"].tree
    values = [summary.topLevelItem(0).child(i).text(1) for i in range(summary.topLevelItem(0).childCount())]
    assert identity in values
    labels = [action.text() for action in window.recent_menu.actions()]
    assert identity in labels
    assert f"{dataset_path.parent.name}/{dataset_path.name}" in labels
