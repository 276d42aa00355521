"""Statistics dock: live per-batch curves with a current-batch marker, and the current batch's histogram."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QBrush
from PySide6.QtWidgets import QLabel, QSizePolicy, QVBoxLayout, QWidget

from ptycho_gui.app.plot_helpers import TITLE_SIZE, export_entry, fix_left_axis
from ptycho_gui.app.session import Session

CURVE_GROUPS: tuple[tuple[str, tuple[tuple[str, str, str], ...]], ...] = (
    ("Amplitude", (
        ("global_mean", "amp mean", "#1f77b4"),
        ("global_std", "amp std", "#ff7f0e"),
        ("var_zero_mean", "amp var (zero mean)", "#2ca02c"),
        ("amp_min", "amp min", "#7f7f7f"),
        ("amp_max", "amp max", "#d62728"),
    )),
    ("Phase (rad)", (
        ("phase_mean", "phase mean", "#9467bd"),
        ("phase_std", "phase std", "#8c564b"),
    )),
    ("Input scale", (
        ("input_scale", "input scale", "#17becf"),
    )),
)
"""Plots, each with its curves: (StatsHistory field, legend label, colour)."""
HISTOGRAM_BINS = 80
MAX_SYMBOL_POINTS = 16
"""Curves longer than this are drawn as lines only: symbols show the first batches (one batch is a point, not a
line), and past that the line's vertices do; symbols cost every refresh (with 16 points a refresh and its repaint
took 19.5 ms of GUI-thread CPU with them, 15.5 ms without; with 40 points about 29 ms)."""
MIN_PLOT_HEIGHT = 150
"""The plots never shrink below this, so axes and curves stay readable in a short window (1366×768)."""
REFRESH_MS = 500
"""The dock (one widget: every plot repaints together) is redrawn at most this often during a run."""
RANGE_SLACK = 0.5
"""A y range is kept while the data stay inside it and span at least this fraction of it (no axis re-layout)."""


def stable_range(shown: tuple[float, float] | None, low: float, high: float) -> tuple[float, float] | None:
    """The y range to show for data in [low, high]: None to keep ``shown``, else a range 10 % wider than the data.

    Changing a range regenerates the axis's ticks and re-lays out the plot, so a range that still
    holds the data (which a range with margins does for most new batches) is kept.
    """
    if shown is not None and shown[0] <= low and high <= shown[1]:
        if high - low >= RANGE_SLACK * (shown[1] - shown[0]):
            return None
    margin = 0.05 * (high - low) if high > low else max(abs(high) * 0.05, 1e-6)
    return (low - margin, high + margin)


def legend_html() -> str:
    """One line naming every curve in its colour (a legend that never covers the data)."""
    entries = [f'<span style="color:{color}">&#9632;</span>&nbsp;{label}'
               for _, curves in CURVE_GROUPS for _, label, color in curves]
    return '<span style="font-size:8pt">' + " &nbsp; ".join(entries) + "</span>"


def consecutive(done: np.ndarray) -> np.ndarray:
    """pyqtgraph 'connect' flags: a line joins two computed batches only when no batch lies between them."""
    flags = np.zeros(len(done), dtype=bool)
    flags[:-1] = np.diff(done) == 1
    return flags


class StatisticsView(QWidget):
    """Curves over batch index; clicking a point shows that batch; a histogram of the shown batch."""

    sigExportRequested = Signal(str)
    VIEW_NAME = "statistics"

    def __init__(self, session: Session, parent: QWidget | None = None):
        super().__init__(parent)
        self._session = session
        self.widget = pg.GraphicsLayoutWidget()
        self.curves: dict[str, pg.PlotDataItem] = {}
        self.symbols: list[pg.ScatterPlotItem] = []
        """One scatter per plot holds the symbols of all its curves: pyqtgraph rebuilds and paints a scatter per
        item at every refresh, and with one per curve that took 17 ms of the GUI thread's 30 ms refresh."""
        self._symbol_brushes: list[list[QBrush]] = []
        self.markers: list[pg.InfiniteLine] = []
        self.plots: list[pg.PlotItem] = []
        self._y_ranges: list[tuple[float, float] | None] = []
        self._curves_stale = self._batch_stale = self._plan_stale = False
        self._residual: tuple[np.ndarray, np.ndarray] | None = None
        """The residual curve waiting for the next paced refresh (None: drawn)."""
        self._histogram_range: tuple[tuple[float, float] | None, tuple[float, float] | None] = (None, None)
        for column, (title, curves) in enumerate(CURVE_GROUPS):
            plot = self.widget.addPlot(row=0, col=column)
            plot.setTitle(title, size=TITLE_SIZE)
            plot.setLabel("bottom", "batch")
            plot.showGrid(x=True, y=True, alpha=0.25)
            plot.getViewBox().disableAutoRange()
            fix_left_axis(plot)
            for name, label, color in curves:
                self.curves[name] = plot.plot([], [], name=label, pen=pg.mkPen(color, width=1.5))
            symbols = pg.ScatterPlotItem(size=3, pen=None)
            plot.addItem(symbols)
            self.symbols.append(symbols)
            self._symbol_brushes.append([pg.mkBrush(color) for _, _, color in curves])
            marker_pen = pg.mkPen("#ff2d2d", width=1, style=Qt.PenStyle.DashLine)
            marker = pg.InfiniteLine(angle=90, movable=False, pen=marker_pen)
            marker.setVisible(False)
            plot.addItem(marker, ignoreBounds=True)
            self.markers.append(marker)
            if self.plots:
                plot.setXLink(self.plots[0])
            self.plots.append(plot)
            self._y_ranges.append(None)
        self.histogram_plot = self.widget.addPlot(row=0, col=len(CURVE_GROUPS))
        self.histogram_plot.setTitle("Amplitudes of the shown batch", size=TITLE_SIZE)
        self.histogram_plot.setLabel("bottom", "amplitude")
        self.histogram_plot.setLabel("left", "pixels")
        self.histogram = pg.PlotDataItem([0, 1], [0], stepMode="center", fillLevel=0, brush=(31, 119, 180, 120),
                                         pen=pg.mkPen("#1f77b4"))
        self.histogram_plot.addItem(self.histogram)
        self.histogram_plot.getViewBox().disableAutoRange()
        fix_left_axis(self.histogram_plot, labelled=True)
        self.residual_plot = self.widget.addPlot(row=0, col=len(CURVE_GROUPS) + 1)
        self.residual_plot.setTitle("Residual NMSE", size=TITLE_SIZE)
        self.residual_plot.setLabel("bottom", "batch")
        self.residual_plot.showGrid(x=True, y=True, alpha=0.25)
        self.residual_plot.setXLink(self.plots[0])
        fix_left_axis(self.residual_plot, labelled=True)
        residual_marker = pg.InfiniteLine(angle=90, movable=False, pen=marker_pen)
        residual_marker.setVisible(False)
        self.residual_plot.addItem(residual_marker, ignoreBounds=True)
        self.markers.append(residual_marker)
        self.residual_curve = self.residual_plot.plot([], [], pen=pg.mkPen("#e377c2", width=1.5), symbol="o",
                                                      symbolSize=3, symbolPen=None, symbolBrush="#e377c2")
        for plot in (*self.plots, self.histogram_plot, self.residual_plot):
            export_entry(plot.getViewBox().menu, self.widget, lambda: self.sigExportRequested.emit(self.VIEW_NAME))
        self.widget.scene().contextMenu = []
        self.legend = QLabel(legend_html())
        self.legend.setWordWrap(True)
        self.legend.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(2)
        layout.addWidget(self.widget, 1)
        layout.addWidget(self.legend)
        self.widget.setMinimumHeight(MIN_PLOT_HEIGHT)

        self.widget.scene().sigMouseClicked.connect(self._on_mouse_clicked)
        session.sigPlanChanged.connect(self._on_plan_changed)
        session.sigBatchComputed.connect(self._on_batch_computed)
        session.sigBatchChanged.connect(self._on_batch_changed)

    @Slot()
    def _on_plan_changed(self) -> None:
        self._plan_stale = self._curves_stale = True
        self._request_refresh()

    def _fit_batches(self) -> None:
        """Span every plot's x axis over the plan's batches."""
        self._plan_stale = False
        last = max(1, self._session.n_batches) - 1
        for plot in self.plots:
            plot.setXRange(-0.5, last + 0.5, padding=0.02)

    @Slot(int)
    def _on_batch_computed(self, _index: int) -> None:
        self._curves_stale = True
        self._request_refresh()

    def _request_refresh(self) -> None:
        """Queue one redraw of whatever is stale: the dock is one widget, so curves and histogram share a repaint."""
        self._session.redraws.request((self, "refresh"), self._refresh, min_interval_ms=REFRESH_MS)

    def _refresh(self) -> None:
        if self._plan_stale:
            self._fit_batches()
        if self._curves_stale:
            self.redraw_curves()
        if self._batch_stale:
            self.draw_batch()
        if self._residual is not None:
            self._draw_residual()

    def _set_y_range(self, index: int, low: float, high: float) -> None:
        """Show [low, high] on plot ``index`` unless its current range still fits (``stable_range``)."""
        new = stable_range(self._y_ranges[index], low, high)
        if new is not None:
            self._y_ranges[index] = new
            self.plots[index].setYRange(*new, padding=0)

    @Slot()
    def redraw_curves(self) -> None:
        """Redraw every statistics curve from the session's history (live: at most every REFRESH_MS)."""
        self._curves_stale = False
        history = self._session.history
        if history is None or not history.recorded.any():
            for curve in self.curves.values():
                curve.setData([], [])
            for symbols in self.symbols:
                symbols.clear()
            for index in range(len(self.plots)):
                self._y_ranges[index] = None
                self._set_y_range(index, 0.0, 1.0)
            return
        arrays = history.as_arrays()
        done = np.flatnonzero(history.recorded)
        connect = consecutive(done)
        symbols = done.size <= MAX_SYMBOL_POINTS
        for index, (_, curves) in enumerate(CURVE_GROUPS):
            values = [np.asarray(arrays[name], dtype=float)[done] for name, _, _ in curves]
            for (name, _, _), y in zip(curves, values, strict=True):
                self.curves[name].setData(done, y, connect=connect)
            self._draw_symbols(index, done, values if symbols else [])
            finite = np.concatenate(values)
            finite = finite[np.isfinite(finite)]
            if finite.size:
                self._set_y_range(index, float(finite.min()), float(finite.max()))

    def _draw_symbols(self, index: int, done: np.ndarray, values: list[np.ndarray]) -> None:
        """Put a symbol at every point of plot ``index``'s curves (``values``, one array per curve; [] for none)."""
        scatter = self.symbols[index]
        if not values:
            if len(scatter.data):
                scatter.clear()
            return
        brushes = [brush for brush, y in zip(self._symbol_brushes[index], values, strict=True) for _ in range(y.size)]
        scatter.setData(x=np.tile(done, len(values)), y=np.concatenate(values), brush=brushes)

    def show_residual(self, batches: np.ndarray, values: np.ndarray) -> None:
        """Show the per-batch mean physics residual (NMSE under the run's fitted scale) of the computed batches.

        Drawn with the dock's next paced refresh: it arrives once per batch, and drawing it at once would
        repaint the whole dock a second time per batch.
        """
        self._residual = (np.asarray(batches), np.asarray(values))
        self._request_refresh()

    def _draw_residual(self) -> None:
        batches, values = self._residual
        self._residual = None
        symbols = batches.size <= MAX_SYMBOL_POINTS
        if (self.residual_curve.opts["symbol"] is not None) != symbols:
            self.residual_curve.setSymbol("o" if symbols else None)
        self.residual_curve.setData(batches, values, connect=consecutive(batches))

    @Slot(object)
    def _on_batch_changed(self, _batch: object) -> None:
        self._batch_stale = True
        self._request_refresh()

    def draw_batch(self) -> None:
        """Move the current-batch markers and redraw the histogram of the shown batch."""
        self._batch_stale = False
        batch = self._session.current
        for marker in self.markers:
            marker.setVisible(batch is not None)
            if batch is not None:
                marker.setValue(batch.index)
        if batch is None:
            self.histogram.setData([0, 1], [0])
            self._histogram_range = (None, None)
            self._set_histogram_range((0.0, 1.0), (0.0, 1.0))
            return
        counts, edges = np.histogram(np.abs(batch.patches), bins=HISTOGRAM_BINS)
        self.histogram.setData(edges, counts)
        self._set_histogram_range((float(edges[0]), float(edges[-1])), (0.0, float(counts.max())))

    def _set_histogram_range(self, x: tuple[float, float], y: tuple[float, float]) -> None:
        """Show the histogram's x and y spans, keeping a shown range that still fits (``stable_range``)."""
        new_x, new_y = stable_range(self._histogram_range[0], *x), stable_range(self._histogram_range[1], *y)
        if new_x is None and new_y is None:
            return
        self._histogram_range = (new_x or self._histogram_range[0], new_y or self._histogram_range[1])
        self.histogram_plot.setRange(xRange=self._histogram_range[0], yRange=self._histogram_range[1], padding=0)

    @Slot(object)
    def _on_mouse_clicked(self, event) -> None:
        if event.button() != Qt.MouseButton.LeftButton or self._session.run is None:
            return
        for plot in self.plots:
            if plot.sceneBoundingRect().contains(event.scenePos()):
                x = plot.getViewBox().mapSceneToView(event.scenePos()).x()
                index = int(round(x))
                if index in self._session.done:
                    self._session.go_to(index)
                return
