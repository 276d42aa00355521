"""Event-loop latency: a short heartbeat timer whose lateness measures how long the GUI thread stalls."""

from __future__ import annotations

import time

import numpy as np
from PySide6.QtCore import QObject, Qt, QTimer, Slot

HEARTBEAT_MS = 10


class LatencyMonitor(QObject):
    """Records, for every heartbeat, how late it fired (ms) relative to the previous one plus the interval."""

    def __init__(self, interval_ms: int = HEARTBEAT_MS, parent: QObject | None = None):
        super().__init__(parent)
        self.interval_ms = interval_ms
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._tick)
        self._last: float | None = None
        self._started: float | None = None
        self._stopped: float | None = None
        self.lateness_ms: list[float] = []

    def start(self) -> None:
        """Start (or restart) measuring."""
        self.lateness_ms = []
        self._started = self._last = time.perf_counter()
        self._stopped = None
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()
        self._stopped = time.perf_counter()

    @Slot()
    def _tick(self) -> None:
        now = time.perf_counter()
        if self._last is not None:
            self.lateness_ms.append(max(0.0, (now - self._last) * 1000 - self.interval_ms))
        self._last = now

    def report(self) -> dict:
        """count, p50, p99 and max lateness in ms, the heartbeat interval, and the measured wall time."""
        late = np.asarray(self.lateness_ms, dtype=float)
        end = self._stopped if self._stopped is not None else time.perf_counter()
        wall = end - self._started if self._started is not None else 0.0
        if late.size == 0:
            return {"count": 0, "p50_ms": None, "p99_ms": None, "max_ms": None,
                    "interval_ms": self.interval_ms, "wall_seconds": wall}
        return {
            "count": int(late.size),
            "p50_ms": float(np.percentile(late, 50)),
            "p99_ms": float(np.percentile(late, 99)),
            "max_ms": float(late.max()),
            "interval_ms": self.interval_ms,
            "wall_seconds": wall,
        }
