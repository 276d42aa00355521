"""Background jobs (``app/jobs.py``): results, progress, errors and cancellation come back on the GUI thread."""

from __future__ import annotations

import dataclasses
import threading

import pytest

from ptycho_gui.app.background import BackgroundQueue
from ptycho_gui.app.jobs import Job, JobCancelled, JobLane, Step
from ptycho_gui.errors import PtychoGuiError


def test_a_job_runs_off_the_gui_thread_and_delivers_its_result_on_it(qtbot):
    gui = threading.get_ident()
    seen = {}

    def work(x):
        seen["thread"] = threading.get_ident()
        return x * 2

    job = Job("double", work, 21, on_done=lambda result: seen.update(result=result, at=threading.get_ident()))
    assert job.start().outcome() == 42
    assert seen == {"thread": seen["thread"], "result": 42, "at": gui} and seen["thread"] != gui


def test_a_generator_job_reports_progress_and_its_return_value(qtbot):
    steps: list[Step] = []

    def work(n):
        for i in range(n):
            yield Step(i + 1, n, f"item {i}")
        return "all"

    job = Job("count", work, 3, on_progress=steps.append).start()
    assert job.outcome() == "all"
    assert [(s.done, s.total) for s in steps] == [(1, 3), (2, 3), (3, 3)]


@pytest.mark.parametrize("error", [PtychoGuiError("scan.h5: no diffraction"), RuntimeError("device lost")])
def test_a_failing_job_reports_a_one_line_message_and_the_traceback(qtbot, error):
    reported = []

    def work():
        raise error

    job = Job("fail", work, on_error=lambda message, details: reported.append((message, details))).start()
    with pytest.raises(type(error)):
        job.outcome()
    (message, details), = reported
    assert str(error) in message and "\n" not in message and "Traceback" in details


def test_a_superseded_job_is_cancelled_and_its_late_result_dropped(qtbot):
    lane = JobLane("replan")
    release = threading.Event()
    delivered = []

    def slow():
        release.wait(5)
        return "old"

    old = lane.submit(slow, on_done=delivered.append)
    new = lane.submit(lambda: "new", on_done=delivered.append)
    assert new.outcome() == "new"
    release.set()
    assert old.wait(5000) and old.cancelled
    with pytest.raises(JobCancelled):
        old.outcome()
    assert delivered == ["new"] and lane.current is None


def test_a_cancelled_generator_job_stops_at_its_next_step(qtbot):
    went_on, first, gate = threading.Event(), threading.Event(), threading.Event()

    def work():
        yield Step(0, 2)
        first.set()
        gate.wait(5)
        yield Step(1, 2)
        went_on.set()

    job = Job("stop me", work).start()
    assert first.wait(5)
    job.cancel()
    gate.set()
    assert job.wait(5000) and job.cancelled and not went_on.is_set()


def test_the_background_queue_runs_jobs_in_order_and_reports_errors(qtbot):
    queue = BackgroundQueue()
    out = []
    queue.submit(lambda: 1, lambda result, error: out.append((result, error)))
    queue.submit(lambda: 1 / 0, lambda result, error: out.append((result, error and error.splitlines()[0])))
    queue.submit(lambda: 3, lambda result, error: out.append((result, error)))
    assert queue.wait(5000)
    assert out == [(1, None), (None, "ZeroDivisionError: division by zero"), (3, None)]


def test_a_controlled_job_reports_progress_and_returns_what_it_has_when_asked_to_stop(qtbot):
    steps: list[tuple[Step, int]] = []
    started = threading.Event()

    def work(control, n):
        done = 0
        started.set()
        while done < n and not control.stop_requested:
            done += 1
            control.report(done, n)
            threading.Event().wait(0.01)
        return done

    job = Job("files", work, 10_000, on_progress=lambda step: steps.append((step, threading.get_ident())),
              with_control=True).start()
    assert started.wait(5)
    qtbot.waitUntil(lambda: len(steps) >= 2, timeout=5000)
    job.stop()
    written = job.outcome()
    assert 2 <= written < 10_000 and not job.cancelled
    assert {thread for _, thread in steps} == {threading.get_ident()}, "progress delivered off the GUI thread"


def test_reading_pictures_changes_no_display_state_and_a_refused_stitch_is_not_stored(qtbot, make_window,
                                                                                   bundle_path, dataset_path):
    from app_harness import open_fixture, run_to_end

    window = make_window()
    open_fixture(window, bundle_path, dataset_path)
    run_to_end(qtbot, window)
    session = window.session
    before = (dataclasses.replace(session.patch_display), dataclasses.replace(session.canvas_display))
    assert session.patch_mosaic() is not None and session.canvas_image() is not None
    assert (session.patch_display, session.canvas_display) == before
    settings = session.settings
    with pytest.raises(ValueError):
        session.set_stitch(crop=session.model.N + 1)
    with pytest.raises(ValueError):
        session.set_stitch(stitch="no such mode")
    assert session.settings == settings


def test_results_for_a_view_deleted_while_its_job_ran_are_dropped(qtbot):
    import shiboken6
    from PySide6.QtCore import QObject

    view = QObject()
    queue = BackgroundQueue(view)
    release, delivered = threading.Event(), []
    queue.submit(lambda: release.wait(10) and 42, lambda result, error: delivered.append((result, error)))

    class Dialog(QObject):
        def done(self, result):
            delivered.append(result)

    dialog = Dialog()
    job = Job("export", lambda: release.wait(10) and 7, on_done=dialog.done).start()
    shiboken6.delete(view)
    shiboken6.delete(dialog)
    release.set()
    qtbot.waitUntil(lambda: job.finished, timeout=10_000)
    qtbot.wait(50)
    assert delivered == []


@pytest.mark.parametrize("how", ["job", "lane"])
def test_a_finished_job_keeps_nothing_of_its_arguments_alive(qtbot, how):
    """Quick jobs finish while ``outcome`` waits; then nothing (the pool worker, Qt) may hold their arguments."""
    import gc
    import weakref

    class Argument:
        """Stands for a model, dataset or results store handed to a job."""

    lane = JobLane("replan")
    arguments = []
    for _ in range(20):
        argument = Argument()
        arguments.append(weakref.ref(argument))
        job = lane.submit(id, argument) if how == "lane" else Job("open", id, argument).start()
        job.outcome()
        del argument, job
    qtbot.wait(20)
    gc.collect()
    assert [ref for ref in arguments if ref() is not None] == []
