"""Run dock: run/pause/stop, batch stepping, batch size, device, grouping and normalization, progress."""

from __future__ import annotations

from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QSlider,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ptycho_gui.app.discard_prompt import confirm_discard
from ptycho_gui.app.run_controller import Progress
from ptycho_gui.app.session import Session
from ptycho_gui.engine.device import DeviceUnavailableError, available_devices
from ptycho_gui.errors import PtychoGuiError

MAX_BATCH_SIZE = 4096
MAX_NEIGHBORS = 256
NORMALIZATIONS = ("auto", "bridge", "mmap")
"""The named normalizations; a number may be typed instead (as ``ptycho-inspect --normalization``)."""
PLAN_OPTION_NAMES = {"neighbors": "the neighbours K", "seed": "the seed", "groups_file": "the groups file",
                     "normalization": "the normalization"}


def format_seconds(seconds: float) -> str:
    """'42 s', '3 min 05 s' or '2 h 07 min'."""
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def progress_text(progress: Progress) -> str:
    """'7 / 13 batches · 412 patterns/s · 2 s left'."""
    parts = [f"{progress.done} / {progress.total} batches"]
    if progress.patterns_per_second:
        parts.append(f"{progress.patterns_per_second:,.0f} patterns/s")
    if progress.seconds_left is not None and progress.done < progress.total:
        parts.append(f"{format_seconds(progress.seconds_left)} left")
    return " · ".join(parts)


def tool_button(action: QAction) -> QToolButton:
    button = QToolButton()
    button.setDefaultAction(action)
    button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
    return button


