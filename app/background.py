"""One background thread for view computations (comparison metrics, residuals), results back on the GUI thread.

Jobs run one at a time, in order, on a private QThreadPool of one thread; each job's result (or its
error message) is delivered to its callback on the GUI thread through a queued signal. Views use it so
their science never runs on the GUI thread.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot

from ptycho_gui.errors import PtychoGuiError


class _Relay(QObject):
    """Carries a finished job's callback and outcome from the pool thread to the GUI thread."""

    finished = Signal(object, object, object)
    """(callback, result, error message or None)."""


class _Job(QRunnable):
    def __init__(self, work: Callable[[], object], callback: Callable[[object, str | None], None], relay: _Relay):
        super().__init__()
        self._work, self._callback, self._relay = work, callback, relay

    def run(self) -> None:
        try:
            result, error = self._work(), None
        except (PtychoGuiError, ValueError, RuntimeError, OSError, MemoryError) as exc:
            result, error = None, f"{exc}\n\n{traceback.format_exc()}"
        self._relay.finished.emit(self._callback, result, error)


class BackgroundQueue(QObject):
    """Runs submitted jobs one at a time off the GUI thread; ``callback(result, error)`` runs on the GUI thread."""

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._relay = _Relay(self)
        self._relay.finished.connect(self._deliver)
        self.pending = 0
        """Jobs submitted whose callback has not run yet."""

    def submit(self, work: Callable[[], object], callback: Callable[[object, str | None], None]) -> None:
        """Queue ``work``; its result (or the error message of an expected failure) goes to ``callback``."""
        self.pending += 1
        self._pool.start(_Job(work, callback, self._relay))

    @Slot(object, object, object)
    def _deliver(self, callback, result, error) -> None:
        self.pending -= 1
        callback(result, error)

    def wait(self, timeout_ms: int = 30_000) -> bool:
        """Block until every queued job has run (shutdown and tests)."""
        return self._pool.waitForDone(timeout_ms)
