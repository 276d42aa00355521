"""A 5,000-step soak of random user actions on the main window: no crash, no Python exception, no Qt
warning, bounded memory.

Seeded random actions through the window's and the session's public actions only: open the checkpoint
and/or the dataset, run, pause/resume, stop, step, first/last, go to a batch, select a patch, change the
stitch mode and crop, change the batch size (answering the discard question at random), and close and
reopen the window. Runs are never awaited: the six-batch plan computes in the background while actions
continue, so batches arrive between, during and after every other action.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import os
import random
import sys
import time
import weakref

import pytest
from app_harness import RUN_TIMEOUT_MS, TEST_SETTINGS, run_to_end
from pyqtgraph.util.garbage_collector import GarbageCollector
from PySide6.QtCore import QCoreApplication, QEvent, QEventLoop, QSettings, QtMsgType, qInstallMessageHandler
from PySide6.QtWidgets import QApplication

from ptycho_gui.app import discard_prompt, jobs
from ptycho_gui.app.main import GC_INTERVAL_S
from ptycho_gui.app.main_window import MainWindow
from ptycho_gui.app.plot_helpers import configure_pyqtgraph
from ptycho_gui.types import STITCH_MODES

pytestmark = pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")

STEPS = 5000
MEMORY_FROM_STEP = 1000
FLUSH_EVERY = 50
"""Every step runs one event-loop turn (one queued view redraw, as in the app); every 50 all queued redraws run."""
PAINT_EVERY = 500
MAX_RSS_GROWTH = 150 << 20
"""Resident memory may grow by at most this much between step 1,000 and step 5,000 (allocator slack and
pyqtgraph caches; a per-step leak of ~40 kB would exceed it). Windows are closed and reopened throughout:
a closed window frees everything it held (``test_a_closed_window_frees_its_session_files_and_views``)."""
REOPEN_WEIGHT = 1
"""Closing and reopening the window is the one costly action (~0.8 s of CPU: building a window's 12 pyqtgraph
plots, waiting for the batch in progress, opening the files), drawn 25 times in 5,000 steps (RSS growth from
step 1,000: 83 MiB). Drawn ~14 times (weight 0.5), RSS at step 1,000 was still far from its plateau (growth
124-147 MiB, at the bound); ~58 times (weight 2), 55 MiB in twice the time."""
STATES = {"empty", "ready", "running", "paused", "stopped", "finished"}
BENIGN_QT_MESSAGES = ("propagateSizeHints",)
"""Qt messages the offscreen platform prints for every window; anything else fails the soak."""


def rss_bytes() -> int:
    """Resident memory after a garbage collection and glibc's ``malloc_trim`` (memory freed but kept by the
    allocator's per-thread arenas, one per worker thread seen, is not a leak)."""
    gc.collect()
    libc = ctypes.util.find_library("c")
    if libc is not None and hasattr(ctypes.CDLL(libc), "malloc_trim"):
        ctypes.CDLL(libc).malloc_trim(0)
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class Soak:
    """The random actions, each a method; ``step`` picks one by weight and runs it."""

    def __init__(self, make_window, rng: random.Random, bundle_path, dataset_path):
        self.make_window, self.rng = make_window, rng
        self.files = (bundle_path, dataset_path)
        self.window = make_window()
        self.opened = 0
        self.reopened = 0
        self.actions = [
            (self.open_files, 1), (self.close_and_reopen, REOPEN_WEIGHT), (self.change_batch_size, 2),
            (self.start, 20), (self.toggle_run, 20), (self.stop, 10), (self.step_batch, 40),
            (self.first_or_last, 20), (self.go_to, 20), (self.select, 25), (self.change_stitch, 10),
            (self.let_events_run, 10),
        ]
        self.weights = [weight for _, weight in self.actions]

    @property
    def session(self):
        return self.window.session

    def step(self) -> None:
        action = self.rng.choices(self.actions, self.weights)[0][0]
        action()
        QApplication.processEvents()

    def paint(self) -> None:
        """Render the whole (hidden) window once, as a screenshot would: every view paints its current state."""
        assert not self.window.grab().isNull()

    def close_window(self) -> None:
        """Close the window (the app's Quit), wait for its worker to end, and free it."""
        window = self.window
        window.close()
        deadline = time.monotonic() + RUN_TIMEOUT_MS / 1000
        while window.session.worker_busy:
            assert time.monotonic() < deadline, "the worker did not stop"
            QApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 10)
        window.deleteLater()
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)

    def close_and_reopen(self) -> None:
        self.close_window()
        self.window = self.make_window()
        self.reopened += 1
        self.open_files()

    def open_files(self) -> None:
        files = self.rng.choice([self.files, self.files[:1], self.files[1:]])
        self.opened += self.window.open_files(list(files))

    def change_batch_size(self) -> None:
        view = self.window.views["run"]
        if not view.batch_size.isEnabled():
            return
        view.batch_size.setValue(self.rng.choice([8, 16]))
        view.batch_size.editingFinished.emit()

    def start(self) -> None:
        self.session.start()

    def toggle_run(self) -> None:
        self.session.toggle_run()

    def stop(self) -> None:
        self.session.stop()

    def step_batch(self) -> None:
        self.session.step(self.rng.choice([-1, 1]))

    def first_or_last(self) -> None:
        (self.session.first if self.rng.random() < 0.5 else self.session.last)()

    def go_to(self) -> None:
        self.session.go_to(self.rng.randrange(max(1, self.session.n_batches)))

    def select(self) -> None:
        current = self.session.current
        if current is not None:
            self.session.select(int(self.rng.choice(current.group_indices)), 0)

    def change_stitch(self) -> None:
        self.session.set_stitch(self.rng.choice(STITCH_MODES), self.rng.choice([8, 16, 32]))

    def let_events_run(self) -> None:
        QApplication.processEvents()

    def check(self) -> None:
        """What must hold after every action."""
        session = self.session
        assert session.state in STATES
        assert session.done <= set(range(session.n_batches))
        if session.current is not None:
            assert 0 <= session.current.index < session.n_batches


