"""GUI-thread CPU time per event-loop turn during a run, and which turns were long (for a loaded machine).

On a machine shared with other jobs, wall-clock stalls measure the scheduler more than the app. This
script measures the GUI thread's own CPU time (``time.thread_time``): a 10 ms heartbeat records the
CPU the GUI thread spent between two beats (the CPU counterpart of ``ui_latency.py``'s lateness),
and the app's per-batch entry points are timed the same way: each queued redraw (named by its view),
each canvas refresh, each batch slot, each window repaint (all dirty widgets together), each
decimated-positions refresh. With ``--profile`` every heartbeat gap above ``--long-ms`` of CPU is
profiled (cProfile, GUI thread) and its top functions are printed.

    python benchmarks/gui_turns.py [--generate 50000 | --dataset P] [--batches 40] [--batch-size 32]
                                   [--threads T] [--profile] [--long-ms 30] [--json out.json]

Prints, last: heartbeat-gap CPU p50 / p99 / max, the number of gaps above 30 ms and 100 ms of CPU,
and per entry point its count, median, max and total CPU (ms).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import shutil
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QEventLoop, QSettings, Qt, QTimer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ui_latency import generate_scan

from ptycho_gui.app import position_cloud, redraw_queue
from ptycho_gui.app import session as session_module
from ptycho_gui.app.main import make_application
from ptycho_gui.app.main_window import MainWindow
from ptycho_gui.app.plot_helpers import configure_pyqtgraph
from ptycho_gui.app.session import default_num_threads
from ptycho_gui.demo import demo_paths
from ptycho_gui.io.checkpoints import open_checkpoint
from ptycho_gui.types import RunSettings

RUN_TIMEOUT_MS = 600_000


class TurnLog:
    """CPU milliseconds of named GUI-thread calls, and of every heartbeat gap (with the calls inside it)."""

    def __init__(self, long_ms: float, profile: bool):
        self.calls: dict[str, list[float]] = defaultdict(list)
        self.gaps: list[float] = []
        self.long: list[tuple[float, list[tuple[str, float]], str]] = []
        self._in_gap: list[tuple[str, float]] = []
        self._depth = 0
        self._last = time.thread_time()
        self.long_ms = long_ms
        self.profile = profile
        self._profiler: cProfile.Profile | None = None
        self.active = False

    def timed(self, name: str, call, *args, **kwargs):
        """Run ``call`` and record its GUI-thread CPU under ``name`` (outermost calls only)."""
        if not self.active or self._depth:
            return call(*args, **kwargs)
        self._depth += 1
        start = time.thread_time()
        try:
            return call(*args, **kwargs)
        finally:
            self._depth -= 1
            cpu = (time.thread_time() - start) * 1000
            self.calls[name].append(cpu)
            self._in_gap.append((name, cpu))

    def start(self) -> None:
        """Begin recording: the first gap starts now."""
        self.active = True
        self._in_gap = []
        if self.profile:
            self._profiler = cProfile.Profile()
            self._profiler.enable()
        self._last = time.thread_time()

    def beat(self) -> None:
        now = time.thread_time()
        gap = (now - self._last) * 1000
        profiler, self._profiler = self._profiler, None
        if profiler is not None:
            profiler.disable()
        if self.active:
            self.gaps.append(gap)
            if gap > self.long_ms:
                text = ""
                if profiler is not None:
                    out = io.StringIO()
                    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(12)
                    text = out.getvalue()
                self.long.append((gap, self._in_gap, text))
        self._in_gap = []
        if self.active and self.profile:
            self._profiler = cProfile.Profile()
            self._profiler.enable()
        self._last = time.thread_time()


def view_name(key: object) -> str:
    """A readable name for a RedrawQueue key (a view, or (view, part))."""
    if isinstance(key, tuple):
        return "redraw " + ".".join(type(k).__name__ if not isinstance(k, str) else k for k in key)
    return "redraw " + type(key).__name__


def instrument(log: TurnLog) -> None:
    """Wrap the app's per-batch GUI-thread entry points (before the window is built)."""
    queue_run = redraw_queue.RedrawQueue._run_next

    def run_next(self):
        if not self._pending:
            return None
        key = next(iter(self._pending))
        return log.timed(view_name(key), queue_run, self)

    redraw_queue.RedrawQueue._run_next = run_next
    for cls, method, name in ((session_module.Session, "_refresh_canvas", "canvas refresh (Stitcher.canvas)"),
                              (session_module.Session, "_on_batch", "batch slot (_on_batch)"),
                              (position_cloud.PositionCloud, "refresh", "positions decimation"),
                              (pg.AxisItem, "generateDrawSpecs", "axis generateDrawSpecs")):
        original = getattr(cls, method)

        def wrapped(self, *args, _original=original, _name=name):
            return log.timed(_name, _original, self, *args)

        setattr(cls, method, wrapped)


