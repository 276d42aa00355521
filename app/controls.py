"""Small form controls shared by the view toolbars."""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QWidget


def labelled(text: str, widget: QWidget) -> QWidget:
    """A compact 'label: widget' pair for view toolbars."""
    box = QWidget()
    layout = QHBoxLayout(box)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(3)
    layout.addWidget(QLabel(text))
    layout.addWidget(widget)
    return box


def compact_combo(items: tuple[str, ...], tip: str = "") -> QComboBox:
    """A combo box that may shrink to a few characters, so narrow docks keep their controls."""
    combo = QComboBox()
    combo.addItems(items)
    combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    combo.setMinimumContentsLength(7)
    combo.setToolTip(tip)
    return combo


def set_combo(combo: QComboBox, text: str) -> None:
    """Show ``text`` in a combo box without emitting its change signals."""
    combo.blockSignals(True)
    combo.setCurrentText(text)
    combo.blockSignals(False)
