"""The inference worker: one long-lived QThread computing batches, driven by thread-safe controls.

``InferenceWorker.run`` loops in its own thread; the GUI steers it only through ``threading``
primitives (a queued slot would never run while the loop runs). A credit semaphore bounds the
batches in flight so a fast device cannot flood the GUI: the GUI returns a credit (``ack``) after
it has handled each batch. ``WorkerController`` lives in the GUI thread, owns the thread and the
worker, and re-emits the worker's signals from the GUI thread (tests may wait on those).

The worker thread is a boundary: every exception it raises is reported (``sigFailed``), never lost
with the thread. Shutting down never blocks the GUI thread for long: a thread still inside a slow
batch is retired (its late results ignored) and kept referenced until it ends; ``when_idle`` runs
cleanup (closing the files it reads) only once no worker thread is left.

On-demand batches for other threads (exports, previews) go through the same loop: ``fetch(index)``
queues a request with a future and blocks its caller until the worker has computed it, so the
credits hold and the network never runs two forward passes at once. The result also reaches the GUI
(``sigFetched``) so the session stores it. A worker that ends fails the futures it still holds.
"""

from __future__ import annotations

import queue
import threading
import traceback
from collections.abc import Callable
from concurrent.futures import Future

import torch
from PySide6.QtCore import QObject, QThread, Signal, Slot

from ptycho_gui.engine.run import InferenceRun
from ptycho_gui.errors import PtychoGuiError
from ptycho_gui.types import BatchResult

MAX_IN_FLIGHT = 2
POLL_SECONDS = 0.05
SHUTDOWN_WAIT_MS = 80
"""How long the GUI thread waits for a worker to stop before retiring it (kept alive, results ignored)."""


class InferenceWorker(QObject):
    """Computes batches of one ``InferenceRun``: the sequential run and on-demand requests."""

    sigBatch = Signal(object)
    """(generation, BatchResult, fetched) of every batch computed; ``fetched``: asked for by ``fetch``."""
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
        self._requests: queue.SimpleQueue[tuple[int, Future | None]] = queue.SimpleQueue()
        self._futures: list[Future] = []
        self._futures_lock = threading.Lock()
        self._ended = False
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
        self._requests.put((index, None))
        self._wake.set()

    def fetch(self, index: int) -> Future:
        """Compute batch ``index`` next for another thread: the future gets the BatchResult (or the failure)."""
        future: Future = Future()
        with self._futures_lock:
            if self._ended:
                future.set_exception(RuntimeError("the inference worker has stopped"))
                return future
            self._futures.append(future)
        self._requests.put((index, future))
        self._wake.set()
        return future

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
        except Exception as exc:  # the thread boundary: anything escaping would end the thread unreported
            self.sigFailed.emit(self._generation, failure_message(exc), traceback.format_exc())
        finally:
            self._fail_futures()
            self.sigFinished.emit(self._generation)

    def _fail_futures(self) -> None:
        """The loop has ended: every batch still promised to another thread fails (its caller stops waiting)."""
        with self._futures_lock:
            self._ended = True
            futures, self._futures = self._futures, []
        for future in futures:
            if not future.done():
                future.set_exception(RuntimeError("the inference worker stopped before computing the batch"))

    def _loop(self) -> None:
        while not self._quit.is_set():
            self._wake.clear()
            if not self._has_work():
                self._wake.wait(POLL_SECONDS)
                continue
            if not self._credits.acquire(timeout=POLL_SECONDS):
                continue
            index, future = self._next_index()
            if index is None:
                self._credits.release()
                continue
            result = self._run.compute_batch(index)
            self._done.add(index)
            if future is not None:
                with self._futures_lock:
                    self._futures.remove(future)
                future.set_result(result)
            self.sigBatch.emit((self._generation, result, future is not None))

    def _has_work(self) -> bool:
        return not self._requests.empty() or self._running.is_set()

    def _next_index(self) -> tuple[int | None, Future | None]:
        while not self._requests.empty():
            index, future = self._requests.get_nowait()
            if 0 <= index < self._run.n_batches:
                return index, future
            if future is not None:
                future.set_exception(IndexError(f"batch {index} is outside 0–{self._run.n_batches - 1}"))
        if not self._running.is_set():
            return None, None
        for index in range(self._run.n_batches):
            if index not in self._done:
                return index, None
        self._running.clear()
        self.sigRunComplete.emit(self._generation)
        return None, None


