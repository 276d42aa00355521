"""Shared pieces of the desktop-app tests: windows with temporary settings, forward-pass counting, waits.

Windows are made through the ``make_window`` fixture (``conftest.py``). Tests wait on GUI-thread state
(``qtbot.waitUntil``), never on signals emitted from the worker thread.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from PySide6.QtCore import QCoreApplication
from PySide6.QtGui import QGuiApplication

from ptycho_gui.app.main_window import MainWindow
from ptycho_gui.engine.run import InferenceRun
from ptycho_gui.types import RunSettings

TEST_SETTINGS = RunSettings(device="cpu", batch_size=8, n_groups=48, num_threads=1)
"""48 of the generated scan's 100 groups in batches of 8: six batches, a fraction of a second each."""
RUN_TIMEOUT_MS = 60_000


class ForwardCounter:
    """Wraps ``InferenceRun.compute_batch`` to record which batches ran (and optionally slow them down, or hold
    the first one until ``release``, so a test acts while a batch is certainly in progress)."""

    def __init__(self, delay: float = 0.0, hold_first: bool = False):
        self.delay = delay
        self.calls: list[tuple[int, float, float]] = []
        """(batch index, start time, end time) of every forward pass."""
        self.entered: list[int] = []
        """Batch indices whose forward pass began, in order (a held batch included)."""
        self._released = threading.Event()
        if not hold_first:
            self._released.set()
        self._lock = threading.Lock()
        self._original = InferenceRun.compute_batch

    def release(self) -> None:
        """Let the held first batch compute."""
        self._released.set()

    def started(self) -> list[int]:
        with self._lock:
            return list(self.entered)

    def install(self, monkeypatch: pytest.MonkeyPatch) -> ForwardCounter:
        original, counter = self._original, self

        def counted(run: InferenceRun, index: int):
            start = time.perf_counter()
            with counter._lock:
                counter.entered.append(index)
            if not counter._released.wait(RUN_TIMEOUT_MS / 1000):
                raise RuntimeError("the held batch was never released")
            if counter.delay:
                time.sleep(counter.delay)
            result = original(run, index)
            with counter._lock:
                counter.calls.append((index, start, time.perf_counter()))
            return result

        monkeypatch.setattr(InferenceRun, "compute_batch", counted)
        return self

    @property
    def indices(self) -> list[int]:
        with self._lock:
            return [index for index, _, _ in self.calls]


def open_fixture(window: MainWindow, bundle_path: Path, dataset_path: Path) -> None:
    """Open both files and let the views draw the new plan (they queue that work on the ``RedrawQueue``)."""
    assert window.open_files([bundle_path, dataset_path]), window.last_error
    assert window.session.state == "ready"
    window.session.redraws.flush()


def run_to_end(qtbot, window: MainWindow) -> None:
    """Start the run and wait until every batch is in and every view has redrawn."""
    window.session.start()
    qtbot.waitUntil(lambda: window.session.state == "finished", timeout=RUN_TIMEOUT_MS)
    settle(qtbot, window)


def settle(qtbot, window: MainWindow) -> None:
    """Let queued redraws, posted events and paints happen (no fixed wait)."""
    window.session.redraws.flush()
    process_events()


def process_events() -> None:
    """Deliver every posted event (queued signals from finished threads included) and process the rest."""
    QCoreApplication.sendPostedEvents()
    QCoreApplication.processEvents()


def sync_with_display(qtbot, window: MainWindow) -> None:
    """Settle, wait for the X server to answer every request made so far and deliver what it sent back.

    ``QGuiApplication.sync`` is a round trip to the window system (no fixed wait): resizes, maps and exposes
    of the window and of floating docks are all in once it returns; floating docks are then waited on until
    they are exposed.
    """
    settle(qtbot, window)
    QGuiApplication.sync()
    settle(qtbot, window)
    for dock in window.docks.values():
        if dock.isFloating() and dock.isVisible():
            qtbot.waitExposed(dock)
    settle(qtbot, window)