class ProfiledWindow(MainWindow):
    """The main window, its whole-window repaints (every dirty widget, one UpdateRequest) timed."""

    log: TurnLog

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.UpdateRequest:
            return self.log.timed("window repaint", super().event, event)
        return super().event(event)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--checkpoint", type=Path, default=None, help="default: the built-in demo checkpoint")
    parser.add_argument("--dataset", type=Path, default=None)
    parser.add_argument("--generate", type=int, default=50_000, metavar="M")
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=default_num_threads())
    parser.add_argument("--profile", action="store_true", help="cProfile every long heartbeat gap")
    parser.add_argument("--long-ms", type=float, default=30.0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    checkpoint = args.checkpoint or demo_paths()[0]
    scratch = None
    if args.dataset is None:
        scratch = Path(tempfile.mkdtemp(prefix="ptycho-gui-turns-"))
        args.dataset = scratch / f"scan_{args.generate}.h5"
        generate_scan(args.dataset, args.generate, open_checkpoint(checkpoint).N)
    print(f"load average at the start: {os.getloadavg()[0]:.2f}")
    log = TurnLog(args.long_ms, args.profile)
    instrument(log)
    ProfiledWindow.log = log
    configure_pyqtgraph()
    app = make_application()
    settings_file = Path(tempfile.mkdtemp(prefix="ptycho-gui-turns-settings-")) / "settings.ini"
    run_settings = RunSettings(device="cpu", batch_size=args.batch_size, num_threads=args.threads)
    window = ProfiledWindow(QSettings(str(settings_file), QSettings.Format.IniFormat), run_settings)
    window.show()
    app.processEvents()
    if not window.open_files([checkpoint, args.dataset]):
        print(f"cannot open the inputs: {window.last_error}", file=sys.stderr)
        return 3
    session = window.session
    batches = min(args.batches, session.n_batches)
    print(f"{len(session.dataset.xcoords)} positions, {batches} of {session.n_batches} batches of {args.batch_size}, "
          f"torch threads {args.threads}, canvas {session.canvas.image.shape if session.canvas else None}")
    session.redraws.flush()  # the window's first layout and paints after opening are not part of the run
    app.processEvents()
    heartbeat = QTimer()
    heartbeat.setTimerType(Qt.TimerType.PreciseTimer)
    heartbeat.setInterval(10)
    heartbeat.timeout.connect(log.beat)
    loop = QEventLoop()
    session.sigBatchComputed.connect(lambda _i: loop.quit() if len(session.done) >= batches else None)
    session.sigRunStateChanged.connect(lambda state: loop.quit() if state in ("finished", "stopped") else None)
    QTimer.singleShot(RUN_TIMEOUT_MS, loop.quit)
    heartbeat.start()
    log.start()
    wall, cpu = time.perf_counter(), time.thread_time()
    QTimer.singleShot(0, session.start)
    loop.exec()
    wall, cpu = time.perf_counter() - wall, time.thread_time() - cpu
    log.active = False
    heartbeat.stop()
    session.stop()
    session.shutdown(RUN_TIMEOUT_MS)
    for gap, calls, text in log.long:
        inside = ", ".join(f"{name} {ms:.1f}" for name, ms in calls) or "(nothing timed)"
        print(f"long gap {gap:.1f} ms CPU: {inside}")
        if text:
            print("\n".join(line for line in text.splitlines()[6:24] if line.strip()))
    gaps = np.asarray(log.gaps)
    figures = {
        "load_average_end": os.getloadavg()[0], "batches": batches, "wall_seconds": wall,
        "gui_cpu_seconds": cpu, "gap_p50_ms": float(np.percentile(gaps, 50)),
        "gap_p99_ms": float(np.percentile(gaps, 99)), "gap_max_ms": float(gaps.max()),
        "gaps": int(gaps.size), "gaps_over_30": int((gaps > 30).sum()), "gaps_over_100": int((gaps > 100).sum()),
        "calls": {name: {"count": len(v), "median_ms": statistics.median(v), "max_ms": max(v), "total_ms": sum(v)}
                  for name, v in sorted(log.calls.items(), key=lambda item: -sum(item[1]))},
    }
    print(f"\nload average at the end: {figures['load_average_end']:.2f}; {batches} batches in {wall:.1f} s wall, "
          f"GUI thread CPU {cpu:.2f} s")
    print("entry point                               count  median    max   total (ms of GUI-thread CPU)")
    for name, row in figures["calls"].items():
        print(f"  {name:40s} {row['count']:5d} {row['median_ms']:7.1f} {row['max_ms']:6.1f} {row['total_ms']:8.0f}")
    print(f"heartbeat-gap CPU: p50 {figures['gap_p50_ms']:.1f} ms, p99 {figures['gap_p99_ms']:.1f} ms, "
          f"max {figures['gap_max_ms']:.1f} ms over {figures['gaps']} gaps; above 30 ms: {figures['gaps_over_30']}, "
          f"above 100 ms: {figures['gaps_over_100']}")
    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    window.close()
    app.processEvents()
    if scratch is not None:
        shutil.rmtree(scratch)
    return 0


if __name__ == "__main__":
    sys.exit(main())
