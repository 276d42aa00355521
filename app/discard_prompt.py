"""Asking before a change throws computed batches away: no setting or file change loses work silently."""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox, QWidget

from ptycho_gui.app.session import Session

DISCARD_TITLE = "Discard computed batches?"


def ask_discard(parent: QWidget, text: str) -> bool:
    """A modal Discard / Cancel question (Cancel is the default); True when the user chose Discard."""
    box = QMessageBox(QMessageBox.Icon.Warning, DISCARD_TITLE, text,
                      QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel, parent)
    box.setDefaultButton(QMessageBox.StandardButton.Cancel)
    return box.exec() == QMessageBox.StandardButton.Discard


def confirm_discard(parent: QWidget, session: Session, change: str) -> bool:
    """True when ``change`` (e.g. "Changing the batch size") loses nothing computed or the user agrees to it."""
    computed = len(session.done)
    if computed == 0:
        return True
    batches = "batch" if computed == 1 else "batches"
    return ask_discard(parent, f"{change} re-plans the run and discards the {computed} computed {batches} "
                               f"of {session.n_batches}.\n\nDiscard them, or cancel and keep them "
                               f"(export first with File ▸ Export…)?")
