"""Redraws spread over event-loop turns, so no single turn pays for repainting every view at once.

When a batch arrives every view has something new to draw. Drawing them all in one slot, followed by
one repaint of the whole window, stalls the GUI for the sum of all their costs. The queue runs one
redraw per turn: Qt paints that view before the next redraw starts, so the longest stall is the
costliest single view. Requests for the same key coalesce, and hidden views redraw when shown.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer, Slot
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import QWidget


class RedrawQueue(QObject):
    """Runs queued callbacks one per event-loop turn, in request order, each key at most once."""

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._pending: OrderedDict[object, Callable[[], None]] = OrderedDict()
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self._run_next)

    def request(self, key: object, callback: Callable[[], None]) -> None:
        """Queue ``callback`` under ``key`` (a later request for a queued key replaces its callback)."""
        self._pending[key] = callback
        if not self._timer.isActive():
            self._timer.start()

    def flush(self) -> None:
        """Run everything queued now (for screenshots and tests)."""
        while self._pending:
            self._run_next()

    def clear(self) -> None:
        self._pending.clear()
        self._timer.stop()

    @Slot()
    def _run_next(self) -> None:
        if not self._pending:
            return
        _, callback = self._pending.popitem(last=False)
        callback()
        if self._pending and not self._timer.isActive():
            self._timer.start()


class QueuedRedraw:
    """Mixin for view widgets with a ``redraw()`` method: ``request_redraw()`` queues it; hidden views wait."""

    _redraws: RedrawQueue
    _stale: bool = False

    def request_redraw(self) -> None:
        self._redraws.request(self, self._redraw_if_visible)

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
