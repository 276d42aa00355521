"""GUI responsiveness and overhead during a full scripted run on CPU.

In one process: run the headless engine (``InferenceRun.execute``) and the desktop app's run over the
same checkpoint, dataset and settings, alternately, several times. For the GUI runs a 10 ms heartbeat
timer measures event-loop lateness (how long the GUI thread was stalled). Prints p50/p99/max stall
and the ratio of GUI run wall time to headless wall time (medians over repeats).

Targets: p99 ≤ 30 ms, max ≤ 100 ms, ratio ≤ 1.15.

``--generate M`` writes a synthetic M-pattern HDF5 scan (jittered raster, random diffraction, N of the
checkpoint, written in bounded-memory chunks) and runs on that instead of ``--dataset``; the issue's
large-scan case is ``--generate 50000`` (with the built-in demo checkpoint unless ``--checkpoint``
is given).

``--groups G`` runs only G groups of the scan (all M positions are still drawn in the overlays and the
canvas keeps the whole scan's frame), for machines where a full 50,000-pattern run takes too long.
Fewer groups than patterns are drawn at random (PtychoPINN's rule), so every batch lands all over
the canvas. ``--batches B`` instead plans the whole scan, as a real run does, and times only its
first B batches on both sides (the GUI's time ends when its B-th batch is in).

    python benchmarks/ui_latency.py [--checkpoint P] [--dataset P | --generate M] [--groups G | --batches B]
                                    [--batch-size 16] [--threads T] [--repeats 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import h5py
import numpy as np
from PySide6.QtCore import QEventLoop, QSettings, QTimer

from ptycho_gui.app.latency import LatencyMonitor
from ptycho_gui.app.main import make_application
from ptycho_gui.app.main_window import MainWindow
from ptycho_gui.app.plot_helpers import configure_pyqtgraph
from ptycho_gui.app.run_controller import default_num_threads
from ptycho_gui.demo import demo_paths
from ptycho_gui.engine.run import InferenceRun
from ptycho_gui.io.checkpoints import open_checkpoint
from ptycho_gui.types import RunSettings

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "ptychopinn"
TARGETS = {"p99_ms": 30.0, "max_ms": 100.0, "ratio": 1.15}
RUN_TIMEOUT_MS = 600_000


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--checkpoint", type=Path, default=None,
                        help="default: the shared gs2 bundle, or the built-in demo's with --generate")
    parser.add_argument("--dataset", type=Path, default=FIXTURES / "lines_n64_test.npz")
    parser.add_argument("--generate", type=int, default=None, metavar="M",
                        help="run on a generated M-pattern HDF5 scan instead of --dataset")
    parser.add_argument("--groups", type=int, default=None, metavar="G",
                        help="run only G groups of the scan (every position is still drawn; default: all)")
    parser.add_argument("--batches", type=int, default=None, metavar="B",
                        help="plan every group but time only the first B batches (default: all)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--threads", type=int, default=default_num_threads(),
                        help="torch threads for both runs (default: all cores but one)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    if args.checkpoint is None:
        args.checkpoint = demo_paths()[0] if args.generate else FIXTURES / "gs2" / "wts.h5.zip"
    return args


def generate_scan(path: Path, n_patterns: int, n: int, seed: int = 0, chunk: int = 2048) -> None:
    """A jittered raster of ``n_patterns`` positions (6 px apart) with random diffraction, written chunk by chunk."""
    rng = np.random.default_rng(seed)
    side = int(np.ceil(np.sqrt(n_patterns)))
    yy, xx = np.divmod(np.arange(n_patterns), side)
    x = 40 + 6.0 * xx + rng.uniform(-0.5, 0.5, n_patterns)
    y = 40 + 6.0 * yy + rng.uniform(-0.5, 0.5, n_patterns)
    with h5py.File(path, "w") as f:
        f["xcoords"], f["ycoords"] = x, y
        stack = f.create_dataset("diff3d", (n_patterns, n, n), dtype=np.float32, chunks=(min(64, n_patterns), n, n))
        for start in range(0, n_patterns, chunk):
            stop = min(start + chunk, n_patterns)
            stack[start:stop] = rng.gamma(2.0, 1.0, size=(stop - start, n, n)).astype(np.float32)


def headless_seconds(window: MainWindow, batches: int | None = None) -> float:
    """Wall time of the headless engine over the window's files and settings (stitching and stats included)."""
    session = window.session
    run = InferenceRun(session.model, session.dataset, session.settings)
    start = time.perf_counter()
    run.execute(indices=None if batches is None else range(batches))
    return time.perf_counter() - start


