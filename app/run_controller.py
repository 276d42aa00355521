"""The run controller: the plan, the inference worker driving it, batch requests, run state and progress.

The session (``app/session.py``) composes it with the results store, the view styles and the selection:
the controller decides what is computed and when, the session keeps and shows what comes back. A batch
from the worker is announced with ``sigBatch`` (or ``sigFetched`` for exports and previews); the worker's
credit for it is given back once every slot connected to that signal has returned (backpressure).
"""
from __future__ import annotations

import os
import time
from collections.abc import Callable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass

import torch
from PySide6.QtCore import QObject, Signal, Slot

from ptycho_gui.app.jobs import JobLane
from ptycho_gui.app.worker import SHUTDOWN_WAIT_MS, WorkerController
from ptycho_gui.engine import results as run_results
from ptycho_gui.engine.device import device_label, memory_in_use
from ptycho_gui.engine.results import RunResults
from ptycho_gui.engine.run import InferenceRun
from ptycho_gui.io.checkpoints import LoadedModel
from ptycho_gui.io.datasets import ScanDataset
from ptycho_gui.types import BatchResult, RunSettings

RUN_STATES = ("empty", "ready", "running", "paused", "stopped", "finished")
"""empty: checkpoint or dataset missing; ready: planned, nothing running; the rest as named."""


