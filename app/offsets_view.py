"""Offsets dock: scan positions with each group joined to its centre, and the current batch's offsets table."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, QPointF, Qt, Signal, Slot
from PySide6.QtGui import QAction, QResizeEvent
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QSplitter, QTableView, QVBoxLayout, QWidget

from ptycho_gui.app.display import group_offsets, member_to_centre_segments
from ptycho_gui.app.plot_helpers import (
    ALL_POSITIONS_COLOR,
    BATCH_POSITIONS_COLOR,
    SELECTION_COLOR,
    TITLE_SIZE,
    fix_left_axis,
    install_export_action,
)
from ptycho_gui.app.position_cloud import PositionCloud
from ptycho_gui.app.redraw_queue import FOLLOW_INTERVAL_MS
from ptycho_gui.app.session import PatchSelection, Session

MAX_LINKED_MEMBERS = 4_000
"""Above this many group members only the current batch's links are drawn (all of them would slow every repaint
and merge into one blob)."""
TABLE_COLUMNS = ("group", "ch", "row", "dx", "dy", "x", "y")
TABLE_TIPS = ("group (index in the run's group table)", "channel within the group", "dataset row",
              "x offset from the group centre (object pixels)", "y offset from the group centre (object pixels)",
              "scan position x (object pixels)", "scan position y (object pixels)")


CELL_PADDING = 10
"""Pixels beside a cell's text (margins and grid line)."""
DISPLAY_ROLE = int(Qt.ItemDataRole.DisplayRole)
ALIGNMENT_ROLE = int(Qt.ItemDataRole.TextAlignmentRole)
RIGHT_ALIGNED = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
"""Roles and alignment as plain ints: the view asks ``data`` for about ten roles of every visible cell at each
repaint (hundreds of calls per live batch), so each answer must cost no more than a lookup."""


def cell_texts(keys: np.ndarray, values: np.ndarray) -> list[list[str]]:
    """The table's text, row by row: group, channel and dataset row as integers, offsets signed, positions plain."""
    return [[str(int(k)) for k in key_row] + [f"{v:+.2f}" for v in value_row[:2]] + [f"{v:.2f}" for v in value_row[2:]]
            for key_row, value_row in zip(keys.tolist(), values.tolist(), strict=True)]


def widest_cells(n_groups: int, channels: int, n_rows: int, positions: np.ndarray) -> tuple[str, ...]:
    """The widest text each table column can show for a plan (indices are 0-based, offsets signed)."""
    finite = positions[np.isfinite(positions)]
    largest = float(np.abs(finite).max()) if finite.size else 0.0
    _, offsets = group_offsets(positions)
    offsets = offsets[np.isfinite(offsets)]
    spread = float(np.abs(offsets).max()) if offsets.size else 0.0
    return (str(max(n_groups - 1, 0)), str(max(channels - 1, 0)), str(max(n_rows - 1, 0)),
            f"{-spread:+.2f}", f"{-spread:+.2f}", f"{-largest:.2f}", f"{-largest:.2f}")


def _span(values: np.ndarray) -> tuple[float, float]:
    """(min, max) of the finite values, (0, 1) when there are none."""
    finite = np.asarray(values, dtype=float)
    finite = finite[np.isfinite(finite)]
    return (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)