def gui_run(window: MainWindow, batches: int | None = None) -> tuple[float, dict]:
    """Re-plan, run to the end (or its first ``batches``) inside a real event loop; (wall s, lateness report)."""
    session = window.session
    session.replan()
    monitor = LatencyMonitor()
    loop = QEventLoop()
    def on_state(state: str) -> None:
        if state in ("finished", "stopped"):
            loop.quit()

    def on_batch(_index: int) -> None:
        if batches is not None and len(session.done) >= batches:
            loop.quit()

    session.sigRunStateChanged.connect(on_state)
    session.sigBatchComputed.connect(on_batch)
    QTimer.singleShot(RUN_TIMEOUT_MS, loop.quit)
    monitor.start()
    start = time.perf_counter()
    QTimer.singleShot(0, session.start)
    loop.exec()
    seconds = time.perf_counter() - start
    monitor.stop()
    session.sigRunStateChanged.disconnect(on_state)
    session.sigBatchComputed.disconnect(on_batch)
    if batches is not None:
        reached = len(session.done) >= batches
        session.stop()
        session.shutdown(RUN_TIMEOUT_MS)  # the batch in progress ends before the next headless run starts
        if not reached:
            raise RuntimeError(f"the GUI run ended in state {session.state!r} after {len(session.done)} batches")
    elif session.state != "finished":
        raise RuntimeError(f"the GUI run ended in state {session.state!r}")
    return seconds, monitor.report()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    print(f"load average at the start: {os.getloadavg()[0]:.2f}")
    if args.generate:
        args.dataset = Path(tempfile.mkdtemp(prefix="ptycho-gui-bench-scan-")) / f"scan_{args.generate}.h5"
        start = time.perf_counter()
        generate_scan(args.dataset, args.generate, open_checkpoint(args.checkpoint).N)
        print(f"generated {args.dataset} ({args.generate} patterns) in {time.perf_counter() - start:.1f} s")
    configure_pyqtgraph()
    app = make_application()
    settings_file = Path(tempfile.mkdtemp(prefix="ptycho-gui-bench-")) / "settings.ini"
    run_settings = RunSettings(device="cpu", batch_size=args.batch_size, num_threads=args.threads,
                               n_groups=args.groups)
    window = MainWindow(QSettings(str(settings_file), QSettings.Format.IniFormat), run_settings)
    window.show()
    app.processEvents()
    if not window.open_files([args.checkpoint, args.dataset]):
        print(f"cannot open the inputs: {window.last_error}", file=sys.stderr)
        return 3
    n_batches = window.session.n_batches if args.batches is None else min(args.batches, window.session.n_batches)
    print(f"{args.checkpoint.name} + {args.dataset.name}: {len(window.session.dataset.xcoords)} positions, "
          f"{window.session.run.n_groups} groups, "
          f"{n_batches} of {window.session.n_batches} batches of {args.batch_size}, torch threads {args.threads}, "
          f"{os.cpu_count()} CPUs")
    timed = None if args.batches is None else n_batches
    headless_seconds(window, timed)
    headless, gui, reports = [], [], []
    for repeat in range(args.repeats):
        headless.append(headless_seconds(window, timed))
        seconds, report = gui_run(window, timed)
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
    figures["load_average_end"] = os.getloadavg()[0]
    print(f"load average at the end: {figures['load_average_end']:.2f}")
    figures["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory of this process (headless and GUI runs): {figures['peak_rss_mib']:.0f} MiB")
    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    window.close()
    window.deleteLater()
    app.processEvents()
    if args.generate:
        shutil.rmtree(args.dataset.parent)
    return 0


if __name__ == "__main__":
    sys.exit(main())
