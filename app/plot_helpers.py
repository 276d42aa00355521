"""Small pyqtgraph building blocks shared by the views: colormaps, image plots and the Export… entry."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, QRectF, Qt, Slot
from PySide6.QtGui import QAction, QFont
from PySide6.QtWidgets import QLabel, QMenu, QSizePolicy, QWidget

from ptycho_gui.render.colormaps import lookup_table

TITLE_SIZE = "10pt"
SELECTION_COLOR = "#ff2d2d"
"""The selected patch, in every view."""
BATCH_POSITIONS_COLOR = "#ff8c00"
"""Scan positions of the batch shown, in every view."""
ALL_POSITIONS_COLOR = (90, 90, 90, 110)
"""Every scan position, faint."""
AXIS_WIDTH = 40
"""Left axes have a fixed width: an axis that resizes with its tick labels re-lays out and repaints the plot."""
LABELLED_AXIS_WIDTH = 56
MIN_LINKED_PX = 48
"""Views smaller than this (a dock being hidden, floated or re-laid out) neither lead nor follow a view link:
copying a collapsed view's scale would zoom the other view out to thousands of pixels."""


def fix_left_axis(plot: pg.PlotItem, labelled: bool = False) -> None:
    """Give a plot's left axis a fixed width (wider when it carries a label)."""
    plot.getAxis("left").setWidth(LABELLED_AXIS_WIDTH if labelled else AXIS_WIDTH)


@cache
def colormap(name: str) -> pg.ColorMap:
    """The pyqtgraph ColorMap of a name of ``display.COLORMAPS``, built from the table the exports use.

    One source (matplotlib's 256-entry tables via ``render.colormaps.lookup_table``) makes screen
    colours equal exported colours.
    """
    table = lookup_table(name)
    return pg.ColorMap(np.linspace(0.0, 1.0, len(table)), table, name=name)


def configure_pyqtgraph() -> None:
    """Process-wide pyqtgraph options the views rely on: row-major arrays, no OpenGL, light theme."""
    pg.setConfigOptions(imageAxisOrder="row-major", antialias=False, useOpenGL=False, background="w", foreground="k")


def title_label(text: str) -> QLabel:
    """A one-line centred title above a plot; long text is clipped rather than widening the dock.

    Dynamic titles live in a QLabel, not in the plot: a pyqtgraph title that changes length re-lays
    out the whole plot and repaints it several times over.
    """
    label = QLabel(text)
    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
    font = label.font()
    font.setPointSizeF(font.pointSizeF() * 1.05)
    font.setBold(True)
    label.setFont(font)
    return label


class ImagePlot:
    """A titled PlotWidget holding one ImageItem with a ColorBarItem, y pointing down, square pixels."""

    def __init__(self, title: str, on_levels: Callable[[tuple[float, float]], None] | None = None):
        self.header = title_label(title)
        self.widget = pg.PlotWidget()
        self.plot: pg.PlotItem = self.widget.getPlotItem()
        self.view: pg.ViewBox = self.plot.getViewBox()
        self.view.invertY(True)
        self.view.setAspectLocked(True)
        self.view.disableAutoRange()
        self.plot.showGrid(x=False, y=False)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.plot.addItem(self.image)
        self.colorbar = pg.ColorBarItem(width=14, interactive=on_levels is not None, rounding=1e-6, colorMapMenu=False,
                                         pen="#555555")
        self.colorbar.setImageItem(self.image, insert_in=self.plot)
        if on_levels is not None:
            self.colorbar.sigLevelsChangeFinished.connect(lambda bar: on_levels(tuple(bar.levels())))
        self._colormap_name: str | None = None
        self._rect: tuple[float, float, float, float] | None = None
        self._levels: tuple[float, float] | None = None
        small = QFont()
        small.setPointSize(8)
        for name in ("left", "bottom"):
            self.plot.getAxis(name).setStyle(tickFont=small)
        fix_left_axis(self.plot)

    def set_title(self, text: str) -> None:
        self.header.setText(text)

    def set_colormap(self, name: str) -> None:
        """Apply a colormap to the image and its colour bar (no-op when unchanged)."""
        if name != self._colormap_name:
            self._colormap_name = name
            self.colorbar.setColorMap(colormap(name))

    def show_image(self, image: np.ndarray, levels: tuple[float, float],
                   rect: tuple[float, float, float, float] | None = None) -> None:
        """Draw a NaN-free float image with explicit levels, optionally placed at ``rect`` (x, y, w, h).

        The colour bar and the image's placement are touched only when they change: either change
        re-lays out the plot and repaints its axes.
        """
        self.image.setImage(image, autoLevels=False, levels=levels)
        if levels != self._levels:
            self._levels = levels
            self.colorbar.setLevels(levels)
        self.colorbar.setVisible(True)
        if rect is not None and rect != self._rect:
            self._rect = rect
            self.image.setRect(QRectF(*rect))

    def clear(self) -> None:
        """Empty the plot; the colour bar goes too, so no stale range is left beside nothing."""
        self.image.clear()
        self._rect = self._levels = None
        self.colorbar.setVisible(False)


