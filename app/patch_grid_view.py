"""Patch grid dock: the current batch as one mosaic image, with hover readout and click-to-select."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, Signal, Slot
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from ptycho_gui.app.controls import LevelsControl, compact_combo, labelled, set_combo
from ptycho_gui.app.display import COLORMAPS, LEVELS_MODES, PATCH_QUANTITIES, MosaicLayout, tile_mask
from ptycho_gui.app.plot_helpers import SELECTION_COLOR, ImagePlot, install_export_action
from ptycho_gui.app.redraw_queue import FOLLOW_INTERVAL_MS, QueuedRedraw
from ptycho_gui.app.session import MosaicImage, PatchSelection, Session

BACKGROUND_RGBA = (255, 255, 255, 255)


def gap_overlay(layout: MosaicLayout) -> np.ndarray:
    """(H, W, 4) uint8: opaque background between tiles and in unused slots, transparent on tiles."""
    rgba = np.zeros((*layout.shape, 4), dtype=np.uint8)
    rgba[~tile_mask(layout)] = BACKGROUND_RGBA
    return rgba


class PatchGridView(QueuedRedraw, QWidget):
    """Shows ``session.patch_mosaic()``; hovering reads out a pixel, clicking selects a patch."""

    sigExportRequested = Signal(str)
    REDRAW_INTERVAL_MS = FOLLOW_INTERVAL_MS

    VIEW_NAME = "patches"

    def __init__(self, session: Session, parent: QWidget | None = None):
        super().__init__(parent)
        self._session = session
        self._redraws = session.redraws
        self._mosaic: MosaicImage | None = None
        self._shape: tuple[int, int] | None = None
        self._labels: list[pg.TextItem] = []

        self.quantity = compact_combo(PATCH_QUANTITIES, "what each tile shows; 'input (log)' is the raw diffraction")
        self.colormap = compact_combo(COLORMAPS, "colormap ('twilight' is cyclic, for phase)")
        self.levels = compact_combo(LEVELS_MODES, "auto per batch: robust range of each batch\n"
                                    "locked: keep the current range across batches (dragging the colour bar locks)\n"
                                    "per patch: every tile scaled to its own min–max")
        self.show_labels = QCheckBox("labels")
        self.show_labels.setToolTip("label each tile with its group (g), channel (c) and dataset row (r)")
        self.plot = ImagePlot("Patches", on_levels=session.set_patch_levels)
        self.typed_levels = LevelsControl(session.set_patch_levels,
                                          lambda: session.set_patch_levels_mode("auto per batch"))
        self.readout = QLabel("hover over a patch for its values")
        self.readout.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.readout.setWordWrap(True)
        self._gaps = pg.ImageItem(axisOrder="row-major")
        self._gaps.setZValue(1)
        self.plot.plot.addItem(self._gaps)
        self._gaps_layout: MosaicLayout | None = None
        self._selection_item = pg.PlotCurveItem(pen=pg.mkPen(SELECTION_COLOR, width=2))
        self._selection_item.setZValue(10)
        self.plot.plot.addItem(self._selection_item)

        controls = QHBoxLayout()
        controls.setContentsMargins(0, 0, 0, 0)
        for text, widget in (("Show", self.quantity), ("Map", self.colormap), ("Levels", self.levels)):
            controls.addWidget(labelled(text, widget))
        controls.addWidget(self.show_labels)
        controls.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(controls)
        title_row = QHBoxLayout()
        title_row.setContentsMargins(0, 0, 0, 0)
        self.plot.header.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        title_row.addWidget(self.plot.header, 1)
        title_row.addWidget(self.typed_levels)
        layout.addLayout(title_row)
        layout.addWidget(self.plot.widget, 1)
        layout.addWidget(self.readout)

        self.quantity.currentTextChanged.connect(session.set_patch_quantity)
        self.colormap.currentTextChanged.connect(session.set_patch_colormap)
        self.levels.currentTextChanged.connect(session.set_patch_levels_mode)
        self.show_labels.toggled.connect(session.set_show_labels)
        scene = self.plot.widget.scene()
        scene.sigMouseMoved.connect(self._on_mouse_moved)
        scene.sigMouseClicked.connect(self._on_mouse_clicked)
        install_export_action(self.plot.widget, lambda: self.sigExportRequested.emit(self.VIEW_NAME))
        session.sigBatchChanged.connect(self._on_batch_changed)
        session.sigDisplayChanged.connect(self._on_display_changed)
        session.sigSelectionChanged.connect(self._on_selection_changed)
        self._sync_controls()

    # ------------------------------------------------------------------ drawing
    @Slot(object)
    def _on_batch_changed(self, _batch: object) -> None:
        self.request_redraw()

    @Slot(str)
    def _on_display_changed(self, which: str) -> None:
        if which == "patches":
            self._sync_controls()
            self.request_redraw()

    @Slot(object)
    def _on_selection_changed(self, _selection: PatchSelection | None) -> None:
        self._draw_selection()

    def _sync_controls(self) -> None:
        display = self._session.patch_display
        set_combo(self.quantity, display.quantity)
        set_combo(self.colormap, display.colormap)
        set_combo(self.levels, display.levels_mode)
        self.show_labels.blockSignals(True)
        self.show_labels.setChecked(display.show_labels)
        self.show_labels.blockSignals(False)

    def redraw(self) -> None:
        """Draw the session's current batch with the session's display settings."""
        mosaic = self._session.patch_mosaic()
        self._mosaic = mosaic
        if mosaic is None:
            self.plot.clear()
            self._gaps.clear()
            self._gaps_layout = None
            self.plot.set_title("Patches — no batch computed yet")
            self._shape = None
            self._draw_labels()
            self._draw_selection()
            return
        display = self._session.patch_display
        self.plot.set_colormap(display.colormap)
        self.plot.show_image(mosaic.image, mosaic.levels)
        self.typed_levels.show_levels(mosaic.levels, display.levels_mode == "auto per batch")
        if mosaic.layout != self._gaps_layout:
            self._gaps_layout = mosaic.layout
            self._gaps.setImage(gap_overlay(mosaic.layout), autoLevels=False)
        batch = mosaic.batch
        unit = " (each tile 0–1)" if display.levels_mode == "per patch" else ""
        self.plot.set_title(
            f"Batch {batch.index} of 0–{self._session.n_batches - 1} · {mosaic.quantity}{unit} · "
            f"groups {int(batch.group_indices[0])}–{int(batch.group_indices[-1])}"
        )
        if mosaic.image.shape != self._shape:
            self._shape = mosaic.image.shape
            self.plot.view.autoRange(padding=0.01)
        self._draw_labels()
        self._draw_selection()

    def _draw_selection(self) -> None:
        selection, mosaic = self._session.selection, self._mosaic
        if selection is None or mosaic is None:
            self._selection_item.setData([], [])
            return
        hits = np.flatnonzero(mosaic.batch.group_indices == selection.group)
        if hits.size == 0:
            self._selection_item.setData([], [])
            return
        row, col = mosaic.layout.origin(int(hits[0]), selection.channel)
        n = mosaic.layout.N
        self._selection_item.setData(
            np.array([col, col + n, col + n, col, col], dtype=float),
            np.array([row, row, row + n, row + n, row], dtype=float),
        )

    def _draw_labels(self) -> None:
        mosaic = self._mosaic
        wanted = self._session.patch_display.show_labels and mosaic is not None
        count = mosaic.batch.groups.size if wanted else 0
        while len(self._labels) < count:
            label = pg.TextItem(color="w", fill=pg.mkBrush(0, 0, 0, 140), anchor=(0, 0))
            font = QFont()
            font.setPointSize(7)
            label.setFont(font)
            label.setZValue(5)
            self.plot.plot.addItem(label)
            self._labels.append(label)
        for k, label in enumerate(self._labels):
            label.setVisible(k < count)
        if not count:
            return
        channels = mosaic.layout.channels
        for k in range(count):
            group, channel = divmod(k, channels)
            row, col = mosaic.layout.origin(group, channel)
            label = self._labels[k]
            batch = mosaic.batch
            label.setText(f"g{int(batch.group_indices[group])} c{channel} r{int(batch.groups[group, channel])}")
            label.setPos(col, row)

    # ------------------------------------------------------------------ interaction
    def readout_text(self, col: float, row: float) -> str | None:
        """Readout for mosaic point (col, row): group, channel, dataset row, position, pixel and value."""
        mosaic = self._mosaic
        if mosaic is None:
            return None
        hit = mosaic.layout.tile_at(col, row)
        if hit is None:
            return None
        group, channel, prow, pcol = hit
        batch = mosaic.batch
        x, y = batch.positions[group, channel]
        value = float(mosaic.values[group, channel, prow, pcol])
        return (
            f"group {int(batch.group_indices[group])} · channel {channel} · dataset row "
            f"{int(batch.groups[group, channel])} · scan position x={x:.2f}, y={y:.2f} · "
            f"pixel (row {prow}, col {pcol}) · {mosaic.quantity} {value:.5g}"
        )

    def mosaic_point(self, scene_pos: QPointF) -> tuple[float, float]:
        """Mosaic (col, row) coordinates of a scene position."""
        point = self.plot.image.mapFromScene(scene_pos)
        return point.x(), point.y()

    @Slot(object)
    def _on_mouse_moved(self, scene_pos: QPointF) -> None:
        text = self.readout_text(*self.mosaic_point(scene_pos))
        if text is not None:
            self.readout.setText(text)

    @Slot(object)
    def _on_mouse_clicked(self, event) -> None:
        if event.button() != Qt.MouseButton.LeftButton or self._mosaic is None:
            return
        hit = self._mosaic.layout.tile_at(*self.mosaic_point(event.scenePos()))
        if hit is not None:
            group, channel, _, _ = hit
            self._session.select(int(self._mosaic.batch.group_indices[group]), channel)
