"""Error reporting: a non-blocking message box with the one-line message and a details section."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QWidget

from ptycho_gui.errors import InvalidInputError, PtychoGuiError


def error_details(error: Exception) -> str:
    """Details for the dialog's 'Show Details…' section: error type, file and problem."""
    lines = [f"{type(error).__name__}: {error}"]
    if isinstance(error, InvalidInputError):
        lines += [f"file: {error.path}", f"problem: {error.problem}"]
    elif isinstance(error, PtychoGuiError):
        lines.append("The checkpoint and the dataset cannot be used together as they are.")
    return "\n".join(lines)


def show_message(parent: QWidget, icon: QMessageBox.Icon, title: str, message: str, details: str = "") -> QMessageBox:
    """Open a window-modal message box without blocking the event loop; it deletes itself when closed."""
    box = QMessageBox(icon, title, message, QMessageBox.StandardButton.Ok, parent)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    if details:
        box.setDetailedText(details)
    box.open()
    return box
