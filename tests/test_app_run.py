"""The desktop app's run: same canvas as the headless engine, stepping, pause, stop, close mid-run,
and re-stitching from stored patches without new forward passes."""

from __future__ import annotations

import threading
import time

import numpy as np
from app_harness import (
    RUN_TIMEOUT_MS,
    TEST_SETTINGS,
    ForwardCounter,
    open_fixture,
    process_events,
    run_to_end,
    settle,
)

from ptycho_gui.app.display import quantity_of
from ptycho_gui.app.worker import InferenceWorker
from ptycho_gui.engine.run import InferenceRun
from ptycho_gui.engine.stitching import stitch


def test_gui_canvas_equals_the_headless_engine_canvas(qtbot, make_window, bundle_path, dataset_path):
    window = make_window()
    open_fixture(window, bundle_path, dataset_path)
    session = window.session
    run_to_end(qtbot, window)

    headless = InferenceRun(session.model, session.dataset, session.settings).execute()
    assert session.canvas.stitch == headless.canvas.stitch == "position"
    assert session.canvas.center_xy == headless.canvas.center_xy
    np.testing.assert_array_equal(session.canvas.image, headless.canvas.image)
    np.testing.assert_array_equal(session.canvas.weight, headless.canvas.weight)
    shown = window.views["canvas"].plot.image.image
    np.testing.assert_array_equal(shown, quantity_of(headless.canvas.image, "amplitude"))
    assert session.done == set(range(session.n_batches)) and session.n_batches == 6


def test_step_back_and_forward_through_computed_batches_without_recomputing(
        qtbot, make_window, bundle_path, dataset_path, monkeypatch):
    counter = ForwardCounter().install(monkeypatch)
    window = make_window()
    open_fixture(window, bundle_path, dataset_path)
    session = window.session
    run_to_end(qtbot, window)
    assert sorted(counter.indices) == list(range(6)) and session.current.index == 5

    session.step(-1)
    session.step(-1)
    assert session.current.index == 3 and not session.follow_live
    session.step(1)
    assert session.current.index == 4
    session.first()
    assert session.current.index == 0
    session.step(-1)
    assert session.current.index == 0
    session.last()
    assert session.current.index == 5
    settle(qtbot, window)
    assert "Batch 5 of 0–5" in window.views["patches"].plot.header.text()
    assert window.views["run"].batch.value() == 5
    assert sorted(counter.indices) == list(range(6)), "stepping re-ran the network"


def test_stepping_to_a_batch_not_yet_computed_computes_just_that_batch(
        qtbot, make_window, bundle_path, dataset_path, monkeypatch):
    counter = ForwardCounter().install(monkeypatch)
    window = make_window()
    open_fixture(window, bundle_path, dataset_path)
    session = window.session
    session.go_to(3)
    qtbot.waitUntil(lambda: session.current is not None and session.current.index == 3, timeout=RUN_TIMEOUT_MS)
    assert counter.indices == [3] and session.done == {3}
    np.testing.assert_array_equal(session.current.group_indices, np.arange(24, 32))


def test_pause_then_step_while_paused_then_resume_to_the_end(qtbot, make_window, bundle_path, dataset_path,
                                                             monkeypatch):
    counter = ForwardCounter(hold_first=True).install(monkeypatch)
    window = make_window()
    open_fixture(window, bundle_path, dataset_path)
    session = window.session
    session.start()
    qtbot.waitUntil(lambda: counter.started() == [0], timeout=RUN_TIMEOUT_MS)
    session.pause()
    assert session.state == "paused"
    counter.release()
    qtbot.waitUntil(lambda: session.done == {0}, timeout=RUN_TIMEOUT_MS)
    session.go_to(5)
    qtbot.waitUntil(lambda: session.current is not None and session.current.index == 5, timeout=RUN_TIMEOUT_MS)
    assert counter.started() == [0, 5], "the run went on while paused (batch 1 would precede the requested 5)"
    assert session.state == "paused" and session.done == {0, 5}
    session.resume()
    qtbot.waitUntil(lambda: session.state == "finished", timeout=RUN_TIMEOUT_MS)
    assert sorted(counter.indices) == list(range(6)), "a batch ran twice"


def test_stop_mid_run_takes_effect_within_one_batch(qtbot, make_window, bundle_path, dataset_path, monkeypatch):
    counter = ForwardCounter(hold_first=True).install(monkeypatch)
    window = make_window()
    open_fixture(window, bundle_path, dataset_path)
    session = window.session
    session.start()
    qtbot.waitUntil(lambda: counter.started() == [0], timeout=RUN_TIMEOUT_MS)
    session.stop()
    assert session.state == "stopped"
    counter.release()
    qtbot.waitUntil(lambda: session.done == {0} and session.canvas is not None, timeout=RUN_TIMEOUT_MS)
    assert session.shutdown(RUN_TIMEOUT_MS), "the worker thread did not end"
    assert counter.started() == [0], "a batch started after stop"
    assert session.done == set(counter.indices) == {0}, "the batch in progress at stop was lost"
    assert session.state == "stopped"


