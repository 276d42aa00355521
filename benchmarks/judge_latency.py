"""GUI-thread stalls while the Compare and Diffraction docks follow a run: ``python benchmarks/judge_latency.py``.

Runs the demo in the real window (offscreen) twice in one process — once with the Compare dock's
reference removed (no comparisons) and once comparing with objectGuess while the residuals are computed —
and prints the event-loop lateness (p50, p99, max) of each, measured by ``app.latency.LatencyMonitor``.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication

from ptycho_gui.app.latency import LatencyMonitor
from ptycho_gui.app.main import make_application
from ptycho_gui.app.main_window import MainWindow
from ptycho_gui.app.plot_helpers import configure_pyqtgraph
from ptycho_gui.types import RunSettings


def wait_until(condition, timeout_s: float = 900.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("timed out")
        QApplication.processEvents()
        time.sleep(0.002)


def measure(folder: str, compare: bool) -> dict:
    window = MainWindow(QSettings(str(Path(folder) / f"{compare}.ini"), QSettings.Format.IniFormat),
                        RunSettings(device="cpu", num_threads=1, batch_size=16))
    window.resize(1600, 1000)
    window.show()
    assert window.open_demo(), window.last_error
    judge = window.judge
    if not compare:
        judge.compare.set_reference(None)
    monitor = LatencyMonitor()
    monitor.start()
    window.session.start()
    wait_until(lambda: window.session.state == "finished")
    wait_until(lambda: judge.compare.queue.pending == 0 and judge.diffraction.queue.pending == 0)
    monitor.stop()
    report = monitor.report()
    report["comparisons"] = judge.compare.state.compared_batches
    window.session.shutdown()
    window.close()
    return report


def main() -> None:
    make_application()
    configure_pyqtgraph()
    with tempfile.TemporaryDirectory() as folder:
        for compare in (False, True):
            r = measure(folder, compare)
            print(f"{'compare + residual' if compare else 'no comparison    '}: p50 {r['p50_ms']:.1f} ms, "
                  f"p99 {r['p99_ms']:.1f} ms, max {r['max_ms']:.1f} ms over {r['wall_seconds']:.1f} s")


if __name__ == "__main__":
    main()
