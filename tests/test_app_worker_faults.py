"""Fault injection at the worker's thread boundary: any exception is reported, a batch slower than the
shutdown wait never blocks the GUI nor is dropped while running, and closing mid-batch waits for it."""

from __future__ import annotations

import threading

from app_harness import RUN_TIMEOUT_MS, open_fixture, process_events

from ptycho_gui.engine.run import InferenceRun


class SlowBatch:
    """compute_batch patched to block until released (a batch slower than any shutdown wait)."""

    def __init__(self, monkeypatch):
        self.started = threading.Event()
        self.release = threading.Event()
        original = InferenceRun.compute_batch

        def compute(run, index):
            self.started.set()
            self.release.wait(30)
            return original(run, index)

        monkeypatch.setattr(InferenceRun, "compute_batch", compute)


def test_an_arbitrary_exception_in_the_worker_is_reported(qtbot, make_window, bundle_path, dataset_path, monkeypatch):
    def compute(run, index):
        raise ZeroDivisionError("simulated bug")

    monkeypatch.setattr(InferenceRun, "compute_batch", compute)
    window = make_window()
    open_fixture(window, bundle_path, dataset_path)
    window.session.start()
    qtbot.waitUntil(lambda: window.last_error is not None, timeout=RUN_TIMEOUT_MS)
    title, message, details = window.last_error
    assert title == "Inference failed" and message == "ZeroDivisionError: simulated bug"
    assert "Traceback" in details
    qtbot.waitUntil(lambda: not window.session.worker_busy, timeout=RUN_TIMEOUT_MS)
    assert window.session.state == "stopped"
    window.message_box.close()


def test_a_batch_slower_than_the_shutdown_wait_is_retired_not_dropped(qtbot, make_window, bundle_path, dataset_path,
                                                                       monkeypatch):
    slow = SlowBatch(monkeypatch)
    window = make_window()
    open_fixture(window, bundle_path, dataset_path)
    session = window.session
    batches = []
    session.runner.worker.sigBatch.connect(batches.append)
    session.start()
    qtbot.waitUntil(slow.started.is_set, timeout=RUN_TIMEOUT_MS)
    old_dataset = session.dataset
    closed = []
    monkeypatch.setattr(old_dataset, "close", lambda: closed.append(True))
    assert session.shutdown() is False, "the slow batch cannot have finished"
    assert session.worker_busy and not session.runner.worker.active
    session.load_dataset(old_dataset.path)
    assert closed == [], "the dataset was closed while its reader still ran"
    slow.release.set()
    qtbot.waitUntil(lambda: not session.worker_busy, timeout=RUN_TIMEOUT_MS)
    assert closed == [True]
    process_events()
    assert batches == [], "a retired worker's late result was delivered"


def test_closing_during_a_slow_batch_shows_stopping_and_closes_when_it_ends(qtbot, make_window, bundle_path,
                                                                            dataset_path, monkeypatch):
    slow = SlowBatch(monkeypatch)
    window = make_window()
    open_fixture(window, bundle_path, dataset_path)
    window.session.start()
    qtbot.waitUntil(slow.started.is_set, timeout=RUN_TIMEOUT_MS)
    assert window.close() is False
    assert window.isVisible() and "stopping" in window.statusBar().currentMessage()
    slow.release.set()
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=RUN_TIMEOUT_MS)
    assert not window.session.worker_busy


def test_an_unforeseen_loader_exception_reaches_a_dialog_naming_the_file(qtbot, make_window, bundle_path,
                                                                         dataset_path, monkeypatch, capfd):
    from ptycho_gui.app import session as session_module

    def explode(path):
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(session_module, "open_checkpoint", explode)
    window = make_window()
    assert window.open_files([bundle_path, dataset_path]) is False
    title, message, _details = window.last_error
    assert title == "Cannot open checkpoint"
    assert message == f"{bundle_path}: RecursionError: maximum recursion depth exceeded"
    assert "Traceback" not in capfd.readouterr().err
    window.message_box.close()


def test_dataset_warnings_are_shown_in_the_summary(qtbot, make_window, bundle_path, dataset_path):
    window = make_window()
    open_fixture(window, bundle_path, dataset_path)
    window.session.dataset.warnings.append("diff3d holds negative amplitudes")
    window.views["summary"].refresh()
    tree = window.views["summary"].tree
    titles = [tree.topLevelItem(i).text(0) for i in range(tree.topLevelItemCount())]
    assert "Dataset warnings" in titles
    item = tree.topLevelItem(titles.index("Dataset warnings"))
    assert item.isExpanded() and item.child(0).text(1) == "⚠ diff3d holds negative amplitudes"