def export_entry(menu: QMenu, owner: QWidget, callback: Callable[[], None]) -> QAction:
    """An 'Export…' action calling ``callback``, added to ``menu`` but owned by ``owner`` (the plot's widget).

    pyqtgraph's ViewBox menu is a parentless QMenu kept by the ViewBox: an action owned by it would outlive
    the closed window, and its Qt connection would keep ``callback`` (and the view and window it refers to)
    alive. Owned by the widget, the action and its connection go when the window's widgets are deleted.
    """
    action = QAction("Export…", owner)
    action.triggered.connect(callback)
    menu.addAction(action)
    return action


def install_export_action(widget: pg.PlotWidget, callback: Callable[[], None]) -> QAction:
    """Put 'Export…' at the top of a plot's context menu, replacing pyqtgraph's own exporter entry."""
    menu = widget.getPlotItem().getViewBox().menu
    first = menu.actions()[0] if menu.actions() else None
    action = export_entry(menu, widget, callback)
    menu.insertAction(first, action)
    menu.insertSeparator(first)
    widget.scene().contextMenu = []
    return action


class ViewLink(QObject):
    """Keeps two aspect-locked ViewBoxes at the same centre and scale, whatever their sizes.

    pyqtgraph's own X+Y linking fights the aspect lock when the two views differ in shape; this link
    copies the centre and the data units per screen pixel instead, so the same feature appears at
    the same place and size in both. The secondary leads only when the user pans or zooms it: its
    range also changes when its dock is resized, re-laid out or floated, and copying that would zoom
    the primary out.
    """

    def __init__(self, primary: pg.ViewBox, secondary: pg.ViewBox, parent: QObject | None = None):
        super().__init__(parent)
        self._primary, self._secondary = primary, secondary
        self._busy = False
        primary.sigRangeChanged.connect(self._from_primary)
        secondary.sigRangeChangedManually.connect(self._from_secondary)
        secondary.sigResized.connect(self._from_primary)

    @Slot(object)
    @Slot(object, object, object)
    def _from_primary(self, *_args: object) -> None:
        self._sync(self._primary, self._secondary)

    @Slot(object)
    def _from_secondary(self, *_args: object) -> None:
        self._sync(self._secondary, self._primary)

    def _sync(self, source: pg.ViewBox, target: pg.ViewBox) -> None:
        if self._busy:
            return
        (x0, x1), (y0, y1) = source.viewRange()
        width, height = source.width(), source.height()
        if not (source.isVisible() and target.isVisible()):
            return
        if min(width, height, target.width(), target.height()) < MIN_LINKED_PX:
            return
        per_pixel = max((x1 - x0) / width, (y1 - y0) / height)
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        half_w, half_h = target.width() * per_pixel / 2, target.height() * per_pixel / 2
        self._busy = True
        try:
            target.setRange(xRange=(cx - half_w, cx + half_w), yRange=(cy - half_h, cy + half_h), padding=0)
        finally:
            self._busy = False