def new_window(settings_path):
    """A maker of hidden main windows, made and freed by the soak itself (nothing keeps a closed one alive)."""
    configure_pyqtgraph()
    return lambda: MainWindow(QSettings(str(settings_path), QSettings.Format.IniFormat), TEST_SETTINGS)


class QtMessages:
    """Collects Qt's messages (warnings and worse) while installed."""

    def __init__(self):
        self.messages: list[tuple[QtMsgType, str]] = []

    def __call__(self, kind, _context, message) -> None:
        if kind != QtMsgType.QtDebugMsg and not any(text in message for text in BENIGN_QT_MESSAGES):
            self.messages.append((kind, message))


@pytest.fixture(scope="module")
def soak(qapp, tmp_path_factory, bundle_path, dataset_path) -> dict:
    """Run the 5,000 steps once; the tests below judge the outcome (exceptions, Qt messages, memory)."""
    exceptions: list[str] = []
    messages = QtMessages()
    rng = random.Random(10)
    rss_at: dict[int, int] = {}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sys, "excepthook", lambda kind, value, tb: exceptions.append(f"{kind.__name__}: {value}"))
        patch.setattr(discard_prompt, "ask_discard", lambda _parent, _text: rng.random() < 0.8)
        previous = qInstallMessageHandler(messages)
        collector = GarbageCollector(interval=GC_INTERVAL_S)  # as the app: cycles collected on the GUI thread only
        soak = Soak(new_window(tmp_path_factory.mktemp("soak") / "settings.ini"), rng, bundle_path, dataset_path)
        try:
            assert soak.window.open_files(list(soak.files))
            for index in range(1, STEPS + 1):
                soak.step()
                soak.check()
                assert not exceptions, f"step {index}: {exceptions}"
                if index % FLUSH_EVERY == 0:
                    soak.session.redraws.flush()
                if index % PAINT_EVERY == 0:
                    soak.paint()
                if index in (MEMORY_FROM_STEP, STEPS):
                    rss_at[index] = rss_bytes()
        finally:
            soak.close_window()
            collector.timer.stop()
            gc.enable()
            qInstallMessageHandler(previous)
    print(f"soak: {STEPS} steps, {soak.opened} opens, {soak.reopened} reopens, "
          f"RSS {rss_at[MEMORY_FROM_STEP] / 2**20:.0f} → {rss_at[STEPS] / 2**20:.0f} MiB")
    return {"exceptions": exceptions, "messages": messages.messages, "rss_at": rss_at, "opened": soak.opened,
            "reopened": soak.reopened}


def test_5000_random_actions_raise_nothing(soak):
    assert soak["exceptions"] == [] and soak["messages"] == []
    assert soak["opened"] > 0 and soak["reopened"] > 0


def test_5000_random_actions_in_bounded_memory(soak):
    growth = soak["rss_at"][STEPS] - soak["rss_at"][MEMORY_FROM_STEP]
    assert growth < MAX_RSS_GROWTH, f"RSS grew {growth / 2**20:.0f} MiB from step {MEMORY_FROM_STEP} to {STEPS}"


def _alive(refs: dict[str, weakref.ref]) -> list[str]:
    """Names of the objects still alive once the garbage collector is done (a collection can free Qt objects
    whose deletion releases their connections' callables: collect until nothing more is found)."""
    for _ in range(5):
        if not gc.collect():
            break
    return [name for name, ref in refs.items() if ref() is not None]


def test_a_closed_window_frees_its_session_files_and_views(qtbot, tmp_path, bundle_path, dataset_path):
    """Closing and deleting a window that ran, redrew and painted every view leaves none of it in memory."""
    soak = Soak(new_window(tmp_path / "settings.ini"), random.Random(0), bundle_path, dataset_path)
    assert soak.window.open_files(list(soak.files))
    run_to_end(qtbot, soak.window)
    soak.paint()
    session = soak.session
    refs = {name: weakref.ref(thing) for name, thing in (
        ("window", soak.window), ("session", session), ("model", session.model), ("dataset", session.dataset),
        ("run", session.run), ("results", session.results), *soak.window.views.items())}
    del session
    soak.close_window()
    soak.window = None
    qtbot.waitUntil(lambda: jobs.unfinished() == 0, timeout=RUN_TIMEOUT_MS)
    assert _alive(refs) == []


def test_reopened_files_free_the_ones_they_replace(qtbot, monkeypatch, tmp_path, bundle_path, dataset_path):
    """Opening the checkpoint and the scan again in the same window frees the previous model, scan and plan."""
    monkeypatch.setattr(discard_prompt, "ask_discard", lambda _parent, _text: True)
    soak = Soak(new_window(tmp_path / "settings.ini"), random.Random(0), bundle_path, dataset_path)
    assert soak.window.open_files(list(soak.files))
    run_to_end(qtbot, soak.window)
    session = soak.session
    refs = {"model": weakref.ref(session.model), "dataset": weakref.ref(session.dataset),
            "run": weakref.ref(session.run), "results": weakref.ref(session.results)}
    assert soak.window.open_files(list(soak.files))
    run_to_end(qtbot, soak.window)
    qtbot.waitUntil(lambda: jobs.unfinished() == 0, timeout=RUN_TIMEOUT_MS)
    try:
        assert _alive(refs) == []
    finally:
        soak.close_window()