def failure_message(exc: BaseException) -> str:
    """One line for the user: an input problem's own message, anything else prefixed with its type."""
    text = " ".join(str(exc).split())
    if isinstance(exc, PtychoGuiError):
        return text or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class WorkerController(QObject):
    """GUI-thread owner of the worker thread; re-emits the worker's signals in the GUI thread.

    Results of a worker that was replaced or shut down are dropped (each worker has a generation).
    """

    sigBatch = Signal(object)
    """A BatchResult, in the GUI thread. Call ``ack()`` once it has been handled."""
    sigFetched = Signal(object)
    """A BatchResult computed for ``fetch`` (another thread has it too). Call ``ack()`` once it has been handled."""
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
        self._retired: list[tuple[QThread, InferenceWorker]] = []
        self._idle_callbacks: list[Callable[[], None]] = []

    @property
    def active(self) -> bool:
        """True while a current worker thread exists."""
        return self._worker is not None

    @property
    def busy(self) -> bool:
        """True while any worker thread (the current one or a retired one) is still running."""
        self._forget_finished()
        return self._worker is not None or bool(self._retired)

    def when_idle(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` once no worker thread is running (now, if none is)."""
        if self.busy:
            self._idle_callbacks.append(callback)
        else:
            callback()

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
        thread.finished.connect(self._on_thread_finished)
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

    def fetch(self, index: int) -> BatchResult:
        """Batch ``index`` computed by the current worker (any thread; blocks until it is computed).

        Raises RuntimeError when no worker is running or it stops first.
        """
        worker = self._worker
        if worker is None:
            raise RuntimeError("no inference worker is running")
        return worker.fetch(index).result()

    def ack(self) -> None:
        if self._worker is not None:
            self._worker.ack()

    def shutdown(self, timeout_ms: int = SHUTDOWN_WAIT_MS) -> bool:
        """Stop the worker, waiting at most ``timeout_ms``; True when its thread has ended.

        A thread still computing is retired: its results are ignored from now on and it stays
        referenced until it ends (dropping a running QThread aborts the process).
        """
        thread, worker = self._thread, self._worker
        if thread is None or worker is None:
            return True
        worker.shutdown()
        thread.quit()
        self._thread = None
        self._worker = None
        self._generation += 1
        if thread.wait(timeout_ms):
            self._stopped()
            return True
        self._retired.append((thread, worker))
        return False

    @Slot()
    def _on_thread_finished(self) -> None:
        """A worker thread ended (queued to the GUI thread): forget the retired ones that have finished."""
        self._forget_finished()

    def _forget_finished(self) -> None:
        """Drop the references to retired threads that have ended; report when that leaves none running."""
        running = [pair for pair in self._retired if not pair[0].isFinished()]
        if len(running) == len(self._retired):
            return
        for thread, _worker in self._retired:
            if thread.isFinished():
                # isFinished() is already true while the thread is still emitting finished(): wait for its end
                # before the last reference goes, or the QThread is freed under its own thread (a crash).
                thread.wait()
        self._retired = running
        self._stopped()

    def _stopped(self) -> None:
        """A worker thread ended: tell listeners, and run the idle callbacks when none is left."""
        self.sigStopped.emit()
        if self.busy:
            return
        callbacks, self._idle_callbacks = self._idle_callbacks, []
        for callback in callbacks:
            callback()

    @Slot(object)
    def _on_batch(self, payload: tuple[int, BatchResult, bool]) -> None:
        generation, result, fetched = payload
        if generation == self._generation:
            (self.sigFetched if fetched else self.sigBatch).emit(result)

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
        """The current worker's loop ended on its own (after a failure): retire it without waiting."""
        if generation != self._generation or self._thread is None:
            return
        self._thread.quit()
        self._retired.append((self._thread, self._worker))
        self._thread = None
        self._worker = None
        self._generation += 1
