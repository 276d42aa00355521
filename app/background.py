"""View computations (comparison metrics, residuals, complex layers) one at a time, in order, as background jobs.

Each submitted function runs as a ``Job`` (``app/jobs.py``) after the previous one has finished; its
result (or its error message) is delivered to its callback on the GUI thread. Views use it so their
science never runs on the GUI thread.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

import shiboken6
from PySide6.QtCore import QCoreApplication, QObject

from ptycho_gui.app.jobs import Job

Callback = Callable[[object, str | None], None]


class BackgroundQueue(QObject):
    """Runs submitted jobs one at a time off the GUI thread; ``callback(result, error)`` runs on the GUI thread."""

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._waiting: deque[tuple[Callable[[], object], Callback]] = deque()
        self._running: Job | None = None
        self.pending = 0
        """Jobs submitted whose callback has not run yet."""

    def submit(self, work: Callable[[], object], callback: Callback) -> None:
        """Queue ``work``; its result (or the error message of a failure) goes to ``callback``."""
        self.pending += 1
        self._waiting.append((work, callback))
        self._next()

    def _next(self) -> None:
        if self._running is not None or not self._waiting:
            return
        work, callback = self._waiting.popleft()
        self._running = Job("view computation", work,
                            on_done=lambda result: self._deliver(callback, result, None),
                            on_error=lambda message, details: self._deliver(callback, None, f"{message}\n\n{details}"))
        self._running.start()

    def _deliver(self, callback: Callback, result: object, error: str | None) -> None:
        if not shiboken6.isValid(self):
            return  # the view owning this queue was deleted (its window closed) while the job ran
        self._running = None
        self.pending -= 1
        try:
            callback(result, error)
        finally:
            self._next()

    def wait(self, timeout_ms: int = 30_000) -> bool:
        """Process events until every queued job has run (shutdown and tests); False on timeout."""
        deadline = time.monotonic() + timeout_ms / 1000
        while self.pending and time.monotonic() < deadline:
            QCoreApplication.processEvents()
            time.sleep(0.002)
        return not self.pending
