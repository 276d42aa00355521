"""Redraws spread over event-loop turns, so no single turn pays for repainting every view at once.

When a batch arrives every view has something new to draw. Drawing them all in one slot, followed by
one repaint of the whole window, stalls the GUI for the sum of all their costs. The queue runs one
redraw per turn: Qt paints that view before the next redraw starts, so the longest stall is the
costliest single view. Requests for the same key coalesce, and hidden views redraw when shown.
A request may also ask for a minimum interval between two runs of its key (a view that repaints a
whole multi-plot widget need not do so for every batch): it then waits until the interval is over.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer, Slot
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import QWidget

FOLLOW_INTERVAL_MS = 250
"""Views that follow every batch (patch grid, offsets) redraw at most this often: faster batches coalesce."""


class RedrawQueue(QObject):
    """Runs queued callbacks one per event-loop turn, in request order, each key at most once."""

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._pending: OrderedDict[object, Callable[[], None]] = OrderedDict()
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self._run_next)
        self._deferred: dict[object, tuple[float, Callable[[], None]]] = {}
        """key → (when it may run, perf_counter seconds; callback) for requests waiting out their interval."""
        self._last_run: dict[object, float] = {}
        self._deferred_timer = QTimer(self)
        self._deferred_timer.setSingleShot(True)
        self._deferred_timer.timeout.connect(self._release_due)

    def request(self, key: object, callback: Callable[[], None], min_interval_ms: float = 0.0) -> None:
        """Queue ``callback`` under ``key`` (a later request for a queued key replaces its callback).

        With ``min_interval_ms`` the callback runs no sooner than that after the key's previous run.
        """
        if key in self._deferred:
            self._deferred[key] = (self._deferred[key][0], callback)
            return
        if min_interval_ms > 0 and key not in self._pending:
            due = self._last_run.get(key, float("-inf")) + min_interval_ms / 1000
            if due > time.perf_counter():
                self._deferred[key] = (due, callback)
                self._arm_deferred()
                return
        self._pending[key] = callback
        if not self._timer.isActive():
            self._timer.start()

    def flush(self) -> None:
        """Run everything queued now, waiting requests included (for screenshots and tests)."""
        self._release_due(everything=True)
        while self._pending:
            self._run_next()

    def clear(self) -> None:
        self._pending.clear()
        self._deferred.clear()
        self._timer.stop()
        self._deferred_timer.stop()

    def _arm_deferred(self) -> None:
        """Wake up when the earliest waiting request is due."""
        if self._deferred:
            wait_ms = (min(due for due, _ in self._deferred.values()) - time.perf_counter()) * 1000
            self._deferred_timer.start(max(0, int(wait_ms) + 1))

    @Slot()
    def _release_due(self, everything: bool = False) -> None:
        """Move waiting requests whose interval is over (all of them with ``everything``) to the queue."""
        now = time.perf_counter()
        for key, (due, callback) in list(self._deferred.items()):
            if everything or due <= now:
                del self._deferred[key]
                self._pending[key] = callback
        if self._pending and not self._timer.isActive():
            self._timer.start()
        self._arm_deferred()

    @Slot()
    def _run_next(self) -> None:
        if not self._pending:
            return
        key, callback = self._pending.popitem(last=False)
        self._last_run[key] = time.perf_counter()
        callback()
        if self._pending and not self._timer.isActive():
            self._timer.start()


class QueuedRedraw:
    """Mixin for view widgets with a ``redraw()`` method: ``request_redraw()`` queues it; hidden views wait."""

    _redraws: RedrawQueue
    _stale: bool = False
    REDRAW_INTERVAL_MS: float = 0.0
    """Minimum time between two redraws of this view (0: as soon as requested)."""

    def request_redraw(self) -> None:
        self._redraws.request(self, self._redraw_if_visible, min_interval_ms=self.REDRAW_INTERVAL_MS)

    def _redraw_if_visible(self) -> None:
        if isinstance(self, QWidget) and not self.isVisible():
            self._stale = True
            return
        self._stale = False
        self.redraw()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._stale:
            self.request_redraw()
