"""The inference worker: one long-lived QThread computing batches, driven by thread-safe controls.

``InferenceWorker.run`` loops in its own thread; the GUI steers it only through ``threading``
primitives (a queued slot would never run while the loop runs). A credit semaphore bounds the
batches in flight so a fast device cannot flood the GUI: the GUI returns a credit (``ack``) after
it has handled each batch. ``WorkerController`` lives in the GUI thread, owns the thread and the
worker, and re-emits the worker's signals from the GUI thread (tests may wait on those).
"""

from __future__ import annotations

import queue
import threading
import traceback

import torch
from PySide6.QtCore import QObject, QThread, Signal, Slot

from ptycho_gui.engine.run import InferenceRun
from ptycho_gui.errors import PtychoGuiError

MAX_IN_FLIGHT = 2
POLL_SECONDS = 0.05
WORKER_ERRORS = (PtychoGuiError, RuntimeError, OSError, ValueError, KeyError, IndexError, MemoryError)
"""Failures a forward pass or a pattern read can raise; they are reported, never swallowed."""


class InferenceWorker(QObject):
    """Computes batches of one ``InferenceRun``: the sequential run and on-demand requests."""

    sigBatch = Signal(object)
    """(generation, BatchResult) of every batch computed."""
    sigRunComplete = Signal(int)
    """generation: the sequential run has no batch left to compute."""
    sigFailed = Signal(int, str, str)
    """generation, one-line message, formatted traceback."""
    sigFinished = Signal(int)
    """generation: the loop has ended (always emitted, even after a failure)."""

    def __init__(self, run: InferenceRun, done: set[int], generation: int, max_in_flight: int = MAX_IN_FLIGHT):
        super().__init__()
        self._run = run
        self._generation = generation
        self._done = set(done)
        self._requests: queue.SimpleQueue[int] = queue.SimpleQueue()
        self._running = threading.Event()
        self._quit = threading.Event()
        self._wake = threading.Event()
        self._credits = threading.Semaphore(max_in_flight)

    # Thread-safe controls: the GUI thread calls these directly.
    def start_run(self) -> None:
        """Compute every batch not yet computed, in order."""
        self._running.set()
        self._wake.set()

    def pause(self) -> None:
        """Stop starting sequential batches (on-demand requests are still served)."""
        self._running.clear()

    def request(self, index: int) -> None:
        """Compute batch ``index`` next, whether or not the run is going."""
        self._requests.put(index)
        self._wake.set()

    def shutdown(self) -> None:
        """End the loop after the batch in progress."""
        self._running.clear()
        self._quit.set()
        self._wake.set()

    def ack(self) -> None:
        """The GUI has handled one batch: give back its credit."""
        self._credits.release()

    @Slot()
    def run(self) -> None:
        """The worker loop (runs in the worker thread until ``shutdown``)."""
        try:
            self._run.prepare_thread()
            with torch.inference_mode():
                self._loop()
        except WORKER_ERRORS as exc:
            self.sigFailed.emit(self._generation, str(exc) or type(exc).__name__, traceback.format_exc())
        finally:
            self.sigFinished.emit(self._generation)

    def _loop(self) -> None:
        while not self._quit.is_set():
            self._wake.clear()
            if not self._has_work():
                self._wake.wait(POLL_SECONDS)
                continue
            if not self._credits.acquire(timeout=POLL_SECONDS):
                continue
            index = self._next_index()
            if index is None:
                self._credits.release()
                continue
            result = self._run.compute_batch(index)
            self._done.add(index)
            self.sigBatch.emit((self._generation, result))

    def _has_work(self) -> bool:
        return not self._requests.empty() or self._running.is_set()

    def _next_index(self) -> int | None:
        while not self._requests.empty():
            index = self._requests.get_nowait()
            if 0 <= index < self._run.n_batches:
                return index
        if not self._running.is_set():
            return None
        for index in range(self._run.n_batches):
            if index not in self._done:
                return index
        self._running.clear()
        self.sigRunComplete.emit(self._generation)
        return None


class WorkerController(QObject):
    """GUI-thread owner of the worker thread; re-emits the worker's signals in the GUI thread.

    Results of a worker that was replaced or shut down are dropped (each worker has a generation).
    """

    sigBatch = Signal(object)
    """A BatchResult, in the GUI thread. Call ``ack()`` once it has been handled."""
    sigRunComplete = Signal()
    sigFailed = Signal(str, str)
    """One-line message, formatted traceback."""
    sigStopped = Signal()
    """The worker thread has ended."""

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._thread: QThread | None = None
        self._worker: InferenceWorker | None = None
        self._generation = 0

    @property
    def active(self) -> bool:
        """True while a worker thread exists."""
        return self._worker is not None

    def start(self, run: InferenceRun, done: set[int]) -> None:
        """Start a worker thread for ``run``; batches in ``done`` are skipped by the sequential run."""
        self.shutdown()
        self._generation += 1
        thread = QThread()
        thread.setObjectName(f"ptycho-gui inference {self._generation}")
        worker = InferenceWorker(run, done, self._generation)
        worker.moveToThread(thread)
        thread.started.connect(worker.run)
        worker.sigFinished.connect(thread.quit)
        thread.finished.connect(worker.deleteLater)
        worker.sigBatch.connect(self._on_batch)
        worker.sigRunComplete.connect(self._on_run_complete)
        worker.sigFailed.connect(self._on_failed)
        worker.sigFinished.connect(self._on_finished)
        self._thread, self._worker = thread, worker
        thread.start()

    def start_run(self) -> None:
        if self._worker is not None:
            self._worker.start_run()

    def pause(self) -> None:
        if self._worker is not None:
            self._worker.pause()

    def request(self, index: int) -> None:
        if self._worker is not None:
            self._worker.request(index)

    def ack(self) -> None:
        if self._worker is not None:
            self._worker.ack()

    def shutdown(self, timeout_ms: int = 30_000) -> bool:
        """Stop the worker and wait for its thread; True when no thread is left running."""
        thread, worker = self._thread, self._worker
        if thread is None or worker is None:
            return True
        worker.shutdown()
        thread.quit()
        stopped = thread.wait(timeout_ms)
        if stopped:
            self._thread = None
            self._worker = None
            self._generation += 1
        return stopped

    @Slot(object)
    def _on_batch(self, payload: tuple[int, object]) -> None:
        generation, result = payload
        if generation == self._generation:
            self.sigBatch.emit(result)

    @Slot(int)
    def _on_run_complete(self, generation: int) -> None:
        if generation == self._generation:
            self.sigRunComplete.emit()

    @Slot(int, str, str)
    def _on_failed(self, generation: int, message: str, details: str) -> None:
        if generation == self._generation:
            self.sigFailed.emit(message, details)

    @Slot(int)
    def _on_finished(self, generation: int) -> None:
        if generation != self._generation or self._thread is None:
            return
        self._thread.quit()
        if self._thread.wait(5_000):
            self._thread = None
            self._worker = None
            self._generation += 1
            self.sigStopped.emit()
