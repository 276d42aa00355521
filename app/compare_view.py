"""The Compare dock: the reconstruction against a reference (objectGuess, a saved reconstruction, a second checkpoint).

Reconstruction (registered, scale, offset and ramp removed) and reference share one colour range, automatic
or typed; the error map has its own symmetric range. What is shown and how (mode, colormap, levels mode and
typed ranges, unwrapping) is the session's ``compare_display`` style object (``app/view_styles.py``), like
every image view's; the exported comparison is drawn from the same figure, colormap included. The metrics table and the FRC curve show
``ptycho_gui.analysis.comparison``'s result. Comparisons run on a background thread whenever the canvas
changes; the dock always shows the last finished one, and at most one more is queued. A saved
reconstruction (a sweep row) can take the live canvas's place until "Back to the run" or new files.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, Signal, Slot
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ptycho_gui.app.background import BackgroundQueue
from ptycho_gui.app.compare_model import (
    CompareFigure,
    CompareState,
    Reference,
    SavedSubject,
    checkpoint_reference,
    compare_figure,
    metrics_rows,
    reconstruction_reference,
    reference_of_file,
    saved_subject,
    truth_reference,
)
from ptycho_gui.app.controls import compact_combo, labelled, set_combo
from ptycho_gui.app.display import COLORMAPS
from ptycho_gui.app.plot_helpers import TITLE_SIZE, ImagePlot, ViewLink, install_export_action
from ptycho_gui.app.roi_tools import RoiTools
from ptycho_gui.app.session import Session, canvas_rect
from ptycho_gui.export.comparison_figure import ERROR_COLORMAP
from ptycho_gui.render.colormaps import parse_levels
from ptycho_gui.render.complex_display import COMPLEX_MODES, phase_wheel

WHEEL_PX = 56
UNCOMPARED_RGBA = (236, 236, 236, 215)
"""Pixels left out of the comparison are veiled in light grey, so only compared pixels read as data."""


def uncompared_overlay(mask: np.ndarray) -> np.ndarray:
    """(H, W, 4) uint8: light grey where ``mask`` is False, transparent where it is True."""
    rgba = np.zeros((*mask.shape, 4), dtype=np.uint8)
    rgba[~mask] = UNCOMPARED_RGBA
    return rgba


def _levels_text(levels: tuple[float, float] | None) -> str:
    """A range as the range boxes show it: 'auto' or 'LO:HI'."""
    return "auto" if levels is None else f"{levels[0]}:{levels[1]}"


def wheel_pixmap(size: int = WHEEL_PX) -> QPixmap:
    """The HSV phase wheel legend as a pixmap."""
    rgba = np.ascontiguousarray(phase_wheel(size))
    image = QImage(rgba.data, size, size, 4 * size, QImage.Format.Format_RGBA8888)
    return QPixmap.fromImage(image.copy())


class ComparePanels:
    """The Compare dock's pyqtgraph panels: three linked image plots (ROI tools under two) and the FRC plot.

    Built the first time the dock is shown or a panel is asked for: a window opens ~0.2 s faster, and most
    sessions never open the dock. Until then the view computes and keeps its comparison as usual.
    """

    def __init__(self, view: CompareView, images: QGridLayout, lower: QHBoxLayout):
        self.plots = {name: ImagePlot(title) for name, title in
                      (("reconstruction", "Reconstruction (aligned)"), ("reference", "Reference"),
                       ("error", "Error"))}
        self.uncompared = {name: pg.ImageItem(axisOrder="row-major") for name in ("reconstruction", "reference")}
        for name, item in self.uncompared.items():
            item.setZValue(1)
            self.plots[name].plot.addItem(item)
        self.links = [ViewLink(self.plots["reconstruction"].view, self.plots[name].view, view)
                      for name in ("reference", "error")]
        self.roi = {name: RoiTools(self.plots[name], lambda n=name: view.values_of(n), lambda: view._rect)
                    for name in ("reference", "error")}
        self.frc = pg.PlotWidget()
        frc_plot = self.frc.getPlotItem()
        frc_plot.setTitle("FRC", size=TITLE_SIZE)
        frc_plot.setLabel("bottom", "spatial frequency (cycles/px)")
        frc_plot.showGrid(x=True, y=True, alpha=0.25)
        frc_plot.getAxis("bottom").enableAutoSIPrefix(False)
        self.frc_curve = frc_plot.plot([], [], pen=pg.mkPen("#1f77b4", width=2), name="FRC")
        self.half_bit = frc_plot.plot([], [], pen=pg.mkPen("#d62728", width=1, style=Qt.PenStyle.DashLine))
        self.crossing = pg.InfiniteLine(angle=90, pen=pg.mkPen("#555555", style=Qt.PenStyle.DotLine))
        self.crossing.setVisible(False)
        frc_plot.addItem(self.crossing)
        for column, name in enumerate(("reconstruction", "reference", "error")):
            images.addWidget(self.plots[name].header, 0, column)
            images.addWidget(self.plots[name].widget, 1, column)
            if name in self.roi:
                images.addWidget(self.roi[name], 2, column)
        lower.insertWidget(1, self.frc, 3)
        for plot in self.plots.values():
            install_export_action(plot.widget, lambda: view.sigExportRequested.emit(view.VIEW_NAME))

    def clear(self) -> None:
        """Empty every panel (no comparison to show)."""
        for plot in self.plots.values():
            plot.clear()
        for item in self.uncompared.values():
            item.clear()
        self.frc_curve.setData([], [])
        self.half_bit.setData([], [])
        self.crossing.setVisible(False)


class CompareView(QWidget):
    """Reconstruction, reference and error map (linked zoom), the metrics table and the FRC curve."""

    sigExportRequested = Signal(str)
    sigComparisonChanged = Signal()
    VIEW_NAME = "compare"

    def __init__(self, session: Session, parent: QWidget | None = None):
        super().__init__(parent)
        self._session = session
        self.style = session.compare_display
        """The dock's style object (shared with the session, read by exports through the figure it shapes)."""
        self.state = CompareState()
        self.queue = BackgroundQueue(self)
        self.figure: CompareFigure | None = None
        self._busy = False
        self._stale = False
        self._rect: tuple[float, float, float, float] | None = None

        self.reference_label = QLabel("Reference: none")
        self.reference_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.use_truth = QPushButton("objectGuess")
        self.use_truth.setToolTip("compare with the dataset's true object")
        self.back_to_run = QPushButton("Back to the run")
        self.back_to_run.setToolTip("compare the live run's canvas again instead of the saved reconstruction")
        self.back_to_run.setVisible(False)
        self.mode = compact_combo(COMPLEX_MODES, "what to show of the complex images")
        self.colormap = compact_combo(COLORMAPS, "colormap of reconstruction and reference ('twilight' is cyclic, "
                                                 "for phase)")
        self.unwrap = QCheckBox("unwrap")
        self.unwrap.setToolTip("unwrap the phase (scikit-image unwrap_phase) before showing it")
        self.levels_edit = QLineEdit("auto")
        self.levels_edit.setToolTip("shared range of reconstruction and reference: 'auto' or LO:HI")
        self.levels_edit.setMaximumWidth(110)
        self.error_levels_edit = QLineEdit("auto")
        self.error_levels_edit.setToolTip("range of the error map: 'auto' (symmetric) or LO:HI")
        self.error_levels_edit.setMaximumWidth(110)
        self.status = QLabel("")
        self.status.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.wheel = QLabel()
        self.wheel.setPixmap(wheel_pixmap())
        self.wheel.setToolTip("hue = phase (0 to the right, counter-clockwise), brightness = amplitude")
        self.wheel.setVisible(False)

        self.table = QTableWidget(0, 2)
        self.table.setHorizontalHeaderLabels(["metric", "value"])
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self._panels: ComparePanels | None = None

        controls = QHBoxLayout()
        controls.setContentsMargins(0, 0, 0, 0)
        for widget in (labelled("Show", self.mode), labelled("Map", self.colormap), self.unwrap,
                       labelled("Range", self.levels_edit),
                       labelled("Error range", self.error_levels_edit), self.use_truth, self.back_to_run):
            controls.addWidget(widget)
        controls.addWidget(self.reference_label, 1)
        images = QGridLayout()
        images.setContentsMargins(0, 0, 0, 0)
        images.setRowStretch(1, 1)
        lower = QHBoxLayout()
        lower.setContentsMargins(0, 0, 0, 0)
        lower.addWidget(self.table, 2)
        lower.addWidget(self.wheel, 0, Qt.AlignmentFlag.AlignTop)
        self._layouts = images, lower
        lower_box = QWidget()
        lower_box.setLayout(lower)
        lower_box.setMaximumHeight(230)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(controls)
        layout.addWidget(self.status)
        layout.addLayout(images, 3)
        layout.addWidget(lower_box, 1)

        self.use_truth.clicked.connect(self.use_ground_truth)
        self.back_to_run.clicked.connect(self.use_ground_truth)
        self._sync_controls()
        self.mode.currentTextChanged.connect(self._set_mode)
        self.colormap.currentTextChanged.connect(self._set_colormap)
        self.unwrap.toggled.connect(self._set_unwrap)
        self.levels_edit.editingFinished.connect(self._refigure)
        self.error_levels_edit.editingFinished.connect(self._refigure)
        session.sigFilesChanged.connect(self._on_files_changed)
        session.sigCanvasChanged.connect(self._on_canvas_changed)
        self._on_files_changed()

    def build_plots(self) -> ComparePanels:
        """The image and FRC panels, built (and drawn with the comparison held) the first time."""
        if self._panels is None:
            self._panels = ComparePanels(self, *self._layouts)
            self._rect = None
            self._draw()
        return self._panels

    @property
    def plots(self) -> dict[str, ImagePlot]:
        """Reconstruction, reference and error image plots (built on first use)."""
        return self.build_plots().plots

    @property
    def roi(self) -> dict[str, RoiTools]:
        """ROI and profile tools of the reference and error plots (built on first use)."""
        return self.build_plots().roi

    # ------------------------------------------------------------------ reference
    def set_reference(self, reference: Reference | None) -> None:
        """Compare with ``reference`` from now on (None: nothing to compare with)."""
        self.state.set_reference(reference)
        self.figure = None
        subject = self.state.subject
        compared = f"{subject.label} (saved) against " if subject is not None else ""
        self.reference_label.setText(f"{compared}Reference: {reference.label}" if reference else "Reference: none")
        self.back_to_run.setVisible(subject is not None)
        self._draw()
        self.request_comparison()

    def open_saved(self, reconstruction: str | Path, reference: str | Path | None) -> None:
        """Compare a saved reconstruction.h5 (in place of the live canvas) with a dataset's objectGuess or another
        reconstruction.h5, as ``ptycho-inspect metrics`` does; raises InvalidInputError naming a bad file."""
        subject: SavedSubject = saved_subject(reconstruction)
        chosen = reference_of_file(reference) if reference is not None else None
        self.state.subject, self._rect = subject, None
        if chosen is None:
            self.status.setText(f"{subject.label}: no reference (no reachable dataset and no second row selected)")
        self.set_reference(chosen)

    @Slot()
    def use_ground_truth(self) -> None:
        """The live run against its dataset's objectGuess (says so when the dataset has none)."""
        if self.state.subject is not None:
            self.state.subject, self._rect = None, None
        dataset = self._session.dataset
        reference = truth_reference(dataset) if dataset is not None else None
        if reference is None:
            self.status.setText("this dataset has no objectGuess: open a reconstruction.h5 or a checkpoint (A/B)")
        self.set_reference(reference)

    def open_reconstruction(self, path: str | Path) -> None:
        """A saved reconstruction.h5 as the reference (raises InvalidInputError naming the file)."""
        self.set_reference(reconstruction_reference(path))

    def open_checkpoint(self, path: str | Path) -> bool:
        """Run a second checkpoint over the scan in the background and compare with it (A/B); False without a scan."""
        session = self._session
        if session.dataset is None:
            return False
        dataset, settings = session.dataset, session.settings
        self.status.setText(f"running {Path(path).name} over the scan for A/B…")
        self.queue.submit(lambda: checkpoint_reference(path, dataset, settings), self._on_checkpoint_reference)
        return True

    def _on_checkpoint_reference(self, reference: Reference | None, error: str | None) -> None:
        if error is not None:
            self.status.setText(f"A/B checkpoint failed: {error.splitlines()[0]}")
            return
        self.set_reference(reference)

    @Slot()
    def _on_files_changed(self) -> None:
        if self.state.subject is not None:
            self.use_ground_truth()
        elif self.state.reference is None or self.state.reference.kind == "objectGuess":
            dataset = self._session.dataset
            self.set_reference(truth_reference(dataset) if dataset is not None else None)

    # ------------------------------------------------------------------ computing (off the GUI thread)
    @Slot(object)
    def _on_canvas_changed(self, _canvas: object) -> None:
        if self.state.subject is None:
            self.request_comparison()

    def compared_canvas(self):
        """The canvas being judged: the pinned saved reconstruction, else the live run's."""
        return self.state.subject.canvas if self.state.subject is not None else self._session.canvas

    def request_comparison(self) -> None:
        """Compare the current canvas in the background (or once more after the comparison in progress)."""
        if self._busy:
            self._stale = True
            return
        canvas, reference = self.compared_canvas(), self.state.reference
        if canvas is None or reference is None:
            return
        self._busy, self._stale = True, False
        dataset = self._session.dataset
        if self.state.subject is not None:
            pixel = reference.pixel_size_m
        else:
            pixel = dataset.pixel_size_m if dataset is not None else None
        batches = len(self._session.done)
        options = self._figure_options()
        if options is None:
            self._busy = False
            return

        def work():
            comparison = reference.compare(canvas, pixel)
            return comparison, compare_figure(comparison, *options), batches, reference

        self.status.setText("comparing…")
        self.queue.submit(work, self._on_compared)

    def _on_compared(self, result, error: str | None) -> None:
        self._busy = False
        if error is not None:
            self.status.setText(f"cannot compare: {error.splitlines()[0]}")
        elif result[3] is self.state.reference:
            self.state.comparison, self.figure, self.state.compared_batches = result[0], result[1], result[2]
            subject = self.state.subject
            compared = (f"the saved {subject.label}" if subject is not None
                        else f"the canvas of {result[2]} of {self._session.n_batches} batches")
            self.status.setText(f"compared {compared} with {self.state.reference.label}")
            self._draw()
        if self._stale:
            self.request_comparison()

    # ------------------------------------------------------------------ the style object
    def _sync_controls(self) -> None:
        """Show the style's choices in the controls (without emitting their change signals)."""
        style = self.style
        set_combo(self.mode, style.quantity)
        set_combo(self.colormap, style.colormap)
        self.unwrap.blockSignals(True)
        self.unwrap.setChecked(style.unwrap)
        self.unwrap.blockSignals(False)
        self.levels_edit.setText(_levels_text(style.locked_levels))
        self.error_levels_edit.setText(_levels_text(style.error_levels))

    @Slot(str)
    def _set_mode(self, mode: str) -> None:
        self.style.quantity = mode
        set_combo(self.colormap, self.style.colormap)
        self._refigure()

    @Slot(str)
    def _set_colormap(self, name: str) -> None:
        self.style.colormaps[self.style.quantity] = name
        self._refigure()

    @Slot(bool)
    def _set_unwrap(self, unwrap: bool) -> None:
        self.style.unwrap = bool(unwrap)
        self._refigure()

    def _read_ranges(self) -> bool:
        """Put the typed ranges into the style (False, with the reason in the status line, when one is not a range)."""
        try:
            levels = parse_levels(self.levels_edit.text())
            error_levels = parse_levels(self.error_levels_edit.text())
        except ValueError as exc:
            self.status.setText(str(exc))
            return False
        self.style.levels, self.style.levels_mode = levels, "auto" if levels is None else "locked"
        self.style.error_levels = error_levels
        return True

    def _figure_options(self) -> tuple | None:
        """``compare_figure``'s options from the style: mode, unwrap, levels, error levels, colormap."""
        if not self._read_ranges():
            return None
        style = self.style
        return style.quantity, style.unwrap, style.locked_levels, style.error_levels, style.colormap

    @Slot()
    def _refigure(self) -> None:
        comparison, options = self.state.comparison, self._figure_options()
        if comparison is None or options is None:
            return
        self.queue.submit(lambda: compare_figure(comparison, *options), self._on_figure)

    def _on_figure(self, figure: CompareFigure | None, error: str | None) -> None:
        if error is not None:
            self.status.setText(error.splitlines()[0])
            return
        self.figure = figure
        self._draw()

    def wait(self, timeout_ms: int = 60_000) -> bool:
        """Block until queued comparisons are done (shutdown and tests; their results arrive as events)."""
        return self.queue.wait(timeout_ms)

    # ------------------------------------------------------------------ drawing
    def values_of(self, name: str) -> np.ndarray | None:
        """The float values a plot shows (NaN outside the compared pixels for the error map)."""
        figure = self.figure
        if figure is None:
            return None
        if name == "error":
            return figure.error
        return figure.reference_values if name == "reference" else figure.reconstruction_values

    def _draw(self) -> None:
        figure, canvas = self.figure, self.compared_canvas()
        self.wheel.setVisible(figure is not None and figure.mode == "complex (HSV)")
        if figure is None or canvas is None:
            if self._panels is not None:
                self._panels.clear()
            self.table.setRowCount(0)
            return
        first = self._rect is None
        self._rect = canvas_rect(canvas) if figure.reconstruction.shape[:2] == canvas.image.shape else (
            -0.5, -0.5, float(figure.reconstruction.shape[1]), float(figure.reconstruction.shape[0]))
        if self._panels is not None:
            self._draw_images(self._panels, figure, first)
        self._draw_metrics()
        self.sigComparisonChanged.emit()

    def _draw_images(self, panels: ComparePanels, figure: CompareFigure, first: bool) -> None:
        scale = self.state.comparison.amplitude.scale
        titles = {"reconstruction": f"Reconstruction ÷ {scale:.3g}, registered, aligned · {figure.mode}",
                  "reference": f"Reference · {figure.mode}", "error": f"Error · {figure.error_label}"}
        for name in ("reconstruction", "reference"):
            plot = panels.plots[name]
            values = getattr(figure, name)
            if values.ndim == 3:
                plot.image.setImage(values, autoLevels=False, levels=(0, 255))
                plot.image.setRect(QRectF(*self._rect))
                plot.colorbar.setVisible(False)
            else:
                plot.set_colormap(figure.colormap)
                plot.show_image(np.nan_to_num(values), figure.levels, self._rect)
            plot.set_title(titles[name])
            panels.uncompared[name].setImage(uncompared_overlay(self.state.comparison.mask), autoLevels=False)
            panels.uncompared[name].setRect(QRectF(*self._rect))
        error = panels.plots["error"]
        error.set_colormap(ERROR_COLORMAP)
        error.show_image(np.nan_to_num(figure.error), figure.error_levels, self._rect)
        error.set_title(titles["error"])
        if first:
            panels.plots["reconstruction"].view.autoRange(padding=0.02)
        for tools in panels.roi.values():
            tools.refresh()

    def _draw_metrics(self) -> None:
        comparison = self.state.comparison
        rows = metrics_rows(comparison)
        self.table.setRowCount(len(rows))
        for row, (name, value) in enumerate(rows):
            self.table.setItem(row, 0, QTableWidgetItem(name))
            self.table.setItem(row, 1, QTableWidgetItem(value))
        panels = self._panels
        if panels is None:
            return
        frc = comparison.frc
        finite = np.isfinite(frc.curve)
        panels.frc_curve.setData(frc.frequency[finite], frc.curve[finite])
        panels.half_bit.setData(frc.frequency, frc.half_bit)
        resolution = frc.resolution_px
        panels.crossing.setVisible(bool(resolution is not None and np.isfinite(resolution)))
        if panels.crossing.isVisible():
            panels.crossing.setValue(1.0 / resolution)
