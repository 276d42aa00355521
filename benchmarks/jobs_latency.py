"""GUI-thread stalls while opening files, re-planning and re-stitching: ``python benchmarks/jobs_latency.py``.

On a generated scan (default 2,025 positions, the built-in demo checkpoint) in one window: open the
checkpoint and the dataset, run every batch, re-plan (a batch-size change), run again, then switch the
stitch mode (a re-stitch of every stored patch). A 10 ms heartbeat (``app.latency.LatencyMonitor``)
measures event-loop lateness during each step and the GUI thread's CPU time between two heartbeats
(what the app itself spent in a stall, whatever the machine's load); prints p50/p99/max of both per
step and its wall time. Target: max ≤ 100 ms for open, re-plan and re-stitch.

``--profile`` also runs each step under cProfile (GUI thread only) and prints its costliest functions,
and times every queued redraw (``RedrawQueue``) by its GUI-thread CPU: the longest turns per step.

``--jobs-only`` runs the same jobs (open checkpoint, open dataset, plan, re-stitch of a filled table)
without a window, with an idle event loop as the control: the lateness the jobs alone cause.

    python benchmarks/jobs_latency.py [--positions 2025] [--checkpoint P] [--batch-size 64] [--jobs-only]
                                      [--profile] [--json out.json]
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
from PySide6.QtCore import QEventLoop, QSettings, QTimer

from ptycho_gui.app.jobs import Job
from ptycho_gui.app.latency import LatencyMonitor
from ptycho_gui.app.main import make_application
from ptycho_gui.app.main_window import MainWindow
from ptycho_gui.app.plot_helpers import configure_pyqtgraph
from ptycho_gui.app.redraw_queue import RedrawQueue
from ptycho_gui.demo import demo_paths
from ptycho_gui.engine.results import RunResults, plan
from ptycho_gui.io.checkpoints import open_checkpoint
from ptycho_gui.io.datasets import open_dataset
from ptycho_gui.types import RunSettings

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ui_latency import generate_scan

TARGET_MAX_MS = 100.0
SETTLE_MS = 500
"""Each step is measured until this long after it returns, so the views' queued redraws are counted."""
PROFILE_LINES = 25
PROFILE_TURNS = 8
RUN_TIMEOUT_MS = 600_000


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--positions", type=int, default=2025)
    parser.add_argument("--checkpoint", type=Path, default=None, help="default: the built-in demo checkpoint")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--jobs-only", action="store_true", help="the jobs without a window (see above)")
    parser.add_argument("--profile", action="store_true", help="cProfile each step and time each queued redraw")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    return parser.parse_args(argv)


def idle(milliseconds: int = 1500) -> None:
    loop = QEventLoop()
    QTimer.singleShot(milliseconds, loop.quit)
    loop.exec()


def filled_results(checkpoint: Path, dataset: Path, settings: RunSettings) -> RunResults:
    """Planned results with every batch's patches stored (ones: the re-stitch cost does not depend on values)."""
    model = open_checkpoint(checkpoint)
    run, results = plan(model, open_dataset(dataset), settings)
    for index in range(run.n_batches):
        rows = run.batch_group_indices(index)
        results.store.put(rows, np.ones((len(rows), model.output_channels, model.N, model.N), np.complex64))
        results.done.add(index)
    return results


def jobs_only(checkpoint: Path, dataset: Path, settings: RunSettings, record) -> None:
    """The jobs alone, measured against an idle event loop."""
    def job(work, *args):
        return lambda: Job(getattr(work, "__name__", "job"), work, *args).start().outcome()

    record("idle", *measured(idle))
    record("open ckpt", *measured(job(open_checkpoint, checkpoint)))
    record("open data", *measured(job(open_dataset, dataset)))
    record("plan", *measured(job(plan, open_checkpoint(checkpoint), open_dataset(dataset), settings)))
    results = filled_results(checkpoint, dataset, settings)
    stitcher = results.run.new_stitcher("ptychopinn-bridge", settings.crop)
    record("re-stitch", *measured(job(results.restitched, stitcher, sorted(results.done))))
    results.close()


PROFILE: dict = {"on": False, "turns": []}
"""--profile: whether to profile each step, and the (CPU ms, key) of each queued redraw run since the last step."""


def timed_redraws() -> None:
    """Record the GUI-thread CPU time of every queued redraw with its key (before any queue is made)."""
    run_next = RedrawQueue._run_next

    def timed(queue: RedrawQueue) -> None:
        key = next(iter(queue._pending), None)
        start = time.thread_time()
        run_next(queue)
        PROFILE["turns"].append(((time.thread_time() - start) * 1000, key))

    RedrawQueue._run_next = timed


