"""Background jobs: the one way the GUI runs work that is not the inference loop.

File opening (checkpoint and dataset reading, SHA-256 hashing), re-planning (grouping and the
pattern-energy pass), re-stitching, exports, previews and view computations all run as a ``Job`` on a
pool thread through superqt's ``create_worker`` (the function form of its ``thread_worker``), so the
GUI thread never waits on them. A job is a plain function, or a generator function that yields
``Step`` progress items (a generator job can be cancelled at each yield). A function job given
``with_control=True`` receives a ``JobControl`` first: it reports progress and sees stop requests.

Outcomes come back on the GUI thread: ``on_done(result)``, or ``on_error(message, details)`` for any
exception (expected input errors keep their own one-line message; anything else is prefixed with its
type, as the inference worker reports it). A ``JobLane`` runs one kind of job: submitting a new job
supersedes the current one (cancelled, its late result dropped: a generation counter). ``wait``
keeps the event loop turning while a caller needs the result before it can go on.
"""

from __future__ import annotations

import inspect
import threading
import traceback
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

import shiboken6
from PySide6.QtCore import QEventLoop, QObject, QThreadPool, QTimer, Signal, Slot
from superqt.utils import create_worker

from ptycho_gui.app.worker import failure_message

MIN_POOL_THREADS = 4
"""Jobs mostly read files or wait on the inference worker: a 2-core pool must not queue an open behind two exports."""
WAIT_TIMEOUT_MS = 600_000
_LIVE: set[Job] = set()
"""Jobs started and not finished: kept referenced so their outcome reaches the GUI thread."""


@dataclass(frozen=True)
class Step:
    """Progress of a job: ``done`` of ``total`` units, with a short text for a status line."""

    done: int
    total: int
    text: str = ""


class JobControl:
    """What a running function job uses from its pool thread: report progress, see whether to stop early."""

    def __init__(self, job: Job):
        self._job = job
        self._stop = threading.Event()

    def report(self, done: int, total: int, text: str = "") -> None:
        """Progress, delivered to the job's ``sigProgress`` on the GUI thread."""
        self._job._sigReport.emit(Step(done, total, text))

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()


class JobCancelled(Exception):
    """The job was cancelled or superseded before it produced its result."""


@dataclass(frozen=True)
class _Failure:
    """An exception caught in the pool thread, carried back as the job's return value."""

    exc: BaseException
    details: str


def _guarded_function(call: list) -> Any:
    """Run ``call`` (the work, then its arguments); an exception comes back as a value (the pool thread is a
    boundary)."""
    work, *args = call
    try:
        return work(*args)
    except Exception as exc:  # the thread boundary: every failure is reported on the GUI thread
        return _Failure(exc, traceback.format_exc())


def _guarded_generator(call: list) -> Generator:
    """Run generator work (``call``: the work, then its arguments) step by step; an exception comes back as a value.

    (superqt's generator worker drops a RuntimeError raised inside the generator without a signal.)
    """
    work, *args = call
    try:
        return (yield from work(*args))
    except Exception as exc:  # the thread boundary: every failure is reported on the GUI thread
        return _Failure(exc, traceback.format_exc())