class RunControlsView(QWidget):
    """Buttons bound to the main window's run actions, plus batch, batch size, device and progress."""

    def __init__(self, session: Session, actions: dict[str, QAction], parent: QWidget | None = None):
        super().__init__(parent)
        self._session = session
        self._asking = False
        run_row = QHBoxLayout()
        for name in ("run", "stop"):
            run_row.addWidget(tool_button(actions[name]))
        run_row.addStretch(1)
        step_row = QHBoxLayout()
        for name in ("first", "previous", "next", "last"):
            step_row.addWidget(tool_button(actions[name]))
        step_row.addStretch(1)

        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setTracking(False)
        self.slider.setToolTip("batch shown (computed on demand when needed)")
        self.batch = QSpinBox()
        self.batch.setKeyboardTracking(False)
        self.follow = QCheckBox("follow live")
        self.follow.setToolTip("show each batch as soon as it is computed")
        self.batch_size = QSpinBox()
        self.batch_size.setRange(1, MAX_BATCH_SIZE)
        self.batch_size.setKeyboardTracking(False)
        self.device = QComboBox()
        self.device.addItems(available_devices())
        self.neighbors = QSpinBox()
        self.neighbors.setRange(0, MAX_NEIGHBORS)
        self.neighbors.setSpecialValueText("checkpoint's")
        self.neighbors.setKeyboardTracking(False)
        self.neighbors.setToolTip("K nearest neighbours each group is drawn from (ptycho-inspect --neighbors);\n"
                                  "checkpoint's: the K it was trained with, else 4")
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setKeyboardTracking(False)
        self.seed.setToolTip("grouping random seed (ptycho-inspect --seed)")
        self.groups_file = QLineEdit()
        self.groups_file.setPlaceholderText("none: neighbour grouping")
        self.groups_file.setToolTip("an .npy of dataset row indices, shape (groups, C), used instead of neighbour "
                                    "grouping (ptycho-inspect --groups)")
        self.browse_groups = QToolButton()
        self.browse_groups.setText("…")
        self.browse_groups.setToolTip("choose a groups file (.npy)")
        self.normalization = QComboBox()
        self.normalization.setEditable(True)
        self.normalization.addItems(NORMALIZATIONS)
        self.normalization.setToolTip("input normalization (ptycho-inspect --normalization): auto (the checkpoint's "
                                      "convention), bridge, mmap, or a number typed here")
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.progress_label = QLabel("")
        self.progress_label.setWordWrap(True)
        self.state_label = QLabel("")

        batch_row = QHBoxLayout()
        batch_row.addWidget(self.slider, 1)
        batch_row.addWidget(self.batch)
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("Batch", batch_row)
        form.addRow("", self.follow)
        form.addRow("Batch size", self.batch_size)
        form.addRow("Device", self.device)
        form.addRow("Neighbours K", self.neighbors)
        form.addRow("Seed", self.seed)
        groups_row = QHBoxLayout()
        groups_row.addWidget(self.groups_file, 1)
        groups_row.addWidget(self.browse_groups)
        form.addRow("Groups file", groups_row)
        form.addRow("Normalization", self.normalization)
        form.addRow("State", self.state_label)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(run_row)
        layout.addLayout(step_row)
        layout.addLayout(form)
        layout.addWidget(self.progress)
        layout.addWidget(self.progress_label)
        layout.addStretch(1)

        self.slider.valueChanged.connect(session.go_to)
        self.batch.valueChanged.connect(session.go_to)
        self.follow.toggled.connect(session.set_follow_live)
        self.batch_size.editingFinished.connect(self._apply_batch_size)
        self.device.activated.connect(self._apply_device)
        self.neighbors.editingFinished.connect(self._apply_plan_options)
        self.seed.editingFinished.connect(self._apply_plan_options)
        self.groups_file.editingFinished.connect(self._apply_plan_options)
        self.browse_groups.clicked.connect(self._browse_groups)
        self.normalization.activated.connect(self._apply_plan_options)
        self.normalization.lineEdit().editingFinished.connect(self._apply_plan_options)
        session.sigPlanChanged.connect(self._on_plan_changed)
        session.sigBatchChanged.connect(self._on_batch_changed)
        session.sigRunStateChanged.connect(self._on_state_changed)
        session.sigProgress.connect(self._on_progress)
        self._on_plan_changed()
        self._on_state_changed(session.state)

    def _guarded(self, what: str, change, value) -> None:
        """Apply a re-planning change once the user agreed to lose the computed batches (if any).

        The question is asked once: focus leaving an edit while it is open emits editingFinished again.
        """
        if self._asking:
            return
        self._asking = True
        try:
            agreed = confirm_discard(self, self._session, what)
        finally:
            self._asking = False
        if agreed:
            try:
                change(value)
            except DeviceUnavailableError as exc:
                self._session.sigError.emit("Device not available", str(exc), "")
            except (PtychoGuiError, ValueError, RuntimeError) as exc:
                self._session.sigError.emit("Cannot change the run settings", str(exc), "")
        self._sync_settings()

    @Slot()
    def _apply_batch_size(self) -> None:
        if self.batch_size.value() != self._session.settings.batch_size:
            self._guarded("Changing the batch size", self._session.set_batch_size, self.batch_size.value())

    @Slot(int)
    def _apply_device(self, _index: int) -> None:
        if self.device.currentText() != self._session.settings.device:
            self._guarded("Changing the device", self._session.set_device, self.device.currentText())

    def plan_options(self) -> dict[str, object]:
        """The grouping and normalization settings the form shows, as RunSettings fields."""
        return {
            "neighbors": self.neighbors.value() or None,
            "seed": self.seed.value(),
            "groups_file": self.groups_file.text().strip() or None,
            "normalization": self.normalization.currentText().strip() or "auto",
        }

    @Slot()
    def _apply_plan_options(self) -> None:
        settings = self._session.settings
        changes = {key: value for key, value in self.plan_options().items() if getattr(settings, key) != value}
        if changes:
            self._guarded(f"Changing {', '.join(PLAN_OPTION_NAMES[key] for key in changes)}",
                          lambda options: self._session.set_plan_options(**options), changes)

    @Slot()
    def _browse_groups(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Groups file", self.groups_file.text(), "NumPy arrays (*.npy)")
        if path:
            self.groups_file.setText(path)
            self._apply_plan_options()

    def _sync_settings(self) -> None:
        settings = self._session.settings
        for widget, value in ((self.neighbors, settings.neighbors or 0), (self.seed, settings.seed or 0)):
            widget.blockSignals(True)
            widget.setValue(value)
            widget.blockSignals(False)
        self.groups_file.setText(settings.groups_file or "")
        self.normalization.blockSignals(True)
        self.normalization.setCurrentText(settings.normalization)
        self.normalization.blockSignals(False)
        self.batch_size.blockSignals(True)
        self.batch_size.setValue(settings.batch_size)
        self.batch_size.blockSignals(False)
        self.device.blockSignals(True)
        if self.device.findText(settings.device) < 0:
            self.device.addItem(settings.device)
        self.device.setCurrentText(settings.device)
        self.device.blockSignals(False)

    @Slot()
    def _on_plan_changed(self) -> None:
        last = max(0, self._session.n_batches - 1)
        for widget in (self.slider, self.batch):
            widget.blockSignals(True)
            widget.setRange(0, last)
            widget.setValue(0)
            widget.blockSignals(False)
        self.progress.setRange(0, max(1, self._session.n_batches))
        self.progress.setValue(0)
        self.progress_label.setText("")
        self._sync_settings()

    @Slot(object)
    def _on_batch_changed(self, batch: object) -> None:
        index = self._session.current.index if self._session.current is not None else 0
        for widget in (self.slider, self.batch):
            widget.blockSignals(True)
            widget.setValue(index)
            widget.blockSignals(False)
        self.follow.blockSignals(True)
        self.follow.setChecked(self._session.follow_live)
        self.follow.blockSignals(False)

    @Slot(str)
    def _on_state_changed(self, state: str) -> None:
        self.state_label.setText(state)
        busy = state in ("running", "paused")
        for widget in (self.batch_size, self.device, self.neighbors, self.seed, self.groups_file, self.browse_groups,
                       self.normalization):
            widget.setEnabled(not busy)
        has_plan = self._session.run is not None
        for widget in (self.slider, self.batch, self.follow):
            widget.setEnabled(has_plan)
        self.follow.blockSignals(True)
        self.follow.setChecked(self._session.follow_live)
        self.follow.blockSignals(False)

    @Slot(object)
    def _on_progress(self, progress: Progress) -> None:
        self.progress.setRange(0, max(1, progress.total))
        self.progress.setValue(progress.done)
        self.progress_label.setText(progress_text(progress))
