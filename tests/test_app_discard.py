"""No silent loss: a change that re-plans the run asks before discarding computed batches; cancelling keeps them.

Also the GUI's messages for a cut-short checkpoint and for a device this machine does not have.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
from app_harness import RUN_TIMEOUT_MS, TEST_SETTINGS, open_fixture
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from ptycho_gui.app import discard_prompt
from ptycho_gui.engine.device import available_devices


class Answers:
    """Stands in for the Discard / Cancel question: records each question and gives a fixed answer."""

    def __init__(self, discard: bool):
        self.discard = discard
        self.questions: list[str] = []

    def __call__(self, _parent, text: str) -> bool:
        self.questions.append(text)
        return self.discard


@pytest.fixture
def computed_window(qtbot, make_window, bundle_path, dataset_path):
    """A window with one of its six batches computed (stepped to, so the run stays 'ready')."""
    window = make_window()
    open_fixture(window, bundle_path, dataset_path)
    window.session.go_to(0)
    qtbot.waitUntil(lambda: window.session.done == {0}, timeout=RUN_TIMEOUT_MS)
    return window


def answer(monkeypatch, discard: bool) -> Answers:
    answers = Answers(discard)
    monkeypatch.setattr(discard_prompt, "ask_discard", answers)
    return answers


def change_batch_size(window, value: int) -> None:
    view = window.views["run"]
    view.batch_size.setValue(value)
    view.batch_size.editingFinished.emit()


def change_device(window, device: str) -> None:
    view = window.views["run"]
    view.device.setCurrentText(device)
    view.device.activated.emit(view.device.currentIndex())


def change_seed(window, seed: int) -> None:
    view = window.views["run"]
    view.seed.setValue(seed)
    view.seed.editingFinished.emit()


CHANGES = {
    "batch size": (lambda window: change_batch_size(window, 16), lambda s: s.batch_size == 16),
    "device": (lambda window: change_device(window, "auto"), lambda s: s.device == "auto"),
    "seed": (lambda window: change_seed(window, 5), lambda s: s.seed == 5),
}


@pytest.mark.parametrize("name", CHANGES)
def test_a_change_asks_cancel_keeps_the_batch_discard_applies(name, computed_window, monkeypatch):
    window, (change, applied) = computed_window, CHANGES[name]
    answers = answer(monkeypatch, discard=False)
    before = window.session.settings
    change(window)
    assert len(answers.questions) == 1 and "discards the 1 computed batch of 6" in answers.questions[0]
    assert window.session.settings == before and not applied(window.session.settings)
    assert window.session.done == {0} and window.session.current.index == 0
    view = window.views["run"]
    assert (view.batch_size.value(), view.device.currentText(), view.seed.value()) == (
        before.batch_size, before.device, before.seed or 0), "the form shows the settings still in force"
    answers.discard = True
    change(window)
    assert len(answers.questions) == 2
    assert applied(window.session.settings)
    assert window.session.done == set() and window.session.state == "ready"


def test_nothing_computed_nothing_asked(qtbot, make_window, bundle_path, dataset_path, monkeypatch):
    window = make_window()
    open_fixture(window, bundle_path, dataset_path)
    answers = answer(monkeypatch, discard=False)
    change_batch_size(window, 16)
    assert answers.questions == [] and window.session.settings.batch_size == 16


def test_opening_another_file_asks_first(computed_window, dataset_path, monkeypatch):
    window = computed_window
    answers = answer(monkeypatch, discard=False)
    assert not window.open_files([dataset_path])
    assert len(answers.questions) == 1 and answers.questions[0].startswith(f"Opening {dataset_path.name}")
    assert window.session.done == {0}
    answers.discard = True
    assert window.open_files([dataset_path])
    assert window.session.done == set() and window.session.state == "ready"


def test_the_question_is_a_discard_or_cancel_box(computed_window):
    """The real box: Discard and Cancel, Cancel the default; clicking Discard applies the change."""
    window = computed_window
    seen: dict[str, object] = {}

    def click_discard() -> None:
        box = QApplication.activeModalWidget()
        seen.update(title=box.windowTitle(), text=box.text(), default=box.defaultButton() is box.button(
            QMessageBox.StandardButton.Cancel))
        box.button(QMessageBox.StandardButton.Discard).click()

    QTimer.singleShot(0, click_discard)
    change_batch_size(window, 16)
    assert seen["title"] == discard_prompt.DISCARD_TITLE and seen["default"]
    assert "Changing the batch size" in seen["text"]
    assert window.session.settings.batch_size == 16 and window.session.done == set()


def test_a_cut_short_checkpoint_is_called_so(make_window, ckpt_path, tmp_path):
    half = tmp_path / "half.ckpt"
    half.write_bytes(ckpt_path.read_bytes()[: ckpt_path.stat().st_size // 2])
    window = make_window()
    assert not window.open_files([half])
    title, message, _ = window.last_error
    assert title == "Cannot open file"
    assert str(half) in message and "truncated or damaged checkpoint" in message, message
    assert not window._open("checkpoint", half)
    assert "truncated or damaged checkpoint" in window.last_error[1]


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA exists here")
def test_an_unavailable_device_has_its_own_dialog_title(make_window, bundle_path, dataset_path):
    window = make_window(replace(TEST_SETTINGS, device="cuda"))
    assert not window.open_files([bundle_path, dataset_path])
    title, message, _ = window.last_error
    assert title == "Device not available" and "device 'cuda' is not available" in message, window.last_error
    assert window.message_box is not None and window.message_box.windowTitle() == "Device not available"
    assert "cuda" not in available_devices()
