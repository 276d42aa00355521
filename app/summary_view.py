"""Summary dock: what was loaded (checkpoint, resolved config, dataset) and how the run is planned."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from PySide6.QtCore import Slot
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QHeaderView, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from ptycho_gui.app.session import Session

UNVERIFIED_COLOR = "#b35900"
UNVERIFIED_TIP = "could not be verified from this checkpoint: value assumed (PtychoPINN's default)"
MAX_SEQUENCE_ITEMS = 12


def format_value(value: object) -> str:
    """Short text for a summary value: floats to 6 significant digits, long sequences abbreviated."""
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (list, tuple)):
        shown = ", ".join(format_value(v) for v in value[:MAX_SEQUENCE_ITEMS])
        more = f", … ({len(value)} items)" if len(value) > MAX_SEQUENCE_ITEMS else ""
        return f"[{shown}{more}]"
    return str(value)


class SummaryView(QWidget):
    """A two-column tree: Checkpoint, Configuration, Dataset and Run sections."""

    def __init__(self, session: Session, parent: QWidget | None = None):
        super().__init__(parent)
        self._session = session
        self.tree = QTreeWidget()
        self.tree.setColumnCount(2)
        self.tree.setHeaderLabels(["field", "value"])
        self.tree.header().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        self.tree.setAlternatingRowColors(True)
        self.tree.setUniformRowHeights(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.tree)
        session.sigFilesChanged.connect(self.request_refresh)
        session.sigPlanChanged.connect(self.request_refresh)
        self.refresh()

    @Slot()
    def request_refresh(self) -> None:
        """Queue one rebuild (``RedrawQueue``): opening files and planning change the tree several times in a row."""
        self._session.redraws.request(self, self.refresh)

    @Slot()
    def refresh(self) -> None:
        """Rebuild the tree from the session's model, dataset and plan."""
        self.tree.setUpdatesEnabled(False)
        try:
            self._rebuild()
        finally:
            self.tree.setUpdatesEnabled(True)

    def _rebuild(self) -> None:
        session = self._session
        self.tree.clear()
        model, dataset, run = session.model, session.dataset, session.run
        if model is None and dataset is None:
            QTreeWidgetItem(self.tree, ["", "open a checkpoint and a dataset (File menu or drag and drop)"])
            return
        if model is not None:
            unverified = set(model.unverified)
            self._section("Checkpoint", {
                "file": model.path.name,
                "identity": model.identity(),
                "format": model.format,
                "family": model.family,
                "era": model.era or "—",
                "N": model.N,
                "gridsize": model.gridsize,
                "channels C": model.C,
                "normalization": model.normalization,
                "config from": model.config_source,
                "sha256": model.sha256[:16] + "…",
            })
            config = self._section("Configuration (resolved)", model.config, unverified)
            self._section("Configuration sources", model.summary()["config_sources"]).setExpanded(False)
            config.setExpanded(bool(unverified))
            if model.notes:
                self._section("Checkpoint notes", {str(i + 1): note for i, note in enumerate(model.notes)})
        if dataset is not None:
            details = dataset.summary()
            details["path"] = f"{dataset.path.parent.name}/{dataset.path.name}"
            self._section("Dataset", details)
            if dataset.warnings:
                warned = {str(i + 1): f"⚠ {text}" for i, text in enumerate(dataset.warnings)}
                self._section("Dataset warnings", warned).setExpanded(True)
        if run is not None:
            self._section("Run plan", {
                "groups": run.n_groups,
                "batches": run.n_batches,
                "batch size": session.settings.batch_size,
                "neighbours K": run.neighbors,
                "seed": session.settings.seed,
                "groups file": session.settings.groups_file or "none (neighbour grouping)",
                "input scale": run.input_scale,
                "normalization": run.normalization_description,
                "device": str(run.device),
                "torch threads": session.settings.num_threads or "torch default",
            })

    def _section(self, title: str, values: Mapping[str, object], flagged: Iterable[str] = ()) -> QTreeWidgetItem:
        top = QTreeWidgetItem(self.tree, [title, ""])
        font = top.font(0)
        font.setBold(True)
        top.setFont(0, font)
        top.setFirstColumnSpanned(True)
        self._fill(top, values, set(flagged), "")
        top.setExpanded(True)
        return top

    def _fill(self, parent: QTreeWidgetItem, values: Mapping[str, object], flagged: set[str], prefix: str) -> None:
        for key, value in values.items():
            name = f"{prefix}{key}"
            if isinstance(value, Mapping):
                child = QTreeWidgetItem(parent, [str(key), ""])
                self._fill(child, value, flagged, f"{name}.")
                continue
            child = QTreeWidgetItem(parent, [str(key), format_value(value)])
            child.setToolTip(1, format_value(value))
            if name in flagged or key in flagged:
                brush = QBrush(QColor(UNVERIFIED_COLOR))
                child.setForeground(0, brush)
                child.setForeground(1, brush)
                child.setText(1, f"{format_value(value)}  ⚠ unverified")
                child.setToolTip(0, UNVERIFIED_TIP)
                child.setToolTip(1, UNVERIFIED_TIP)