def default_num_threads() -> int:
    """torch threads for CPU runs: every core this process may use but one, which is left to the GUI."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, cores - 1)


@dataclass
class Progress:
    """Run progress for progress bars and status lines."""

    done: int
    total: int
    patterns_per_second: float | None
    seconds_left: float | None


class RunController(QObject):
    """Plans the run, drives the worker thread over it (run, pause, stop, single requests) and times it."""

    sigStateChanged = Signal(str)
    """The run state changed (one of ``RUN_STATES``)."""
    sigBatch = Signal(object)
    """A batch computed by the run or for a request (a BatchResult)."""
    sigFetched = Signal(object)
    """A batch computed for another thread (an export or a preview)."""
    sigRunComplete = Signal()
    """Every batch of the plan is computed."""
    sigFailed = Signal(str, str)
    """message, details: the forward pass failed and the run stopped."""

    def __init__(self, done: Callable[[], AbstractSet[int]], parent: QObject | None = None):
        super().__init__(parent)
        self._done = done
        """The indices of the batches computed so far (held by the results store)."""
        self.run: InferenceRun | None = None
        self.state = "empty"
        self._active_seconds = 0.0
        self._active_since: float | None = None
        self._patterns_this_run = 0
        self._groups_done = 0
        self.worker = WorkerController(self)
        """The worker thread's controller (its credits are the backpressure of every forward pass)."""
        self.worker.sigBatch.connect(self._on_batch)
        self.worker.sigFetched.connect(self._on_fetched)
        self.worker.sigStopped.connect(self._on_worker_stopped)
        self.worker.sigRunComplete.connect(self._on_run_complete)
        self.worker.sigFailed.connect(self._on_failed)
        self._plan_jobs = JobLane("planning the run", self)

    # ------------------------------------------------------------------ the plan
    @property
    def n_batches(self) -> int:
        return self.run.n_batches if self.run is not None else 0

    def clear(self) -> None:
        """Stop the worker and forget the plan and the run's clock; ``set_state("empty")`` once the results are
        gone too (the progress it announces counts them)."""
        self.shutdown()
        self.run = None
        self._active_seconds = 0.0
        self._active_since = None
        self._patterns_this_run = 0
        self._groups_done = 0

    def plan(self, model: LoadedModel, dataset: ScanDataset, settings: RunSettings) -> RunResults:
        """Plan the run of these files in a background job (the event loop turns meanwhile); state 'ready'.

        Raises JobCancelled when a newer ``plan`` superseded this one, IncompatibleInputsError or
        ValueError when the files or settings cannot be run together.
        """
        job = self._plan_jobs.submit(run_results.plan, model, dataset, settings)
        self.run, results = job.outcome()
        self.set_state("ready")
        return results

    # ------------------------------------------------------------------ run control
    def start(self) -> None:
        """Compute every batch not yet computed."""
        if self.run is None or self.state == "running":
            return
        if len(self._done()) == self.n_batches:
            self.set_state("finished")
            return
        self.ensure_worker()
        self._resume_clock()
        self.worker.start_run()
        self.set_state("running")

    def pause(self) -> None:
        """Stop starting new batches; stepping still works and the run can be resumed."""
        if self.state != "running":
            return
        self.worker.pause()
        self._pause_clock()
        self.set_state("paused")

    def stop(self) -> None:
        """End the run after the batch in progress; computed results are kept."""
        if self.state not in ("running", "paused"):
            return
        self.worker.pause()
        self._pause_clock()
        self.set_state("stopped")

    def shutdown(self, timeout_ms: int = SHUTDOWN_WAIT_MS) -> bool:
        """Stop the worker thread, waiting at most ``timeout_ms`` (False: it is still finishing its batch
        in the background, results ignored; ``busy`` says when it has ended)."""
        stopped = self.worker.shutdown(timeout_ms)
        if self.state in ("running", "paused"):
            self._pause_clock()
            self.set_state("stopped")
        return stopped

    @property
    def busy(self) -> bool:
        """True while any worker thread, a retired one included, is still running."""
        return self.worker.busy

    def ensure_worker(self) -> None:
        """Start a worker thread for the plan unless one is running."""
        if not self.worker.active and self.run is not None:
            self.worker.start(self.run, self._done())

    def request(self, index: int) -> None:
        """Compute batch ``index`` next (announced with ``sigBatch``), whether or not the run is going."""
        self.ensure_worker()
        self.worker.request(index)

    def batch_fetcher(self) -> Callable[[int], BatchResult]:
        """A function computing batch ``index`` through the worker (callable from any thread; exports use it)."""
        self.ensure_worker()
        return self.worker.fetch

    def when_idle(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` once no worker thread is running (now, if none is)."""
        self.worker.when_idle(callback)

    def set_state(self, state: str) -> None:
        """Enter ``state`` (one of ``RUN_STATES``), announcing a change with ``sigStateChanged``."""
        if state != self.state:
            self.state = state
            self.sigStateChanged.emit(state)

    def _resume_clock(self) -> None:
        if self._active_since is None:
            self._active_since = time.perf_counter()

    def _pause_clock(self) -> None:
        if self._active_since is not None:
            self._active_seconds += time.perf_counter() - self._active_since
            self._active_since = None

    # ------------------------------------------------------------------ batches from the worker
    def count(self, result: BatchResult) -> None:
        """Count a newly stored batch towards the progress (its patterns towards the rate while the run goes)."""
        if self._active_since is not None:
            self._patterns_this_run += int(result.groups.size)
        self._groups_done += len(result.group_indices)

    @Slot(object)
    def _on_batch(self, result: BatchResult) -> None:
        try:
            self.sigBatch.emit(result)
        finally:
            self.worker.ack()

    @Slot(object)
    def _on_fetched(self, result: BatchResult) -> None:
        try:
            self.sigFetched.emit(result)
        finally:
            self.worker.ack()

    @Slot()
    def _on_worker_stopped(self) -> None:
        """A worker thread ended: a run it was driving cannot go on."""
        if not self.worker.active and self.state in ("running", "paused"):
            self._pause_clock()
            self.set_state("stopped")

    @Slot()
    def _on_run_complete(self) -> None:
        self._pause_clock()
        self.sigRunComplete.emit()
        if self.state in ("running", "paused"):
            self.set_state("finished")

    @Slot(str, str)
    def _on_failed(self, message: str, details: str) -> None:
        self._pause_clock()
        self.set_state("stopped")
        self.sigFailed.emit(message, details)

    def progress(self) -> Progress:
        """Batches done, throughput (patterns/s over active run time) and time left (only while running)."""
        elapsed = self._active_seconds
        if self._active_since is not None:
            elapsed += time.perf_counter() - self._active_since
        rate = self._patterns_this_run / elapsed if elapsed > 0 and self._patterns_this_run else None
        left = None
        if rate and self.run is not None and self.state == "running":
            left = (self.run.n_groups - self._groups_done) * self.run.groups.shape[1] / rate
        return Progress(len(self._done()), self.n_batches, rate, left)

    def device_status(self, settings: RunSettings) -> str:
        """'device · memory' text for the status bar."""
        if self.run is None:
            return f"device {settings.device}"
        used = memory_in_use(self.run.device)
        if used is None:
            used = _process_rss()
            where = "process"
        else:
            where = "device"
        memory = f" · {where} memory {used / 2**20:,.0f} MiB" if used is not None else ""
        return f"{device_label(self.run.device)}{self._threads_text(settings)}{memory}"

    def _threads_text(self, settings: RunSettings) -> str:
        """' · N torch threads' for CPU runs (all cores but one by default), else ''."""
        if self.run is None or self.run.device.type != "cpu":
            return ""
        threads = settings.num_threads or torch.get_num_threads()
        return f" · {threads} torch thread{'s' if threads != 1 else ''}"


def _process_rss() -> int | None:
    """Resident memory of this process in bytes (Linux /proc), or None elsewhere."""
    try:
        with open("/proc/self/statm") as handle:
            pages = int(handle.read().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE")
