"""``ptycho-gui`` entry point: arguments, the QApplication, the main window and scripted runs.

Scripted runs (``--run``, ``--screenshot``, ``--quit-when-done``, ``--ui-latency-report``) drive the
same window a user sees, for smoke checks, documentation screenshots and latency measurements.
Exit codes: 0 success; 2 usage error, or Qt cannot start here (missing xcb libraries, no display); 3 a file could not be opened
(or the device asked for is not available); 4 the run failed. With ``--quit-when-done`` the first error shown is also
printed on stderr as one line.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

from pyqtgraph.util.garbage_collector import GarbageCollector
from PySide6.QtCore import QObject, QSettings, QTimer, Slot
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication

from ptycho_gui import __version__
from ptycho_gui.app.latency import LatencyMonitor
from ptycho_gui.app.main_window import APP_NAME, MainWindow
from ptycho_gui.app.platform_check import platform_problem
from ptycho_gui.app.plot_helpers import configure_pyqtgraph
from ptycho_gui.app.run_controller import default_num_threads
from ptycho_gui.cli.common import add_run_options, one_line, settings_from_args

EXIT_OK, EXIT_PLATFORM, EXIT_INPUT, EXIT_RUN = 0, 2, 3, 4
SETTLE_MS = 300
"""Time given to the event loop to lay out and paint before a screenshot."""
GRID_POLL_MS = 5
"""How often a scripted run looks for the first patch grid (the resolution of ``first_patch_grid_seconds``)."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ptycho-gui",
        description="Inspect a neural-network ptychography reconstruction batch by batch.",
    )
    parser.add_argument("files", nargs="*", metavar="FILE",
                        help="a checkpoint and/or a dataset, recognised by content, in any order "
                             "(none: the built-in demo)")
    parser.add_argument("--demo", action="store_true", help="open the built-in demo checkpoint and scan")
    parser.add_argument("--run", action="store_true", help="start the run as soon as the files are loaded")
    parser.add_argument("--screenshot", metavar="FILE", type=Path, help="save a PNG of the window after the run")
    parser.add_argument("--quit-when-done", action="store_true", help="quit after the run (and screenshot)")
    parser.add_argument("--ui-latency-report", metavar="FILE.json", type=Path,
                        help="write event-loop latency during the run (count, p50, p99, max ms; run wall time; "
                             "seconds to open the files and to the first patch grid)")
    add_run_options(parser)
    parser.add_argument("--fresh", action="store_true", help="start with the default layout, not the saved one")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


