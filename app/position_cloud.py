"""Many scan positions on a plot at a bounded cost: every position when few are in view, else one per screen cell.

A scatter of 50,000 positions paints a canvas grey and turns an offsets plot into one blob, and
pyqtgraph repaints every one of them whenever anything else in the view changes (each batch). Here the
positions shown are decimated by view: only those inside the visible range are kept, and when more
than fit the screen's cells (``CELL_PX`` pixels square) only the first position in each cell is drawn.
The points drawn stay bounded by the view's size in pixels, the scan's layout (raster, spiral,
gaps) stays visible at any zoom, and zooming in shows every position of the zoomed region.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, QTimer, Slot

CELL_PX = 6
"""Side of the screen cell that holds at most one drawn position once a view holds more than fit."""
MAX_POINTS = 4_000
"""Never more points drawn than this, whatever the widget size."""


def decimate_in_view(x: np.ndarray, y: np.ndarray, x_range: tuple[float, float], y_range: tuple[float, float],
                     cell: tuple[float, float], max_points: int = MAX_POINTS) -> np.ndarray:
    """Indices of the positions to draw: those inside the ranges, at most one per ``cell`` (data units) when
    more than ``max_points`` are in view; the cell grows until at most ``max_points`` remain."""
    inside = np.flatnonzero((x >= x_range[0]) & (x <= x_range[1]) & (y >= y_range[0]) & (y <= y_range[1]))
    if inside.size <= max_points:
        return inside
    cell_x, cell_y = max(cell[0], 1e-12), max(cell[1], 1e-12)
    while True:
        cols = np.floor((x[inside] - x_range[0]) / cell_x).astype(np.int64)
        rows = np.floor((y[inside] - y_range[0]) / cell_y).astype(np.int64)
        _, first = np.unique(rows * (int(cols.max()) + 1) + cols, return_index=True)
        if first.size <= max_points:
            return inside[np.sort(first)]
        cell_x, cell_y = cell_x * 1.5, cell_y * 1.5


class PositionCloud(QObject):
    """A ScatterPlotItem on ``plot`` that shows the positions given, decimated to the plot's visible range."""

    def __init__(self, plot: pg.PlotItem, size: float, brush: pg.QtGui.QBrush, z: float,
                 max_points: int = MAX_POINTS):
        super().__init__()
        self.view: pg.ViewBox = plot.getViewBox()
        self.item = pg.ScatterPlotItem(size=size, pen=None, brush=brush)
        self.item.setZValue(z)
        plot.addItem(self.item)
        self.max_points = max_points
        self._x = np.zeros(0)
        self._y = np.zeros(0)
        self._update = QTimer(self)
        self._update.setSingleShot(True)
        self._update.setInterval(0)
        self._update.timeout.connect(self.refresh)
        self.view.sigRangeChanged.connect(self._schedule)
        self.view.sigResized.connect(self._schedule)

    @property
    def total(self) -> int:
        """Number of positions held (drawn or not)."""
        return int(self._x.size)

    @property
    def shown(self) -> int:
        """Number of positions drawn now."""
        return len(self.item.data)

    def set_positions(self, x: np.ndarray | None, y: np.ndarray | None) -> None:
        """Hold these positions (None: none) and draw those the view shows now."""
        self._x = np.zeros(0) if x is None else np.asarray(x, dtype=float).ravel()
        self._y = np.zeros(0) if y is None else np.asarray(y, dtype=float).ravel()
        self.refresh()

    def setVisible(self, visible: bool) -> None:
        self.item.setVisible(visible)

    @Slot()
    @Slot(object)
    @Slot(object, object, object)
    def _schedule(self, *_args: object) -> None:
        if self._x.size > self.max_points and not self._update.isActive():
            self._update.start()

    @Slot()
    def refresh(self) -> None:
        """Redraw the positions inside the view's current range, decimated to screen cells."""
        self._update.stop()
        if self._x.size == 0:
            self.item.clear()
            return
        if self._x.size <= self.max_points:
            keep = slice(None)
        else:
            (x0, x1), (y0, y1) = self.view.viewRange()
            width, height = max(self.view.width(), 1.0), max(self.view.height(), 1.0)
            cell = (CELL_PX * (x1 - x0) / width, CELL_PX * (y1 - y0) / height)
            keep = decimate_in_view(self._x, self._y, (x0, x1), (y0, y1), cell, self.max_points)
        self.item.setData(x=self._x[keep], y=self._y[keep])
