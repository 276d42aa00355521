"""Canvas and ground-truth docks: the stitched object growing live, with scan-position overlays.

Both views draw in object-pixel coordinates (x right, y down, like ``objectGuess``), so zoom and pan
are linked. The canvas of the mirrored 'ptychopinn-cli' replica is drawn as that mode lays it out,
with the overlays placed where its patches really landed.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, Signal, Slot
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QSpinBox, QVBoxLayout, QWidget

from ptycho_gui.app.controls import LevelsControl, compact_combo, labelled, set_combo
from ptycho_gui.app.display import CANVAS_QUANTITIES, COLORMAPS
from ptycho_gui.app.plot_helpers import (
    ALL_POSITIONS_COLOR,
    BATCH_POSITIONS_COLOR,
    SELECTION_COLOR,
    ImagePlot,
    ViewLink,
    install_export_action,
)
from ptycho_gui.app.position_cloud import PositionCloud
from ptycho_gui.app.redraw_queue import QueuedRedraw
from ptycho_gui.app.session import ObjectImage, Session, canvas_display_xy, canvas_object_xy
from ptycho_gui.types import STITCH_MODES, Canvas

CROP_COLOR = "#00b4ff"
UNCOVERED_RGBA = (236, 236, 236, 255)
"""Canvas pixels no crop reached are painted flat light grey, apart from every data colour."""
UNCOVERED_LUT = np.array([(0, 0, 0, 0), UNCOVERED_RGBA], dtype=np.uint8)
"""Lookup table of the uncovered mask (``render.canvas_picture.uncovered_mask``): 0 transparent, 1 grey
(one byte a pixel, coloured while painting)."""


def scan_extent(xs: np.ndarray, ys: np.ndarray, margin: float) -> tuple[tuple[float, float], tuple[float, float]] | None:
    """Display x and y ranges enclosing every scan position with ``margin`` around them, or None."""
    if np.size(xs) == 0:
        return None
    return (float(np.min(xs)) - margin, float(np.max(xs)) + margin), (float(np.min(ys)) - margin, float(np.max(ys)) + margin)


def box_path(centers: np.ndarray, size: float, low_offset: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """x, y and connect arrays drawing one square per (x, y) centre: edges at c + low_offset, + size."""
    corners = np.array([[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]], dtype=float) * size + low_offset
    points = centers[:, None, :] + corners[None, :, :]
    connect = np.ones(points.shape[:2], dtype=bool)
    connect[:, -1] = False
    return points[..., 0].ravel(), points[..., 1].ravel(), connect.ravel()


class PatchOverlay:
    """Scan positions (all, current batch) and the selected patch's footprint and crop box on a plot."""

    def __init__(self, plot: pg.PlotItem):
        self.all_positions = PositionCloud(plot, size=3, brush=pg.mkBrush(*ALL_POSITIONS_COLOR), z=10)
        self.batch_positions = pg.ScatterPlotItem(size=6, pen=pg.mkPen("k", width=0.5),
                                                  brush=pg.mkBrush(BATCH_POSITIONS_COLOR))
        self.footprint = pg.PlotCurveItem(pen=pg.mkPen(SELECTION_COLOR, width=2))
        self.crop = pg.PlotCurveItem(pen=pg.mkPen(CROP_COLOR, width=2, style=Qt.PenStyle.DashLine))
        for z, item in enumerate((self.batch_positions, self.footprint, self.crop)):
            item.setZValue(11 + z)
            plot.addItem(item)

    def set_all(self, x: np.ndarray | None, y: np.ndarray | None) -> None:
        """Every scan position, decimated to the view (None: hide them)."""
        self.all_positions.set_positions(x, y)

    def set_batch(self, x: np.ndarray | None, y: np.ndarray | None) -> None:
        if x is None:
            self.batch_positions.clear()
        else:
            self.batch_positions.setData(x=x, y=y)

    def set_selection(self, center: tuple[float, float] | None, n: int, crop: int) -> None:
        if center is None:
            self.footprint.setData([], [])
            self.crop.setData([], [])
            return
        c = np.array([center], dtype=float)
        self.footprint.setData(*box_path(c, n, -(n // 2) - 0.5)[:2])
        self.crop.setData(*box_path(c, crop, -(crop // 2) - 0.5)[:2])


class CanvasView(QueuedRedraw, QWidget):
    """Shows ``session.canvas_image()`` with overlays; lets the user change stitch mode and crop."""

    sigExportRequested = Signal(str)
    VIEW_NAME = "canvas"

    def __init__(self, session: Session, parent: QWidget | None = None):
        super().__init__(parent)
        self._session = session
        self._redraws = session.redraws
        self._frame: tuple | None = None
        self._image: ObjectImage | None = None

        self.quantity = compact_combo(CANVAS_QUANTITIES,
                                      "'weight' shows the coverage map: how many crops overlap each pixel")
        self.colormap = compact_combo(COLORMAPS, "colormap ('twilight' is cyclic, for phase)")
        self.stitch = compact_combo(STITCH_MODES)
        self.stitch.setMinimumContentsLength(10)
        self.stitch.setToolTip(
            "position: every channel at its own scan position (correct geometry)\n"
            "ptychopinn-bridge: PtychoPINN's training-workflow stitch (channel mean at group centres)\n"
            "ptychopinn-cli: PtychoPINN's inference CLI stitch (point-reflected layout)"
        )
        self.crop = QSpinBox()
        self.crop.setRange(1, 4096)
        self.crop.setToolTip("central M×M crop of every patch used for stitching")
        self.show_all = QCheckBox("all positions")
        self.show_batch = QCheckBox("batch")
        self.show_selection = QCheckBox("selection")
        self.plot = ImagePlot("Canvas", on_levels=session.set_canvas_levels)
        self.levels = LevelsControl(session.set_canvas_levels, lambda: session.set_canvas_levels(None))
        self.uncovered = pg.ImageItem(axisOrder="row-major")
        self._uncovered_rect: tuple[float, float, float, float] | None = None
        self.uncovered.setZValue(1)
        self.plot.plot.addItem(self.uncovered)
        self.overlay = PatchOverlay(self.plot.plot)
        self.readout = QLabel("hover over the canvas for its values")
        self.readout.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        first = QHBoxLayout()
        first.setContentsMargins(0, 0, 0, 0)
        for text, widget in (("Show", self.quantity), ("Map", self.colormap), ("Stitch", self.stitch),
                             ("Crop", self.crop)):
            first.addWidget(labelled(text, widget))
        first.addStretch(1)
        second = QHBoxLayout()
        second.setContentsMargins(0, 0, 0, 0)
        second.addWidget(QLabel("Overlays:"))
        for box in (self.show_all, self.show_batch, self.show_selection):
            second.addWidget(box)
        second.addStretch(1)
        second.addWidget(self.levels)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(first)
        layout.addLayout(second)
        layout.addWidget(self.plot.header)
        layout.addWidget(self.plot.widget, 1)
        layout.addWidget(self.readout)

        self.quantity.currentTextChanged.connect(session.set_canvas_quantity)
        self.colormap.currentTextChanged.connect(session.set_canvas_colormap)
        self.stitch.currentTextChanged.connect(lambda mode: self._apply_stitch(stitch=mode))
        self.crop.editingFinished.connect(lambda: self._apply_stitch(crop=self.crop.value()))
        self.show_all.toggled.connect(lambda on: session.set_canvas_overlay("show_all_positions", on))
        self.show_batch.toggled.connect(lambda on: session.set_canvas_overlay("show_batch_positions", on))
        self.show_selection.toggled.connect(lambda on: session.set_canvas_overlay("show_selection", on))
        scene = self.plot.widget.scene()
        scene.sigMouseMoved.connect(self._on_mouse_moved)
        scene.sigMouseClicked.connect(self._on_mouse_clicked)
        install_export_action(self.plot.widget, lambda: self.sigExportRequested.emit(self.VIEW_NAME))
        session.sigCanvasChanged.connect(self._on_canvas_changed)
        session.sigDisplayChanged.connect(self._on_display_changed)
        session.sigBatchChanged.connect(self._on_batch_changed)
        session.sigSelectionChanged.connect(self._on_selection_changed)
        session.sigPlanChanged.connect(self._on_plan_changed)
        self._sync_controls()

    def _apply_stitch(self, **change: object) -> None:
        """Ask the session for another stitch; a refusal is reported in a dialog and the controls put back."""
        try:
            self._session.set_stitch(**change)
        except ValueError as error:
            self._session.sigError.emit("Cannot stitch that way", str(error), "")
            self._sync_controls()

    def _sync_controls(self) -> None:
        display, settings = self._session.canvas_display, self._session.settings
        set_combo(self.quantity, display.quantity)
        set_combo(self.colormap, display.colormap)
        set_combo(self.stitch, settings.stitch)
        if self._session.model is not None:
            self.crop.setMaximum(self._session.model.N)
        self.crop.blockSignals(True)
        self.crop.setValue(settings.crop)
        self.crop.blockSignals(False)
        for box, on in ((self.show_all, display.show_all_positions), (self.show_batch, display.show_batch_positions),
                        (self.show_selection, display.show_selection)):
            box.blockSignals(True)
            box.setChecked(on)
            box.blockSignals(False)

    # ------------------------------------------------------------------ drawing
    @Slot()
    def _on_plan_changed(self) -> None:
        self._sync_controls()
        self._frame = None
        self.request_redraw()

    @Slot(object)
    def _on_canvas_changed(self, _canvas: Canvas | None) -> None:
        self._sync_controls()
        self.request_redraw()

    @Slot(str)
    def _on_display_changed(self, which: str) -> None:
        if which == "canvas":
            self._sync_controls()
            self.request_redraw()

    @Slot(object)
    def _on_batch_changed(self, _batch: object) -> None:
        self._redraws.request((self, "batch"), self._draw_batch)

    @Slot(object)
    def _on_selection_changed(self, _selection: object) -> None:
        self._draw_selection()

    def _display_xy(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        canvas = self._session.canvas
        return canvas_display_xy(canvas, x, y) if canvas is not None else (np.asarray(x), np.asarray(y))

    def redraw(self) -> None:
        """Draw the session's canvas and every overlay."""
        session = self._session
        image = session.canvas_image()
        self._image = image
        canvas = session.canvas
        if image is None:
            self.plot.clear()
            self.uncovered.clear()
            self._uncovered_rect = None
            self.plot.set_title("Canvas — nothing stitched yet")
        else:
            self.plot.set_colormap(session.canvas_display.colormap)
            self.plot.show_image(image.image, image.levels, image.rect)
            self.levels.show_levels(image.levels, session.canvas_display.levels_mode == "auto")
            if image.quantity == "weight":
                self.uncovered.clear()
                self._uncovered_rect = None
            else:
                self.uncovered.setImage(session.canvas_picture.uncovered, autoLevels=False, levels=(0, 1),
                                        lut=UNCOVERED_LUT)
                if image.rect != self._uncovered_rect:
                    self._uncovered_rect = image.rect
                    self.uncovered.setRect(QRectF(*image.rect))
            mirrored = " · mirrored layout" if canvas.mirrored else ""
            self.plot.set_title(
                f"Canvas · {image.quantity} · {canvas.stitch} stitch, crop {canvas.crop} · "
                f"{len(session.done)} of {session.n_batches} batches{mirrored}"
            )
        frame = None if canvas is None else (canvas.image.shape, canvas.center_xy, canvas.mirrored)
        if frame != self._frame:
            self._frame = frame
            self.show_scan_extent()
            self._draw_all_positions()
        self._draw_batch()
        self._draw_selection()

    def show_scan_extent(self) -> None:
        """Zoom to where the canvas will be covered once every batch is in: all positions plus half a crop."""
        canvas, run = self._session.canvas, self._session.run
        if canvas is None or run is None:
            return
        xs, ys = self._display_xy(run.positions[..., 0].ravel(), run.positions[..., 1].ravel())
        ranges = scan_extent(xs, ys, canvas.crop / 2 + 1)
        if ranges is not None:
            self.plot.view.setRange(xRange=ranges[0], yRange=ranges[1], padding=0.03)

    def _draw_all_positions(self) -> None:
        dataset = self._session.dataset
        if dataset is None or not self._session.canvas_display.show_all_positions:
            self.overlay.set_all(None, None)
            return
        self.overlay.set_all(*self._display_xy(dataset.xcoords, dataset.ycoords))

    def _draw_batch(self) -> None:
        batch = self._session.current
        if batch is None or not self._session.canvas_display.show_batch_positions:
            self.overlay.set_batch(None, None)
            return
        self.overlay.set_batch(*self._display_xy(batch.positions[..., 0].ravel(), batch.positions[..., 1].ravel()))

    def _draw_selection(self) -> None:
        session = self._session
        selection = session.selection
        if selection is None or session.run is None or not session.canvas_display.show_selection:
            self.overlay.set_selection(None, 0, 0)
            return
        x, y = session.run.positions[selection.group, selection.channel]
        dx, dy = self._display_xy(np.array([x]), np.array([y]))
        self.overlay.set_selection((float(dx[0]), float(dy[0])), session.model.N, session.settings.crop)

    # ------------------------------------------------------------------ interaction
    def readout_text(self, dx: float, dy: float) -> str | None:
        """Readout at display point (dx, dy): object position, canvas pixel, value and weight."""
        canvas, image = self._session.canvas, self._image
        if canvas is None or image is None:
            return None
        col = int(np.floor(dx - image.rect[0]))
        row = int(np.floor(dy - image.rect[1]))
        h, w = image.image.shape
        if not (0 <= row < h and 0 <= col < w):
            return None
        x, y = canvas_object_xy(canvas, dx, dy)
        return (
            f"object x={x:.1f}, y={y:.1f} · canvas pixel (row {row}, col {col}) · "
            f"{image.quantity} {float(image.image[row, col]):.5g} · weight {float(canvas.weight[row, col]):.3g}"
        )

    def view_point(self, scene_pos: QPointF) -> tuple[float, float]:
        point = self.plot.view.mapSceneToView(scene_pos)
        return point.x(), point.y()

    @Slot(object)
    def _on_mouse_moved(self, scene_pos: QPointF) -> None:
        text = self.readout_text(*self.view_point(scene_pos))
        if text is not None:
            self.readout.setText(text)

    @Slot(object)
    def _on_mouse_clicked(self, event) -> None:
        canvas = self._session.canvas
        if event.button() != Qt.MouseButton.LeftButton or canvas is None:
            return
        dx, dy = self.view_point(event.scenePos())
        self._session.select_nearest(*canvas_object_xy(canvas, dx, dy))


class GroundTruthView(QueuedRedraw, QWidget):
    """The dataset's ``objectGuess`` in the canvas quantity, zoom and pan linked to the canvas."""

    sigExportRequested = Signal(str)
    VIEW_NAME = "ground_truth"

    def __init__(self, session: Session, canvas_view: CanvasView, parent: QWidget | None = None):
        super().__init__(parent)
        self._session = session
        self._redraws = session.redraws
        self.plot = ImagePlot("Ground truth (objectGuess)", on_levels=session.set_truth_levels)
        self.levels = LevelsControl(session.set_truth_levels, lambda: session.set_truth_levels(None))
        self.overlay = PatchOverlay(self.plot.plot)
        self.overlay.all_positions.setVisible(False)
        self.message = QLabel("This dataset has no objectGuess.")
        self.message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.message)
        title_row = QHBoxLayout()
        title_row.setContentsMargins(0, 0, 0, 0)
        self.plot.header.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        title_row.addWidget(self.plot.header, 1)
        title_row.addWidget(self.levels)
        layout.addLayout(title_row)
        layout.addWidget(self.plot.widget, 1)
        self.link = ViewLink(canvas_view.plot.view, self.plot.view, self)
        install_export_action(self.plot.widget, lambda: self.sigExportRequested.emit(self.VIEW_NAME))
        session.sigFilesChanged.connect(self.request_redraw)
        session.sigDisplayChanged.connect(self._on_display_changed)
        session.sigBatchChanged.connect(self._queue_overlays)
        session.sigSelectionChanged.connect(self._queue_overlays)
        self.redraw()

    @Slot(str)
    def _on_display_changed(self, which: str) -> None:
        if which == "canvas":
            self.request_redraw()

    def redraw(self) -> None:
        """Draw objectGuess (or say it is absent)."""
        image = self._session.ground_truth_image()
        self.message.setVisible(image is None)
        self.plot.widget.setVisible(image is not None)
        self.plot.header.setVisible(image is not None)
        self.levels.setVisible(image is not None)
        if image is None:
            self.plot.clear()
            return
        first = self.plot.image.image is None
        self.plot.set_colormap(self._session.canvas_display.colormaps[image.quantity])
        self.plot.show_image(image.image, image.levels, image.rect)
        self.levels.show_levels(image.levels, self._session.truth_levels is None)
        if first and self._session.canvas is None:
            self.plot.view.autoRange(padding=0.02)
        self.plot.set_title(f"Ground truth (objectGuess) · {image.quantity}")
        self._draw_overlays()

    @Slot(object)
    def _queue_overlays(self, _changed: object) -> None:
        self._redraws.request((self, "overlays"), self._draw_overlays)

    def _draw_overlays(self) -> None:
        session = self._session
        batch, selection = session.current, session.selection
        display = session.canvas_display
        if batch is not None and display.show_batch_positions:
            self.overlay.set_batch(batch.positions[..., 0].ravel(), batch.positions[..., 1].ravel())
        else:
            self.overlay.set_batch(None, None)
        if selection is not None and session.run is not None and display.show_selection:
            x, y = session.run.positions[selection.group, selection.channel]
            self.overlay.set_selection((float(x), float(y)), session.model.N, session.settings.crop)
        else:
            self.overlay.set_selection(None, 0, 0)