class ScriptedRun(QObject):
    """Loads the files given on the command line, then optionally runs, measures, screenshots and quits."""

    def __init__(self, window: MainWindow, args: argparse.Namespace):
        super().__init__(window)
        self.window = window
        self.args = args
        self.exit_code = EXIT_OK
        self.monitor = LatencyMonitor(parent=self)
        self.run_seconds: float | None = None
        self.open_seconds: float | None = None
        """Opening and planning the files given (before any batch runs)."""
        self.first_grid_seconds: float | None = None
        """From the files being open (and planned) to the first patch grid drawn and painted."""
        self._started = 0.0
        self._finished = False
        self._running = False
        self.first_error: tuple[int, str] | None = None
        """(exit code, one-line text) of the first error the window reported: 3 before the run, 4 during it."""
        window.sigErrorReported.connect(self._on_error)
        self._grid_watch = QTimer(self)
        self._grid_watch.setInterval(GRID_POLL_MS)
        self._grid_watch.timeout.connect(self._watch_first_grid)

    @Slot()
    def begin(self) -> None:
        """Open the files, then start the run or go straight to the end steps."""
        window, args = self.window, self.args
        opening = time.perf_counter()
        opened = window.open_files(args.files) if args.files and not args.demo else window.open_demo()
        self._started = time.perf_counter()
        self.open_seconds = self._started - opening
        if not opened:
            self.exit_code = EXIT_INPUT
        session = window.session
        if args.run and session.run is not None:
            session.sigRunStateChanged.connect(self._on_state_changed)
            self.monitor.start()
            self._grid_watch.start()
            self._running = True
            session.start()
            return
        if args.run:
            self.exit_code = EXIT_INPUT
        QTimer.singleShot(SETTLE_MS, self._finish)

    @Slot()
    def _watch_first_grid(self) -> None:
        """Once the patch grid holds an image, time the next event-loop turn (the one that paints it)."""
        if self.window.views["patches"].plot.image.image is not None:
            self._grid_watch.stop()
            QTimer.singleShot(0, self._first_grid_painted)

    @Slot()
    def _first_grid_painted(self) -> None:
        self.first_grid_seconds = time.perf_counter() - self._started

    @Slot(str, str, str)
    def _on_error(self, title: str, message: str, _details: str) -> None:
        if self.first_error is None:
            self.first_error = (EXIT_RUN if self._running else EXIT_INPUT, one_line(f"{title}: {message}"))

    @Slot(str)
    def _on_state_changed(self, state: str) -> None:
        if state not in ("finished", "stopped") or self._finished:
            return
        self.run_seconds = time.perf_counter() - self._started
        self.monitor.stop()
        QTimer.singleShot(SETTLE_MS, self._finish)

    @Slot()
    def _finish(self) -> None:
        if self._finished:
            return
        self._finished = True
        if self.first_error is not None and self.exit_code == EXIT_OK:
            self.exit_code = self.first_error[0]
        if self.args.ui_latency_report is not None:
            self.write_latency_report(self.args.ui_latency_report)
        if self.args.screenshot is not None:
            self.args.screenshot.parent.mkdir(parents=True, exist_ok=True)
            self.window.grab().save(str(self.args.screenshot), "PNG")
        if self.args.quit_when_done:
            if self.first_error is not None:
                print(f"ptycho-gui: {self.first_error[1]}", file=sys.stderr, flush=True)
            QApplication.exit(self.exit_code)

    def latency_report(self) -> dict:
        """Heartbeat lateness during the run plus the run's wall time and settings."""
        session = self.window.session
        report = self.monitor.report()
        report.update(
            run_seconds=self.run_seconds,
            open_seconds=self.open_seconds,
            first_patch_grid_seconds=self.first_grid_seconds,
            batches_done=len(session.done),
            batches=session.n_batches,
            device=str(session.run.device) if session.run is not None else session.settings.device,
            batch_size=session.settings.batch_size,
            torch_threads=session.settings.num_threads,
            state=session.state,
        )
        return report

    def write_latency_report(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.latency_report(), indent=2) + "\n")


GC_INTERVAL_S = 1.0
"""Cyclic garbage is collected on the GUI thread this often (pyqtgraph's GarbageCollector), never by Python's
automatic collector on a pool or inference thread: a collected cycle holding widgets (a view's connections)
deleted there deadlocks against the GUI thread."""


def make_application() -> QApplication:
    """The QApplication (created once), named so QSettings finds the user's layout."""
    app = QApplication.instance() or QApplication([sys.argv[0]])
    app.setOrganizationName(APP_NAME)
    app.setApplicationName(APP_NAME)
    app.setApplicationVersion(__version__)
    QGuiApplication.setDesktopFileName(APP_NAME)
    return app


def main(argv: list[str] | None = None) -> int:
    """Run the desktop application; returns the exit code."""
    args = build_parser().parse_args(argv)
    problem = platform_problem()
    if problem is not None:
        print(problem, file=sys.stderr)
        return EXIT_PLATFORM
    configure_pyqtgraph()
    app = make_application()
    collector = GarbageCollector(interval=GC_INTERVAL_S)
    settings = QSettings(APP_NAME, APP_NAME)
    if args.fresh:
        settings.remove("layout")
    run_settings = replace(settings_from_args(args), num_threads=args.threads or default_num_threads())
    window = MainWindow(settings, run_settings)
    script = ScriptedRun(window, args)
    window.show()
    QTimer.singleShot(0, script.begin)
    code = app.exec()
    exit_code = code or script.exit_code
    window.close()
    window.deleteLater()
    app.processEvents()
    collector.timer.stop()
    gc.enable()
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
