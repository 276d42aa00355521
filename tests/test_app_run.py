"""The desktop app's run: same canvas as the headless engine, stepping, pause, stop, close mid-run,
and re-stitching from stored patches without new forward passes."""

from __future__ import annotations

import time

import numpy as np
from app_harness import (
    RUN_TIMEOUT_MS,
    TEST_SETTINGS,
    ForwardCounter,
    open_fixture,
    run_to_end,
    settle,
)

from ptycho_gui.app.display import quantity_of
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
    counter = ForwardCounter(delay=0.05).install(monkeypatch)
    window = make_window()
    open_fixture(window, bundle_path, dataset_path)
    session = window.session
    session.start()
    qtbot.waitUntil(lambda: len(session.done) >= 1, timeout=RUN_TIMEOUT_MS)
    session.pause()
    assert session.state == "paused"
    qtbot.wait(400)
    done_while_paused = set(session.done)
    assert len(done_while_paused) <= 3, "the run went on while paused"
    session.go_to(5)
    qtbot.waitUntil(lambda: session.current is not None and session.current.index == 5, timeout=RUN_TIMEOUT_MS)
    assert session.state == "paused" and 5 in session.done
    session.resume()
    qtbot.waitUntil(lambda: session.state == "finished", timeout=RUN_TIMEOUT_MS)
    assert sorted(counter.indices) == list(range(6)), "a batch ran twice"


def test_stop_mid_run_takes_effect_within_one_batch(qtbot, make_window, bundle_path, dataset_path, monkeypatch):
    counter = ForwardCounter(delay=0.3).install(monkeypatch)
    window = make_window()
    open_fixture(window, bundle_path, dataset_path)
    session = window.session
    session.start()
    qtbot.waitUntil(lambda: len(session.done) >= 1, timeout=RUN_TIMEOUT_MS)
    stopped_at = time.perf_counter()
    session.stop()
    assert session.state == "stopped"
    qtbot.wait(1500)
    started_after_stop = [i for i, start, _ in counter.calls if start > stopped_at]
    assert started_after_stop == [], "a batch started after stop"
    assert len(counter.calls) < session.n_batches
    assert session.done == set(counter.indices), "a computed batch was lost"
    assert session.canvas is not None and session.state == "stopped"


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
    assert not session._controller.active, "worker thread still running after close"
    assert session.state == "stopped"
    qtbot.wait(300)
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
    qtbot.waitUntil(lambda: not session._controller.active, timeout=RUN_TIMEOUT_MS)
    assert session.state == "stopped" and session.done == {0, 1}
    window.message_box.close()

    failing.clear()
    session.start()
    qtbot.waitUntil(lambda: session.state == "finished", timeout=RUN_TIMEOUT_MS)
    assert session.done == set(range(session.n_batches))


def test_a_busy_gui_holds_the_worker_to_two_batches_in_flight(qtbot, make_window, bundle_path, dataset_path,
                                                              monkeypatch):
    counter = ForwardCounter().install(monkeypatch)
    window = make_window()
    open_fixture(window, bundle_path, dataset_path)
    session = window.session
    session.start()
    deadline = time.perf_counter() + 30
    while len(counter.calls) < 2 and time.perf_counter() < deadline:
        time.sleep(0.02)
    time.sleep(1.0)
    assert len(counter.calls) == 2, "the worker ran ahead of a GUI that handled no batch"
    qtbot.waitUntil(lambda: session.state == "finished", timeout=RUN_TIMEOUT_MS)
    assert len(counter.calls) == session.n_batches
