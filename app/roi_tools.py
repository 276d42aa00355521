"""ROI and line profile tools for an image plot: a rectangle with its statistics and a line with its live profile.

The rectangle counts the pixels whose centres lie inside it (no interpolation), so its statistics are those
of a plain array slice; the line profile is pyqtgraph's ``LineSegmentROI.getArrayRegion`` (bilinear samples
along the line). Statistics come from ``ptycho_gui.analysis.region``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from ptycho_gui.analysis.region import RegionStats, region_stats
from ptycho_gui.app.plot_helpers import ImagePlot

ROI_COLOR = "#ffd700"
PROFILE_COLOR = "#00d0ff"
PROFILE_HEIGHT = 110


def pixel_slices(rect: tuple[float, float, float, float], x0: float, y0: float, x1: float, y1: float,
                 shape: tuple[int, int]) -> tuple[slice, slice]:
    """(rows, cols) of the pixels of an image placed at ``rect`` whose centres lie in the box [x0, x1) × [y0, y1)."""
    rx, ry, rw, rh = rect
    h, w = shape
    sx, sy = rw / w, rh / h
    c0 = max(0, math.ceil((x0 - rx) / sx - 0.5))
    c1 = min(w, math.ceil((x1 - rx) / sx - 0.5))
    r0 = max(0, math.ceil((y0 - ry) / sy - 0.5))
    r1 = min(h, math.ceil((y1 - ry) / sy - 0.5))
    return slice(r0, max(r0, r1)), slice(c0, max(c0, c1))


class RoiTools(QWidget):
    """Checkboxes that add a rectangle ROI (stats) and a line ROI (profile) to ``plot``.

    ``values`` returns the (H, W) float array to measure (NaN where nothing is known) and ``rect`` its placement.
    """

    def __init__(self, plot: ImagePlot, values: Callable[[], np.ndarray | None],
                 rect: Callable[[], tuple[float, float, float, float] | None], parent: QWidget | None = None):
        super().__init__(parent)
        self._plot, self._values, self._rect = plot, values, rect
        self.stats: RegionStats | None = None
        self.profile_values: np.ndarray | None = None
        self.show_roi = QCheckBox("ROI")
        self.show_roi.setToolTip("a rectangle: mean, std, min, max and area of the pixels inside it")
        self.show_line = QCheckBox("profile")
        self.show_line.setToolTip("a line: the values along it, plotted live")
        self.label = QLabel("")
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.label.setWordWrap(True)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.show_roi)
        row.addWidget(self.show_line)
        row.addWidget(self.label, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(row)
        self.roi: pg.RectROI | None = None
        self.line: pg.LineSegmentROI | None = None
        self.profile: pg.PlotWidget | None = None
        self.profile_curve: pg.PlotDataItem | None = None
        self.show_roi.toggled.connect(self._toggle_roi)
        self.show_line.toggled.connect(self._toggle_line)

    def _add_roi(self, roi: pg.ROI) -> pg.ROI:
        """Put a (hidden) ROI on the plot above the image."""
        roi.setZValue(30)
        roi.setVisible(False)
        self._plot.plot.addItem(roi)
        return roi

    def _make_rectangle(self) -> None:
        """The rectangle, made the first time it is shown (most views never use it; a window opens faster)."""
        self.roi = self._add_roi(pg.RectROI((0, 0), (16, 16), pen=pg.mkPen(ROI_COLOR, width=2)))
        self.roi.sigRegionChanged.connect(self.update_stats)

    def _make_line(self) -> None:
        """The line and its profile plot, made the first time the profile is shown."""
        self.line = self._add_roi(pg.LineSegmentROI([(0, 0), (16, 16)], pen=pg.mkPen(PROFILE_COLOR, width=2)))
        self.profile = pg.PlotWidget()
        self.profile.setFixedHeight(PROFILE_HEIGHT)
        self.profile.getPlotItem().setLabel("bottom", "distance along the line (px)")
        self.profile_curve = self.profile.plot([], [], pen=pg.mkPen(PROFILE_COLOR, width=1.5))
        self.profile.setVisible(False)
        self.layout().addWidget(self.profile)
        self.line.sigRegionChanged.connect(self.update_profile)

    def _centre_items(self) -> tuple[float, float, float]:
        (x0, x1), (y0, y1) = self._plot.view.viewRange()
        cx, cy, size = (x0 + x1) / 2, (y0 + y1) / 2, max(4.0, round(min(x1 - x0, y1 - y0) / 4))
        return cx, cy, size

    @Slot(bool)
    def _toggle_roi(self, on: bool) -> None:
        if on:
            if self.roi is None:
                self._make_rectangle()
            cx, cy, size = self._centre_items()
            self.roi.setPos((round(cx - size / 2), round(cy - size / 2)), update=False)
            self.roi.setSize((size, size))
        if self.roi is not None:
            self.roi.setVisible(on)
        self.update_stats()

    @Slot(bool)
    def _toggle_line(self, on: bool) -> None:
        if on:
            if self.line is None:
                self._make_line()
            cx, cy, size = self._centre_items()
            self.line.setPos((0, 0), update=False)
            handles = self.line.getHandles()
            handles[0].setPos(cx - size, cy)
            handles[1].setPos(cx + size, cy)
        if self.line is not None:
            self.line.setVisible(on)
            self.profile.setVisible(on)
        self.update_profile()

    def refresh(self) -> None:
        """Recompute both after the image changed."""
        self.update_stats()
        self.update_profile()

    @Slot()
    def update_stats(self) -> None:
        """Statistics of the pixels inside the rectangle (nothing when hidden or without an image).

        Hidden, it reads nothing: this runs whenever the plot's image changes (every live batch and canvas
        refresh), and the sources build their picture and mask on demand.
        """
        values, rect = (self._values(), self._rect()) if self.show_roi.isChecked() else (None, None)
        if values is None or rect is None:
            self.stats = None
            self.label.setText("")
            return
        (x, y), (w, h) = self.roi.pos(), self.roi.size()
        rows, cols = pixel_slices(rect, x, y, x + w, y + h, values.shape)
        self.stats = region_stats(values[rows, cols])
        self.label.setText(self.stats.describe())

    @Slot()
    def update_profile(self) -> None:
        """The values along the line, plotted against the distance from its first end."""
        values = self._values() if self.show_line.isChecked() else None
        if values is None or self._plot.image.image is None:
            self.profile_values = None
            if self.profile_curve is not None:
                self.profile_curve.setData([], [])
            return
        samples = self.line.getArrayRegion(np.asarray(values, dtype=np.float32), self._plot.image)
        self.profile_values = np.asarray(samples, dtype=np.float64)
        rect = self._rect()
        step = 1.0 if rect is None else rect[2] / values.shape[1]
        self.profile_curve.setData(np.arange(self.profile_values.size) * step, self.profile_values)
