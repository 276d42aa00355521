"""The Sweep dock: a sweep.json's pairs in a table sortable by any column; a double-click opens a comparison.

Double-clicking a row emits ``sigOpenReconstruction(reconstruction_path, reference_path_or_None)``: the
reference is another selected row's reconstruction.h5 when exactly one other row is selected, else the row's
dataset (its objectGuess is the truth), or None when neither exists. The window opens it in the Compare dock.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSortFilterProxyModel, Qt, Signal
from PySide6.QtGui import QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from ptycho_gui.sweep.report import CSV_COLUMNS
from ptycho_gui.sweep.table import SweepTable

SORT_ROLE = Qt.ItemDataRole.UserRole + 1
"""Numbers sort as numbers, text as text; empty cells hold None."""

TABLE_COLUMNS = tuple(c for c in CSV_COLUMNS if c not in ("sha256", "reconstruction"))


def _item(value) -> QStandardItem:
    """A read-only cell showing ``value``, sorting numerically when it is a number."""
    if value is None or value == "":
        item = QStandardItem("")
    elif isinstance(value, float):
        item = QStandardItem(f"{value:.5g}")
        item.setData(value, SORT_ROLE)
    elif isinstance(value, int):
        item = QStandardItem(str(value))
        item.setData(float(value), SORT_ROLE)
    else:
        text = Path(value).name if "/" in str(value) else str(value)
        item = QStandardItem(text)
        item.setToolTip(str(value))
        item.setData(str(value), SORT_ROLE)
    item.setEditable(False)
    return item


class EmptyLastProxy(QSortFilterProxyModel):
    """Sorts by SORT_ROLE; empty cells (a failed pair's metrics) stay at the bottom in either order."""

    def lessThan(self, left, right) -> bool:
        a, b = left.data(SORT_ROLE), right.data(SORT_ROLE)
        if a is None or b is None:
            return (a is None) == (self.sortOrder() == Qt.SortOrder.DescendingOrder) and (a is None) != (b is None)
        if isinstance(a, str) != isinstance(b, str):
            return isinstance(b, str)
        return a < b


class SweepView(QWidget):
    """A table of a sweep's pairs; sortable by clicking any header."""

    sigOpenReconstruction = Signal(str, object)
    """(reconstruction.h5 path, reference path or None): a dataset with objectGuess or another reconstruction.h5."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.table: SweepTable | None = None
        self.model = QStandardItemModel(0, len(TABLE_COLUMNS), self)
        self.model.setHorizontalHeaderLabels(list(TABLE_COLUMNS))
        self.proxy = EmptyLastProxy(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setSortRole(SORT_ROLE)
        self.view = QTableView()
        self.view.setModel(self.proxy)
        self.view.setSortingEnabled(True)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.view.doubleClicked.connect(lambda index: self.open_row(self.proxy.mapToSource(index).row()))
        self.caption = QLabel("Open a sweep.json (File ▸ Open sweep…). Double-click a row to compare it with the "
                              "truth, or select a second row first to compare the two.")
        self.caption.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.caption)
        layout.addWidget(self.view)

    def set_table(self, table: SweepTable) -> None:
        """Show the pairs of ``table`` (rows keep their sweep order in column 0's data)."""
        self.table = table
        self.model.removeRows(0, self.model.rowCount())
        for number, flat in enumerate(table.flat):
            items = [_item(flat[name]) for name in TABLE_COLUMNS]
            items[0].setData(number, Qt.ItemDataRole.UserRole)
            self.model.appendRow(items)
        self.view.resizeColumnsToContents()
        ok = sum(flat["status"] == "ok" for flat in table.flat)
        self.caption.setText(f"{table.path}: {len(table.rows)} pairs, {ok} ok. Double-click a row to compare it "
                             "with the truth, or select a second row first to compare the two.")

    def sort_by(self, column: str, ascending: bool = True) -> None:
        """Sort the table by the named column."""
        order = Qt.SortOrder.AscendingOrder if ascending else Qt.SortOrder.DescendingOrder
        self.view.sortByColumn(TABLE_COLUMNS.index(column), order)

    def row_order(self) -> list[int]:
        """Sweep row numbers in the order the table shows them."""
        return [self.model.item(self.proxy.mapToSource(self.proxy.index(r, 0)).row(), 0).data(Qt.ItemDataRole.UserRole)
                for r in range(self.proxy.rowCount())]

    def _sweep_row(self, model_row: int) -> int:
        return self.model.item(model_row, 0).data(Qt.ItemDataRole.UserRole)

    def reference_for(self, number: int) -> str | None:
        """Another selected row's reconstruction when exactly one other is selected, else the row's dataset."""
        selected = {self._sweep_row(self.proxy.mapToSource(i).row()) for i in self.view.selectionModel().selectedRows()}
        others = [row for row in selected if row != number]
        if len(others) == 1 and self.table.reconstruction(others[0]) is not None:
            return str(self.table.reconstruction(others[0]))
        dataset = self.table.rows[number]["dataset"]
        return dataset if dataset and Path(dataset).exists() else None

    def open_row(self, model_row: int) -> None:
        """Emit sigOpenReconstruction for a row that has a reconstruction."""
        number = self._sweep_row(model_row)
        reconstruction = self.table.reconstruction(number)
        if reconstruction is None:
            self.caption.setText(f"Row {number} has no reconstruction: {self.table.rows[number]['reason']}")
            return
        self.sigOpenReconstruction.emit(str(reconstruction), self.reference_for(number))
