"""GUI responsiveness and overhead during a full scripted run on CPU.

In one process: run the headless engine (``InferenceRun.execute``) and the desktop app's run over the
same checkpoint, dataset and settings, alternately, several times. For the GUI runs a 10 ms heartbeat
timer measures event-loop lateness (how long the GUI thread was stalled). Prints p50/p99/max stall
and the ratio of GUI run wall time to headless wall time (medians over repeats).

Targets: p99 ≤ 30 ms, max ≤ 100 ms, ratio ≤ 1.15.

    python benchmarks/ui_latency.py [--checkpoint P] [--dataset P] [--batch-size 16] [--threads T]
                                    [--repeats 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QEventLoop, QSettings, QTimer

from ptycho_gui.app.latency import LatencyMonitor
from ptycho_gui.app.main import make_application
from ptycho_gui.app.main_window import MainWindow
from ptycho_gui.app.plot_helpers import configure_pyqtgraph
from ptycho_gui.app.session import default_num_threads
from ptycho_gui.engine.run import InferenceRun
from ptycho_gui.types import RunSettings

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "ptychopinn"
TARGETS = {"p99_ms": 30.0, "max_ms": 100.0, "ratio": 1.15}
RUN_TIMEOUT_MS = 600_000


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--checkpoint", type=Path, default=FIXTURES / "gs2" / "wts.h5.zip")
    parser.add_argument("--dataset", type=Path, default=FIXTURES / "lines_n64_test.npz")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--threads", type=int, default=default_num_threads(),
                        help="torch threads for both runs (default: all cores but one)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    return parser.parse_args(argv)


def headless_seconds(window: MainWindow) -> float:
    """Wall time of the headless engine over the window's files and settings (stitching and stats included)."""
    session = window.session
    run = InferenceRun(session.model, session.dataset, session.settings)
    start = time.perf_counter()
    run.execute()
    return time.perf_counter() - start


def gui_run(window: MainWindow) -> tuple[float, dict]:
    """Re-plan, run to the end inside a real event loop; (wall seconds, heartbeat lateness report)."""
    session = window.session
    session.replan()
    monitor = LatencyMonitor()
    loop = QEventLoop()
    session.sigRunStateChanged.connect(lambda state: loop.quit() if state in ("finished", "stopped") else None)
    QTimer.singleShot(RUN_TIMEOUT_MS, loop.quit)
    monitor.start()
    start = time.perf_counter()
    QTimer.singleShot(0, session.start)
    loop.exec()
    seconds = time.perf_counter() - start
    monitor.stop()
    session.sigRunStateChanged.disconnect()
    if session.state != "finished":
        raise RuntimeError(f"the GUI run ended in state {session.state!r}")
    return seconds, monitor.report()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    configure_pyqtgraph()
    app = make_application()
    settings_file = Path(tempfile.mkdtemp(prefix="ptycho-gui-bench-")) / "settings.ini"
    run_settings = RunSettings(device="cpu", batch_size=args.batch_size, num_threads=args.threads)
    window = MainWindow(QSettings(str(settings_file), QSettings.Format.IniFormat), run_settings)
    window.show()
    app.processEvents()
    if not window.open_files([args.checkpoint, args.dataset]):
        print(f"cannot open the inputs: {window.last_error}", file=sys.stderr)
        return 3
    n_batches = window.session.n_batches
    print(f"{args.checkpoint.name} + {args.dataset.name}: {window.session.run.n_groups} groups, "
          f"{n_batches} batches of {args.batch_size}, torch threads {args.threads}, {os.cpu_count()} CPUs")
    headless_seconds(window)
    headless, gui, reports = [], [], []
    for repeat in range(args.repeats):
        headless.append(headless_seconds(window))
        seconds, report = gui_run(window)
        gui.append(seconds)
        reports.append(report)
        print(f"  repeat {repeat + 1}: headless {headless[-1]:.2f} s, GUI {seconds:.2f} s, "
              f"p50 {report['p50_ms']:.1f} ms, p99 {report['p99_ms']:.1f} ms, max {report['max_ms']:.1f} ms")
    figures = {
        "headless_seconds": statistics.median(headless),
        "gui_seconds": statistics.median(gui),
        "ratio": statistics.median(g / h for g, h in zip(gui, headless, strict=True)),
        "p50_ms": statistics.median(r["p50_ms"] for r in reports),
        "p99_ms": statistics.median(r["p99_ms"] for r in reports),
        "max_ms": max(r["max_ms"] for r in reports),
        "heartbeats": sum(r["count"] for r in reports),
        "batches": n_batches,
        "batch_size": args.batch_size,
        "torch_threads": args.threads,
        "repeats": args.repeats,
    }
    print(f"event-loop stall: p50 {figures['p50_ms']:.1f} ms, p99 {figures['p99_ms']:.1f} ms "
          f"(target ≤ {TARGETS['p99_ms']:.0f}), max {figures['max_ms']:.1f} ms (target ≤ {TARGETS['max_ms']:.0f})")
    print(f"GUI / headless run time: {figures['gui_seconds']:.2f} s / {figures['headless_seconds']:.2f} s = "
          f"{figures['ratio']:.3f} (target ≤ {TARGETS['ratio']})")
    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    window.close()
    window.deleteLater()
    app.processEvents()
    return 0


if __name__ == "__main__":
    sys.exit(main())
