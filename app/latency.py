"""Event-loop latency: a short heartbeat timer whose lateness measures how long the GUI thread stalls.

Lateness is wall-clock time, so on a loaded machine it also counts the time the GUI thread waited for
a core. Each heartbeat therefore also records the GUI thread's own CPU time since the previous one
(``time.thread_time``): the work the app did in that gap, whatever the machine's load.
"""

from __future__ import annotations

import time

import numpy as np
from PySide6.QtCore import QObject, Qt, QTimer, Slot

HEARTBEAT_MS = 10


class LatencyMonitor(QObject):
    """Records, for every heartbeat, how late it fired (ms) and the GUI thread's CPU time (ms) since the last."""

    def __init__(self, interval_ms: int = HEARTBEAT_MS, parent: QObject | None = None):
        super().__init__(parent)
        self.interval_ms = interval_ms
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._tick)
        self._last: float | None = None
        self._last_cpu: float | None = None
        self._started: float | None = None
        self._stopped: float | None = None
        self.lateness_ms: list[float] = []
        self.cpu_ms: list[float] = []
        """GUI-thread CPU time between consecutive heartbeats (the monitor itself runs on the GUI thread)."""

    def start(self) -> None:
        """Start (or restart) measuring."""
        self.lateness_ms = []
        self.cpu_ms = []
        self._started = self._last = time.perf_counter()
        self._last_cpu = time.thread_time()
        self._stopped = None
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()
        self._stopped = time.perf_counter()

    @Slot()
    def _tick(self) -> None:
        now, cpu = time.perf_counter(), time.thread_time()
        if self._last is not None:
            self.lateness_ms.append(max(0.0, (now - self._last) * 1000 - self.interval_ms))
            self.cpu_ms.append((cpu - self._last_cpu) * 1000)
        self._last, self._last_cpu = now, cpu

    def report(self) -> dict:
        """count, p50, p99 and max lateness in ms, the same for GUI-thread CPU per heartbeat gap (``cpu_…``),
        the heartbeat interval, and the measured wall time."""
        late = np.asarray(self.lateness_ms, dtype=float)
        cpu = np.asarray(self.cpu_ms, dtype=float)
        end = self._stopped if self._stopped is not None else time.perf_counter()
        wall = end - self._started if self._started is not None else 0.0
        report: dict = {"count": int(late.size), "interval_ms": self.interval_ms, "wall_seconds": wall}
        for prefix, values in (("", late), ("cpu_", cpu)):
            empty = values.size == 0
            report[f"{prefix}p50_ms"] = None if empty else float(np.percentile(values, 50))
            report[f"{prefix}p99_ms"] = None if empty else float(np.percentile(values, 99))
            report[f"{prefix}max_ms"] = None if empty else float(values.max())
        return report
