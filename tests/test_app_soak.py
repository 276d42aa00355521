"""Long-session stability: thousands of view updates and the PySide6 refcount regression check.

PySide6 6.12.0 on Python 3.11 loses a reference to ``True`` on every Python-side ``Signal.emit()``
(and to ``None`` while pyqtgraph paints); a live viewer then aborts after a few hundred update
cycles. These tests fail fast on such a build instead of letting users crash.

The soak runs 1,000 update cycles: about three times the ~350 after which the broken build aborted
(the Qt stack guide's refcount finding), where it would also have lost over 10,000 references to ``True`` (the bound is 1,000).
"""

from __future__ import annotations

import sys

from app_harness import RUN_TIMEOUT_MS, open_fixture, process_events
from PySide6.QtCore import QObject, Signal

SOAK_UPDATES = 1000
PAINT_EVERY = 25


def test_signal_emit_does_not_leak_true_refcount(qapp):
    class Emitter(QObject):
        sig = Signal(object)

    emitter = Emitter()
    emitter.sig.connect(lambda value: None)
    before = sys.getrefcount(True)
    for _ in range(200):
        emitter.sig.emit(1)
    assert sys.getrefcount(True) - before > -50


def test_soak_of_1000_view_updates(qtbot, make_window, bundle_path, dataset_path):
    window = make_window()
    open_fixture(window, bundle_path, dataset_path)
    session = window.session
    for index in (0, 1):
        session.go_to(index)
        qtbot.waitUntil(lambda i=index: session.current is not None and session.current.index == i,
                        timeout=RUN_TIMEOUT_MS)
    groups = session.run.groups.shape
    true_refs, none_refs = sys.getrefcount(True), sys.getrefcount(None)
    for update in range(SOAK_UPDATES):
        if update % 5 == 0:
            session.go_to(update // 5 % 2)
        else:
            group = session.current.group_indices[update % len(session.current.group_indices)]
            session.select(int(group), update % groups[1])
        session.redraws.flush()
        if update % PAINT_EVERY == 0:
            process_events()
    process_events()
    assert window.isVisible() and session.current.index in (0, 1)
    assert sys.getrefcount(True) - true_refs > -1000
    assert sys.getrefcount(None) - none_refs > -1000
