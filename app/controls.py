"""Small form controls shared by the view toolbars."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QComboBox, QDoubleSpinBox, QHBoxLayout, QLabel, QToolButton, QWidget

LEVEL_SPIN_WIDTH = 64


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


class LevelsControl(QWidget):
    """Typed colour levels and an 'Auto' button: every image view's way to exact levels and back to auto.

    ``on_typed`` gets (low, high) when the user finishes typing a valid pair; ``on_auto`` is called by
    the button. ``show_levels`` mirrors the levels drawn (after a colour-bar drag too) without signals.
    """

    def __init__(self, on_typed: Callable[[tuple[float, float]], None], on_auto: Callable[[], None],
                 parent: QWidget | None = None):
        super().__init__(parent)
        self._on_typed = on_typed
        self.auto = QToolButton()
        self.auto.setText("Auto")
        self.auto.setCheckable(True)
        self.auto.setChecked(True)
        self.auto.setToolTip("automatic levels (robust range of what is shown); dragging the colour bar "
                             "or typing levels fixes them")
        self.low, self.high = QDoubleSpinBox(), QDoubleSpinBox()
        for spin, tip in ((self.low, "low level"), (self.high, "high level")):
            spin.setRange(-1e12, 1e12)
            spin.setDecimals(4)
            spin.setKeyboardTracking(False)
            spin.setButtonSymbols(QDoubleSpinBox.ButtonSymbols.NoButtons)
            spin.setMinimumWidth(LEVEL_SPIN_WIDTH)
            spin.setMaximumWidth(LEVEL_SPIN_WIDTH)
            spin.setToolTip(f"{tip}: type a value to fix the levels")
            spin.editingFinished.connect(self._typed)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(3)
        layout.addWidget(QLabel("Levels"))
        layout.addWidget(self.low)
        layout.addWidget(QLabel("–"))
        layout.addWidget(self.high)
        layout.addWidget(self.auto)
        self.auto.clicked.connect(lambda _checked: on_auto())

    def show_levels(self, levels: tuple[float, float] | None, auto: bool) -> None:
        """Show the levels in use and whether they are automatic (no signals)."""
        for spin, value in zip((self.low, self.high), levels or (0.0, 1.0), strict=True):
            spin.blockSignals(True)
            spin.setValue(float(value))
            spin.blockSignals(False)
        self.auto.blockSignals(True)
        self.auto.setChecked(auto)
        self.auto.blockSignals(False)

    def _typed(self) -> None:
        low, high = self.low.value(), self.high.value()
        if low < high:
            self._on_typed((low, high))
