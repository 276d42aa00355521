"""An export during a run asks the inference worker for the batches it lacks: never two forward passes at once."""

from __future__ import annotations

import threading
import time

import numpy as np
from app_harness import RUN_TIMEOUT_MS, open_fixture
from PySide6.QtWidgets import QDialog

from ptycho_gui.engine.run import InferenceRun

SLOW_BATCH_SECONDS = 0.05


class ConcurrencyProbe:
    """Wraps ``InferenceRun.compute_batch``: counts forward passes and the most ever in flight at once."""

    def __init__(self, monkeypatch):
        self.in_flight = self.most = self.calls = 0
        self.threads: set[int] = set()
        self._lock = threading.Lock()
        original = InferenceRun.compute_batch
        probe = self

        def probed(run: InferenceRun, index: int):
            with probe._lock:
                probe.in_flight += 1
                probe.calls += 1
                probe.most = max(probe.most, probe.in_flight)
                probe.threads.add(threading.get_ident())
            try:
                time.sleep(SLOW_BATCH_SECONDS)
                return original(run, index)
            finally:
                with probe._lock:
                    probe.in_flight -= 1

        monkeypatch.setattr(InferenceRun, "compute_batch", probed)


def test_an_export_during_a_run_never_runs_a_second_forward_pass(qtbot, make_window, bundle_path, dataset_path,
                                                                  tmp_path, monkeypatch):
    window = make_window()
    open_fixture(window, bundle_path, dataset_path)
    probe = ConcurrencyProbe(monkeypatch)
    session = window.session
    session.start()
    window.open_export_dialog("offsets")
    dialog, = [d for d in window.findChildren(QDialog, "export_dialog") if d.isVisible()]
    for item, check in dialog.item_boxes.items():
        check.setChecked(item == "data")
    for fmt, check in dialog.format_boxes.items():
        check.setChecked(fmt == "npz")
    dialog.patch_source.setCurrentText("batches")
    dialog.batch_spec.setText("all")
    dialog.folder_edit.setText(str(tmp_path))
    fetched = []
    session.runner.worker.sigFetched.connect(lambda result: fetched.append(result.index))
    assert session.state == "running" and len(session.done) < session.n_batches
    dialog.export_button.click()
    qtbot.waitUntil(lambda: not dialog.busy and session.state == "finished", timeout=RUN_TIMEOUT_MS)
    assert dialog.last_error is None and not dialog.last_report.cancelled
    assert fetched, "the export computed its missing batches outside the worker"
    assert probe.most == 1, f"{probe.most} forward passes ran at once"
    assert len(probe.threads) == 1, "a forward pass ran outside the inference worker"
    with np.load(dialog.last_report.files[-1]) as exported:
        assert exported.files
    dialog.close()