def test_close_mid_run_stops_the_worker_without_warnings(qtbot, qtlog, make_window, bundle_path, dataset_path,
                                                         monkeypatch):
    ForwardCounter(delay=0.2).install(monkeypatch)
    window = make_window()
    open_fixture(window, bundle_path, dataset_path)
    session = window.session
    session.start()
    qtbot.waitUntil(lambda: len(session.done) >= 1, timeout=RUN_TIMEOUT_MS)
    start = time.perf_counter()
    window.close()
    assert time.perf_counter() - start < 5
    assert not session.runner.worker.active, "worker thread still running after close"
    assert session.state == "stopped"
    qtbot.waitUntil(lambda: not session.worker_busy, timeout=RUN_TIMEOUT_MS)
    process_events()
    problems = [r.message for r in qtlog.records if "QThread" in r.message or "Destroyed" in r.message]
    assert problems == []


def test_changing_the_stitch_mode_restitches_without_running_the_network(
        qtbot, make_window, bundle_path, dataset_path, monkeypatch):
    counter = ForwardCounter().install(monkeypatch)
    window = make_window()
    open_fixture(window, bundle_path, dataset_path)
    session = window.session
    run_to_end(qtbot, window)
    forward_calls = len(counter.calls)
    canvas_view = window.views["canvas"]

    canvas_view.stitch.setCurrentText("ptychopinn-bridge")
    settle(qtbot, window)
    assert session.canvas.stitch == "ptychopinn-bridge" and session.settings.stitch == "ptychopinn-bridge"
    patches = session.store.get(np.arange(session.run.n_groups))
    expected = stitch("ptychopinn-bridge", session.settings.crop, session.run.positions, patches)
    np.testing.assert_allclose(session.canvas.image, expected.image, rtol=0, atol=1e-6)

    canvas_view.crop.setValue(12)
    canvas_view.crop.editingFinished.emit()
    settle(qtbot, window)
    assert session.canvas.crop == 12
    assert "crop 12" in canvas_view.plot.header.text()
    assert len(counter.calls) == forward_calls == session.n_batches, "re-stitching ran the network"


def test_batch_size_and_device_changes_replan_and_are_refused_while_running(
        qtbot, make_window, bundle_path, dataset_path, monkeypatch):
    ForwardCounter(delay=0.1).install(monkeypatch)
    window = make_window()
    open_fixture(window, bundle_path, dataset_path)
    session = window.session
    session.set_batch_size(16)
    assert session.n_batches == 3 and session.state == "ready"
    session.start()
    controls = window.views["run"]
    assert not controls.batch_size.isEnabled() and not controls.device.isEnabled()
    session.stop()
    qtbot.waitUntil(lambda: controls.batch_size.isEnabled(), timeout=RUN_TIMEOUT_MS)
    session.set_device("auto")
    assert session.settings.device == "auto" and session.state == "ready" and session.done == set()
    assert session.settings.batch_size == 16 != TEST_SETTINGS.batch_size


def test_a_failing_batch_is_reported_and_the_run_can_go_on(qtbot, make_window, bundle_path, dataset_path, monkeypatch):
    original = InferenceRun.compute_batch
    failing = {2}

    def compute(run, index):
        if index in failing:
            raise RuntimeError(f"simulated device failure on batch {index}")
        return original(run, index)

    monkeypatch.setattr(InferenceRun, "compute_batch", compute)
    window = make_window()
    open_fixture(window, bundle_path, dataset_path)
    session = window.session
    session.start()
    qtbot.waitUntil(lambda: window.last_error is not None, timeout=RUN_TIMEOUT_MS)
    title, message, details = window.last_error
    assert title == "Inference failed" and message == "RuntimeError: simulated device failure on batch 2"
    assert "Traceback" in details and "RuntimeError" in details
    qtbot.waitUntil(lambda: not session.runner.worker.active, timeout=RUN_TIMEOUT_MS)
    assert session.state == "stopped" and session.done == {0, 1}
    window.message_box.close()

    failing.clear()
    session.start()
    qtbot.waitUntil(lambda: session.state == "finished", timeout=RUN_TIMEOUT_MS)
    assert session.done == set(range(session.n_batches))


class RefusalSignallingCredits:
    """A worker's credit semaphore that signals when the worker asks for a credit and is refused."""

    def __init__(self, credits: threading.Semaphore):
        self._credits = credits
        self.refused = threading.Event()

    def acquire(self, timeout: float | None = None) -> bool:
        granted = self._credits.acquire(timeout=timeout)
        if not granted:
            self.refused.set()
        return granted

    def release(self) -> None:
        self._credits.release()


def test_a_busy_gui_holds_the_worker_to_two_batches_in_flight(qtbot, make_window, bundle_path, dataset_path,
                                                              monkeypatch):
    counter = ForwardCounter().install(monkeypatch)
    credits: list[RefusalSignallingCredits] = []
    original_init = InferenceWorker.__init__

    def init(worker, *args, **kwargs):
        original_init(worker, *args, **kwargs)
        worker._credits = RefusalSignallingCredits(worker._credits)
        credits.append(worker._credits)

    monkeypatch.setattr(InferenceWorker, "__init__", init)
    window = make_window()
    open_fixture(window, bundle_path, dataset_path)
    session = window.session
    session.start()
    # The GUI thread blocks here (it handles no batch) until the worker is refused a credit.
    assert credits[-1].refused.wait(RUN_TIMEOUT_MS / 1000), "the worker was never refused a credit"
    assert len(counter.calls) == 2, "the worker ran ahead of a GUI that handled no batch"
    qtbot.waitUntil(lambda: session.state == "finished", timeout=RUN_TIMEOUT_MS)
    assert len(counter.calls) == session.n_batches