def turn_name(key: object) -> str:
    """A queued redraw's key as text: the view's class (and the key's label)."""
    if isinstance(key, tuple):
        return " ".join(turn_name(part) for part in key)
    return key if isinstance(key, str) else type(key).__name__


def measured(step, *args) -> tuple[float, dict]:
    """Run ``step(*args)`` with the heartbeat going (and cProfile with ``--profile``); (wall seconds, report)."""
    monitor = LatencyMonitor()
    profiler = cProfile.Profile() if PROFILE["on"] else None
    PROFILE["turns"] = []
    monitor.start()
    if profiler is not None:
        profiler.enable()
    start = time.perf_counter()
    step(*args)
    seconds = time.perf_counter() - start
    settle = QEventLoop()
    QTimer.singleShot(SETTLE_MS, settle.quit)
    settle.exec()
    monitor.stop()
    if profiler is not None:
        profiler.disable()
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(PROFILE_LINES)
        turns = sorted(PROFILE["turns"], key=lambda turn: -turn[0])[:PROFILE_TURNS]
        print("longest queued redraws (GUI-thread CPU): "
              + ", ".join(f"{turn_name(key)} {ms:.0f} ms" for ms, key in turns))
    return seconds, monitor.report()


def run_to_end(window: MainWindow) -> None:
    session = window.session
    loop = QEventLoop()
    session.sigRunStateChanged.connect(lambda state: loop.quit() if state in ("finished", "stopped") else None)
    QTimer.singleShot(RUN_TIMEOUT_MS, loop.quit)
    QTimer.singleShot(0, session.start)
    loop.exec()
    session.sigRunStateChanged.disconnect()
    if session.state != "finished":
        raise RuntimeError(f"the run ended in state {session.state!r}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    checkpoint = args.checkpoint or demo_paths()[0]
    folder = Path(tempfile.mkdtemp(prefix="ptycho-gui-jobs-bench-"))
    dataset = folder / f"scan_{args.positions}.h5"
    generate_scan(dataset, args.positions, open_checkpoint(checkpoint).N)
    PROFILE["on"] = args.profile
    if args.profile:
        timed_redraws()
    configure_pyqtgraph()
    app = make_application()
    run_settings = RunSettings(device="cpu", batch_size=args.batch_size, num_threads=args.threads)
    figures: dict[str, dict] = {}

    def record(name: str, seconds: float, report: dict) -> None:
        figures[name] = {"seconds": seconds, **report}
        print(f"{name:10s} {seconds:6.2f} s   lateness p50 {report['p50_ms']:6.1f}  p99 {report['p99_ms']:6.1f}  "
              f"max {report['max_ms']:6.1f} ms   GUI CPU per gap p99 {report['cpu_p99_ms']:6.1f}  "
              f"max {report['cpu_max_ms']:6.1f} ms", flush=True)

    print(f"{checkpoint.name} + {args.positions} generated positions, batch size {args.batch_size}, "
          f"{args.threads} torch thread(s), load average {os.getloadavg()[0]:.2f}")
    if args.jobs_only:
        jobs_only(checkpoint, dataset, run_settings, record)
        shutil.rmtree(folder)
        return 0
    window = MainWindow(QSettings(str(folder / "settings.ini"), QSettings.Format.IniFormat), run_settings)
    window.show()
    app.processEvents()
    session = window.session
    record("open", *measured(lambda: window.open_files([checkpoint, dataset]) or sys.exit(3)))
    run_to_end(window)
    record("re-plan", *measured(session.set_batch_size, args.batch_size // 2))
    run_to_end(window)
    record("re-stitch", *measured(session.set_stitch, "ptychopinn-bridge"))
    worst = max(f["max_ms"] for f in figures.values())
    worst_cpu = max(f["cpu_max_ms"] for f in figures.values())
    print(f"worst stall {worst:.1f} ms, worst GUI-thread CPU between heartbeats {worst_cpu:.1f} ms "
          f"(target ≤ {TARGET_MAX_MS:.0f}); {session.n_batches} batches, "
          f"{session.run.n_groups} groups; load average at the end {os.getloadavg()[0]:.2f}")
    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    window.close()
    window.deleteLater()
    app.processEvents()
    shutil.rmtree(folder)
    return 0


if __name__ == "__main__":
    sys.exit(main())