class OffsetsTableModel(QAbstractTableModel):
    """The current batch's members: group, channel, dataset row, offset from the group centre, position."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self._keys = np.zeros((0, 3), dtype=np.int64)
        self._values = np.zeros((0, 4), dtype=float)
        self._text: list[list[str]] = []

    def set_batch(self, batch, members: np.ndarray | None = None) -> None:
        """Show a BatchResult's members at their (B, C, 2) ``members`` positions (None empties the table).

        A batch with as many members as the one shown replaces its cells in place (the view keeps its
        scroll position and repaints the cells); another row count resets the model.
        """
        if batch is None:
            keys, values = np.zeros((0, 3), dtype=np.int64), np.zeros((0, 4), dtype=float)
        else:
            b, c = batch.groups.shape
            _, offsets = group_offsets(members)
            keys = np.stack([np.repeat(batch.group_indices, c), np.tile(np.arange(c), b), batch.groups.ravel()], axis=1)
            values = np.concatenate([offsets.reshape(-1, 2), members.reshape(-1, 2)], axis=1)
        same_rows = len(keys) == len(self._keys)
        if not same_rows:
            self.beginResetModel()
        self._keys, self._values, self._text = keys, values, cell_texts(keys, values)
        if not same_rows:
            self.endResetModel()
        elif len(keys):
            self.dataChanged.emit(self.index(0, 0), self.index(len(keys) - 1, len(TABLE_COLUMNS) - 1),
                                  [Qt.ItemDataRole.DisplayRole])

    def row_of(self, group: int, channel: int) -> int | None:
        """Table row of a (group, channel) member, or None when it is not in this batch."""
        hits = np.flatnonzero((self._keys[:, 0] == group) & (self._keys[:, 1] == channel))
        return int(hits[0]) if hits.size else None

    def member(self, row: int) -> tuple[int, int]:
        return int(self._keys[row, 0]), int(self._keys[row, 1])

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex | None = None) -> int:
        return 0 if parent is not None and parent.isValid() else len(self._keys)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex | None = None) -> int:
        return 0 if parent is not None and parent.isValid() else len(TABLE_COLUMNS)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = DISPLAY_ROLE):
        if role == DISPLAY_ROLE:
            return self._text[index.row()][index.column()] if index.isValid() else None
        return RIGHT_ALIGNED if role == ALIGNMENT_ROLE else None

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):
        if orientation != Qt.Orientation.Horizontal:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return TABLE_COLUMNS[section]
        if role == Qt.ItemDataRole.ToolTipRole:
            return TABLE_TIPS[section]
        return None


class OffsetsView(QWidget):
    """Scatter of every scan position, group links, the current batch highlighted, and its offsets."""

    sigExportRequested = Signal(str)
    VIEW_NAME = "offsets"

    def __init__(self, session: Session, parent: QWidget | None = None):
        super().__init__(parent)
        self._session = session
        self.widget = pg.PlotWidget()
        self.plot: pg.PlotItem = self.widget.getPlotItem()
        self.plot.setTitle("Positions and group links", size=TITLE_SIZE)
        self.plot.setLabel("bottom", "x (object pixels)")
        self.plot.setLabel("left", "y (object pixels)")
        self.plot.getViewBox().invertY(True)
        self.plot.getViewBox().setAspectLocked(True)
        self.plot.getViewBox().disableAutoRange()
        fix_left_axis(self.plot, labelled=True)
        self.all_links = pg.PlotCurveItem(pen=pg.mkPen(180, 180, 180, 120, width=1), connect="pairs")
        self.batch_links = pg.PlotCurveItem(pen=pg.mkPen(BATCH_POSITIONS_COLOR, width=1.5), connect="pairs")
        self.batch_points = pg.ScatterPlotItem(size=7, pen=pg.mkPen("k", width=0.5),
                                               brush=pg.mkBrush(BATCH_POSITIONS_COLOR))
        self.centres = pg.ScatterPlotItem(size=7, symbol="+", pen=pg.mkPen("k", width=1.2), brush=None)
        self.selected = pg.ScatterPlotItem(size=14, pen=pg.mkPen(SELECTION_COLOR, width=2), brush=None)
        self.all_links.setZValue(0)
        self.plot.addItem(self.all_links)
        self.all_points = PositionCloud(self.plot, size=4, brush=pg.mkBrush(*ALL_POSITIONS_COLOR), z=1)
        for z, item in enumerate((self.batch_links, self.batch_points, self.centres, self.selected), start=2):
            item.setZValue(z)
            self.plot.addItem(item)

        self.model = OffsetsTableModel(self)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.horizontalHeader().setMinimumSectionSize(16)
        self.table.verticalHeader().setDefaultSectionSize(18)
        font = self.table.font()
        font.setPointSizeF(font.pointSizeF() * 0.9)
        self.table.setFont(font)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        export = QAction("Export…", self.table)
        export.triggered.connect(lambda: self.sigExportRequested.emit(self.VIEW_NAME))
        self.table.addAction(export)

        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(self.widget)
        self.splitter.addWidget(self.table)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.splitter)

        install_export_action(self.widget, lambda: self.sigExportRequested.emit(self.VIEW_NAME))
        self.widget.scene().sigMouseClicked.connect(self._on_mouse_clicked)
        self.table.selectionModel().selectionChanged.connect(self._on_table_selection)
        session.sigPlanChanged.connect(self._on_plan_changed)
        session.sigBatchChanged.connect(self._on_batch_changed)
        session.sigSelectionChanged.connect(self._on_selection_changed)

    def resizeEvent(self, event: QResizeEvent) -> None:
        """Plot beside the table in a wide dock, above it in a tall one."""
        super().resizeEvent(event)
        size = event.size()
        wide = size.width() > 1.3 * size.height()
        orientation = Qt.Orientation.Horizontal if wide else Qt.Orientation.Vertical
        if self.splitter.orientation() != orientation:
            self.splitter.setOrientation(orientation)
            extent = size.width() if wide else size.height()
            plot_share = 0.42 if wide else 0.5
            self.splitter.setSizes([int(extent * plot_share), int(extent * (1 - plot_share))])

    @Slot()
    def _on_plan_changed(self) -> None:
        self._session.redraws.request((self, "plan"), self._draw_plan)

    def _draw_plan(self) -> None:
        """Draw every scan position (and group links), fit the view and the table's columns, then the batch."""
        run = self._session.run
        if run is None:
            self.all_links.setData([], [])
            self.all_points.set_positions(None, None)
        else:
            if run.member_positions[..., 0].size <= MAX_LINKED_MEMBERS:
                self.all_links.setData(*member_to_centre_segments(run.member_positions), connect="pairs")
            else:
                self.all_links.setData([], [])
            self.plot.getViewBox().setRange(xRange=_span(self._session.dataset.xcoords),
                                            yRange=_span(self._session.dataset.ycoords), padding=0.05)
            self.all_points.set_positions(self._session.dataset.xcoords, self._session.dataset.ycoords)
            self.fit_columns(widest_cells(run.n_groups, run.groups.shape[1], len(self._session.dataset.xcoords),
                                          run.positions))
        self._draw_batch()

    def fit_columns(self, widest: tuple[str, ...]) -> None:
        """Size every column to its widest possible cell in this plan, so no number is elided ('1…')."""
        metrics = self.table.fontMetrics()
        header = self.table.horizontalHeader()
        for column, (name, text) in enumerate(zip(TABLE_COLUMNS, widest, strict=True)):
            width = max(metrics.horizontalAdvance(text), header.fontMetrics().horizontalAdvance(name))
            self.table.setColumnWidth(column, width + CELL_PADDING)

    @Slot(object)
    def _on_batch_changed(self, _batch: object) -> None:
        self._session.redraws.request(self, self._draw_batch, min_interval_ms=FOLLOW_INTERVAL_MS)

    def _draw_batch(self) -> None:
        batch = self._session.current
        if batch is None:
            self.batch_links.setData([], [])
            self.batch_points.clear()
            self.centres.clear()
            self.model.set_batch(None)
            self._on_selection_changed(self._session.selection)
            return
        members = self._session.run.member_positions[batch.group_indices]
        centres, _ = group_offsets(members)
        self.batch_links.setData(*member_to_centre_segments(members), connect="pairs")
        self.batch_points.setData(x=members[..., 0].ravel(), y=members[..., 1].ravel())
        self.centres.setData(x=centres[:, 0], y=centres[:, 1])
        fresh = self.model.rowCount() == 0
        self.model.set_batch(batch, members)
        if fresh:
            self.table.resizeColumnsToContents()
        self._on_selection_changed(self._session.selection)

    @Slot(object)
    def _on_selection_changed(self, selection: PatchSelection | None) -> None:
        run = self._session.run
        if selection is None or run is None:
            self.selected.clear()
        else:
            x, y = run.positions[selection.group, selection.channel]
            self.selected.setData(x=[x], y=[y])
        row = None if selection is None else self.model.row_of(selection.group, selection.channel)
        selection_model = self.table.selectionModel()
        selection_model.blockSignals(True)
        if row is None:
            self.table.clearSelection()
        else:
            self.table.selectRow(row)
            self.table.scrollTo(self.model.index(row, 0))
        selection_model.blockSignals(False)
        self.table.viewport().update()

    @Slot()
    def _on_table_selection(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        if rows:
            self._session.select(*self.model.member(rows[0].row()))

    @Slot(object)
    def _on_mouse_clicked(self, event) -> None:
        if event.button() != Qt.MouseButton.LeftButton or self._session.run is None:
            return
        point: QPointF = self.plot.getViewBox().mapSceneToView(event.scenePos())
        self._session.select_nearest(point.x(), point.y())
