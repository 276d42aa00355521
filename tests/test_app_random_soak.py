"""A 5,000-step soak of random user actions on the main window: no crash, no Python exception, no Qt
warning, bounded memory.

Seeded random actions through the window's and the session's public actions only: open the checkpoint
and/or the dataset, run, pause/resume, stop, step, first/last, go to a batch, select a patch, change the
stitch mode and crop, change the batch size (answering the discard question at random), and close and
reopen the window. Runs are never awaited: the six-batch plan computes in the background while actions
continue, so batches arrive between, during and after every other action.
"""

from __future__ import annotations

import gc
import os
import random
import sys

import pytest
from app_harness import RUN_TIMEOUT_MS, TEST_SETTINGS
from PySide6.QtCore import QSettings, QtMsgType
from PySide6.QtWidgets import QApplication

from ptycho_gui.app import discard_prompt
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
pyqtgraph caches; a per-step leak of ~40 kB would exceed it)."""
STATES = {"empty", "ready", "running", "paused", "stopped", "finished"}
BENIGN_QT_MESSAGES = ("propagateSizeHints",)
"""Qt messages the offscreen platform prints for every window; anything else fails the soak."""


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class Soak:
    """The random actions, each a method; ``step`` picks one by weight and runs it."""

    def __init__(self, make_window, qtbot, rng: random.Random, bundle_path, dataset_path):
        self.make_window, self.qtbot, self.rng = make_window, qtbot, rng
        self.files = (bundle_path, dataset_path)
        self.window = make_window()
        self.opened = 0
        self.reopened = 0
        self.actions = [
            (self.open_files, 1), (self.close_and_reopen, 0.5), (self.change_batch_size, 2),
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
        self.qtbot.waitUntil(lambda: not window.session.worker_busy, timeout=RUN_TIMEOUT_MS)
        window.deleteLater()
        QApplication.processEvents()

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


@pytest.fixture
def new_window(settings_path):
    """Hidden main windows made and freed by the soak itself (nothing keeps a closed one alive)."""
    configure_pyqtgraph()
    return lambda: MainWindow(QSettings(str(settings_path), QSettings.Format.IniFormat), TEST_SETTINGS)


def test_5000_random_actions(qtbot, qtlog, new_window, bundle_path, dataset_path, monkeypatch):
    exceptions: list[str] = []
    monkeypatch.setattr(sys, "excepthook", lambda kind, value, tb: exceptions.append(f"{kind.__name__}: {value}"))
    rng = random.Random(10)
    monkeypatch.setattr(discard_prompt, "ask_discard", lambda _parent, _text: rng.random() < 0.8)
    soak = Soak(new_window, qtbot, rng, bundle_path, dataset_path)
    rss_at = {}
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
                gc.collect()
                rss_at[index] = rss_bytes()
    finally:
        soak.close_window()
    growth = rss_at[STEPS] - rss_at[MEMORY_FROM_STEP]
    print(f"soak: {STEPS} steps, {soak.opened} opens, {soak.reopened} reopens, "
          f"RSS {rss_at[MEMORY_FROM_STEP] / 2**20:.0f} → {rss_at[STEPS] / 2**20:.0f} MiB")
    assert not exceptions
    assert soak.opened > 0 and soak.reopened > 0
    problems = [(record.type, record.message) for record in qtlog.records
                if record.type != QtMsgType.QtDebugMsg and not any(text in record.message for text in BENIGN_QT_MESSAGES)]
    assert problems == []
    assert growth < MAX_RSS_GROWTH, f"RSS grew {growth / 2**20:.0f} MiB from step {MEMORY_FROM_STEP} to {STEPS}"