class Job(QObject):
    """One unit of background work with its outcome: ``result``, ``exception`` or ``cancelled``."""

    sigProgress = Signal(object)
    """A ``Step`` yielded by a generator job."""
    sigFinished = Signal()
    """Emitted once, after the outcome is known and its callbacks have run."""
    _sigReport = Signal(object)
    """A Step from ``JobControl.report`` (emitted in the pool thread, delivered on the GUI thread)."""

    def __init__(self, name: str, work: Callable[..., Any], *args: Any,
                 on_done: Callable[[Any], None] | None = None,
                 on_error: Callable[[str, str], None] | None = None,
                 on_progress: Callable[[Step], None] | None = None,
                 with_control: bool = False, parent: QObject | None = None):
        super().__init__(parent)
        self.control = JobControl(self)
        self.name = name
        self.result: Any = None
        self.exception: BaseException | None = None
        self.details = ""
        self.cancelled = False
        self.finished = False
        self._on_done, self._on_error = on_done, on_error
        if on_progress is not None:
            self.sigProgress.connect(on_progress)
        self._sigReport.connect(self._on_yielded)
        if with_control:
            args = (self.control, *args)
        self._call: list = [work, *args]
        """The work and its arguments, emptied on the GUI thread when the job finishes: PySide keeps the pool
        worker itself alive (see ``start``), and dropping the arguments from the pool thread could delete
        Qt objects there."""
        if inspect.isgeneratorfunction(work):
            self._worker = create_worker(_guarded_generator, self._call, _start_thread=False)
            self._worker.yielded.connect(self._on_yielded)
        else:
            self._worker = create_worker(_guarded_function, self._call, _start_thread=False)
        self._worker.returned.connect(self._on_returned)
        self._worker.errored.connect(self._on_errored)
        self._worker.finished.connect(self._on_finished)

    def start(self) -> Job:
        """Queue the job on the pool; returns itself.

        PySide 6 keeps the Python side of a QRunnable given to ``QThreadPool.start`` alive when the pool thread
        deletes it while the GUI thread holds it (most jobs: a fast one finishes while ``outcome`` waits): the
        worker is small once the job has emptied ``_call``. (Handing the pool ``worker.run`` as a callable
        instead frees the worker, but then its last reference, and its signals QObject, can be dropped on the
        pool thread, which deadlocks against the GUI thread deleting widgets.)
        """
        pool = QThreadPool.globalInstance()
        pool.setMaxThreadCount(max(pool.maxThreadCount(), MIN_POOL_THREADS))
        _LIVE.add(self)
        self._worker.start()
        return self

    def stop(self) -> None:
        """Ask the job to stop early (``JobControl.stop_requested``); what it returns is still delivered."""
        self.control._stop.set()

    def cancel(self) -> None:
        """Drop the outcome; a generator job also stops at its next yield, a controlled one when it checks."""
        if not self.finished:
            self.cancelled = True
            self.control._stop.set()
            self._worker.quit()

    def wait(self, timeout_ms: int = WAIT_TIMEOUT_MS) -> bool:
        """Turn the event loop (the GUI stays live) until the job has finished; False on timeout."""
        if self.finished:
            return True
        loop = QEventLoop()
        self.sigFinished.connect(loop.quit)
        QTimer.singleShot(timeout_ms, loop.quit)
        loop.exec()
        self.sigFinished.disconnect(loop.quit)
        return self.finished

    def outcome(self, timeout_ms: int = WAIT_TIMEOUT_MS) -> Any:
        """Wait (event loop turning) and return the result; re-raises the job's exception, or JobCancelled."""
        if not self.wait(timeout_ms):
            self.cancel()
            raise JobCancelled(f"{self.name} did not finish within {timeout_ms / 1000:.0f} s")
        if self.exception is not None:
            raise self.exception
        if self.cancelled:
            raise JobCancelled(f"{self.name} was cancelled")
        return self.result

    @Slot(object)
    def _on_yielded(self, value: object) -> None:
        if isinstance(value, Step) and not self.cancelled:
            self.sigProgress.emit(value)

    @Slot(object)
    def _on_returned(self, value: object) -> None:
        if self.cancelled:
            return
        if isinstance(value, _Failure):
            self.exception, self.details = value.exc, value.details
        else:
            self.result = value

    @Slot(object)
    def _on_errored(self, exc: BaseException) -> None:
        self.exception = exc
        self.details = "".join(traceback.format_exception(exc))

    @Slot()
    def _on_finished(self) -> None:
        self.finished = True
        _LIVE.discard(self)
        if not self.cancelled:
            if self.exception is not None:
                if _receiver_alive(self._on_error):
                    self._on_error(failure_message(self.exception), self.details)
            elif _receiver_alive(self._on_done):
                self._on_done(self.result)
        self.sigFinished.emit()
        self._call.clear()  # the work's arguments (models, datasets, results): not kept past the outcome
        self._worker = None
        self._on_done = self._on_error = None


def unfinished() -> int:
    """How many jobs have started and not finished: each holds its arguments (files, views) until it does."""
    return len(_LIVE)


def _receiver_alive(callback: Callable | None) -> bool:
    """False for no callback, or a method of a Qt object already deleted (its window closed while the job ran)."""
    if callback is None:
        return False
    owner = getattr(callback, "__self__", None)
    return not isinstance(owner, QObject) or shiboken6.isValid(owner)


class JobLane(QObject):
    """Jobs of one kind, one current at a time: a new submission supersedes (cancels) the current one."""

    def __init__(self, name: str, parent: QObject | None = None):
        super().__init__(parent)
        self.name = name
        self.generation = 0
        """Incremented by every submission and cancellation; a job's outcome counts only in its generation."""
        self.current: Job | None = None

    @property
    def busy(self) -> bool:
        return self.current is not None and not self.current.finished

    def submit(self, work: Callable[..., Any], *args: Any, on_done: Callable[[Any], None] | None = None,
               on_error: Callable[[str, str], None] | None = None,
               on_progress: Callable[[Step], None] | None = None, with_control: bool = False) -> Job:
        """Start ``work(*args)`` in the background, superseding the current job of this lane."""
        self.cancel()
        job = Job(self.name, work, *args, on_done=on_done, on_error=on_error, on_progress=on_progress,
                  with_control=with_control)
        self.current = job
        job.sigFinished.connect(self._forget_finished)  # a lambda holding the job would keep it alive forever
        return job.start()

    def cancel(self) -> None:
        """Cancel the current job (its outcome is dropped)."""
        self.generation += 1
        if self.current is not None:
            self.current.cancel()
            self.current = None

    @Slot()
    def _forget_finished(self) -> None:
        if self.current is not None and self.current is self.sender():
            self.current = None
