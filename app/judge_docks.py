"""Judging a reconstruction in the window: the Compare and Diffraction docks, their File actions, drops,
exports, and the residual curve of the Statistics dock.

Kept apart from ``main_window`` so the window only calls ``JudgeDocks(window)``: the docks are tabbed
with the ground truth (Compare) and the statistics (Diffraction).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Qt, Slot
from PySide6.QtWidgets import QDockWidget, QFileDialog, QHBoxLayout, QMenu, QWidget

from ptycho_gui.app.compare_view import CompareView
from ptycho_gui.app.complex_overlay import ComplexLayer
from ptycho_gui.app.controls import compact_combo, labelled
from ptycho_gui.app.diffraction_view import DiffractionView
from ptycho_gui.app.display import MosaicLayout, build_mosaic, tile_mask
from ptycho_gui.app.roi_tools import RoiTools
from ptycho_gui.app.session import canvas_rect
from ptycho_gui.engine.stitching import COVERED_WEIGHT
from ptycho_gui.errors import PtychoGuiError
from ptycho_gui.io.reconstruction_file import is_reconstruction_file
from ptycho_gui.render.complex_display import PHASE_VIEWS

RECONSTRUCTION_FILTER = "Reconstructions (*.h5 *.hdf5);;All files (*)"
CHECKPOINT_FILTER = "Checkpoints (*.zip *.ckpt *.pt *.pth);;All files (*)"
SAVED_COMPARE_SHARE = 0.7
"""Share of the canvas column the Compare dock takes when a sweep row opens in it (its images need room)."""


def build_plots_when_shown(dock: QDockWidget, view: CompareView | DiffractionView) -> None:
    """Build ``view``'s plots when ``dock`` first comes into view (its tab chosen, floated, a layout restored).

    Until then the view computes and keeps its results without plots, so a window opens faster. Qt counts a
    tabbed dock whose tab is not chosen as shown, so the view's ``showEvent`` cannot tell.
    """
    dock.visibilityChanged.connect(lambda visible: view.build_plots() if visible else None)


class JudgeDocks(QObject):
    """Adds the Compare and Diffraction docks, 'Compare with…' File actions and their exports to a MainWindow."""

    def __init__(self, window):
        super().__init__(window)
        self.window = window
        session = window.session
        self.compare = CompareView(session)
        self.diffraction = DiffractionView(session, self._live_compare_state)
        self.docks: dict[str, QDockWidget] = {}
        for name, title, view in (("compare", "Compare", self.compare),
                                  ("diffraction", "Diffraction", self.diffraction)):
            dock = QDockWidget(title, window)
            dock.setObjectName(f"dock_{name}")
            dock.setWidget(view)
            self.docks[name] = dock
            view.sigExportRequested.connect(self.export)
            build_plots_when_shown(dock, view)
        self.arrange()
        self._add_menu_entries()
        window.docks.update(self.docks)
        statistics = window.views["statistics"]
        self.diffraction.sigResidualChanged.connect(
            lambda: statistics.show_residual(*self.diffraction.batch_curve()))
        self.compare.sigComparisonChanged.connect(self.diffraction.refresh_worst)
        self.roi: dict[str, RoiTools] = {}
        self.complex_layers: dict[str, ComplexLayer] = {}
        self._attach_tools("canvas", self._canvas_source)
        self._attach_tools("ground_truth", self._truth_source)
        self._attach_tools("patches", self._patch_source)
        self.phase_view = self._phase_view_control()
        session.sigDisplayChanged.connect(self._sync_phase_view)
        self._sync_phase_view("canvas")
        session.sigBatchChanged.connect(lambda _batch: self.complex_layers["patches"].refresh())
        session.sigCanvasChanged.connect(lambda _canvas: self.complex_layers["canvas"].refresh())
        session.sigFilesChanged.connect(self.complex_layers["ground_truth"].refresh)

    def _live_compare_state(self):
        """The Compare dock's state while it judges the live run (a pinned saved reconstruction ranks nothing)."""
        return self.compare.state if self.compare.state.subject is None else None

    def _attach_tools(self, name: str, source) -> None:
        """Give a view's image plot the ROI/profile tools and the complex (HSV) layer, in a row under the plot."""
        view = self.window.views[name]
        plot = view.plot

        def values():
            return plot.image.image if plot.image.image is not None and plot.image.image.ndim == 2 else None

        def rect():
            found = source()
            return None if found is None else found[2]

        tools = RoiTools(plot, values, rect)
        layer = ComplexLayer(plot, source)
        plot.image.sigImageChanged.connect(tools.refresh)
        row = QWidget()
        layout = QHBoxLayout(row)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(layer)
        layout.addWidget(tools, 1)
        view.layout().addWidget(row)
        self.roi[name], self.complex_layers[name] = tools, layer

    def _phase_view_control(self):
        """'Phase' choice (raw ±π, offset removed, unwrapped) in the canvas tools row; shown while phase is."""
        combo = compact_combo(PHASE_VIEWS, "phase drawn raw on ±π, or with its global offset removed (circular "
                                           "mean over covered pixels) on automatic or typed levels; optionally "
                                           "unwrapped (scikit-image unwrap_phase)")
        control = labelled("Phase", combo)
        row = self.roi["canvas"].parentWidget().layout()
        row.insertWidget(1, control)
        combo.currentTextChanged.connect(self.window.session.set_canvas_phase_view)
        self._phase_combo = combo
        return control

    @Slot(str)
    def _sync_phase_view(self, which: str) -> None:
        if which != "canvas":
            return
        display = self.window.session.canvas_display
        self.phase_view.setVisible(display.quantity == "phase")
        self._phase_combo.blockSignals(True)
        self._phase_combo.setCurrentText(display.phase_view)
        self._phase_combo.blockSignals(False)

    def _canvas_source(self):
        canvas = self.window.session.canvas
        if canvas is None:
            return None
        return canvas.image, canvas.weight > COVERED_WEIGHT, canvas_rect(canvas)

    def _patch_source(self):
        """The shown batch's complex patches as one mosaic in the patch grid's layout (tiles valid, gaps not)."""
        batch = self.window.session.current
        if batch is None:
            return None
        b, c, n, _ = batch.patches.shape
        layout = MosaicLayout.for_batch(b, c, n)
        mosaic = build_mosaic(batch.patches.real, layout, 0.0) + 1j * build_mosaic(batch.patches.imag, layout, 0.0)
        h, w = layout.shape
        return mosaic.astype(np.complex64), tile_mask(layout), (0.0, 0.0, float(w), float(h))

    def _truth_source(self):
        dataset = self.window.session.dataset
        obj = dataset.object_guess if dataset is not None else None
        if obj is None:
            return None
        h, w = obj.shape
        return np.asarray(obj), None, (-0.5, -0.5, float(w), float(h))

    def arrange(self) -> None:
        """Default places: Compare tabbed with the ground truth, Diffraction with the statistics."""
        for name, beside in (("compare", "ground_truth"), ("diffraction", "statistics")):
            dock = self.docks[name]
            dock.setFloating(False)
            self.window.tabifyDockWidget(self.window.docks[beside], dock)
            dock.show()
            self.window.docks[beside].raise_()

    def _add_menu_entries(self) -> None:
        menus = {action.text(): action.menu() for action in self.window.menuBar().actions()}
        file_menu: QMenu = menus["&File"]
        before = self.window.actions_by_name["export"]
        for text, slot in (("Compare with a saved &reconstruction…", self.open_reconstruction_dialog),
                           ("Compare with another &checkpoint (A/B)…", self.open_checkpoint_dialog),
                           ("Compare with &objectGuess", self.compare.use_ground_truth)):
            action = file_menu.addAction(text)
            action.triggered.connect(slot)
            file_menu.insertAction(before, action)
        file_menu.insertSeparator(before)
        view_menu: QMenu = menus["&View"]
        first = view_menu.actions()[len(self.window.docks)] if len(view_menu.actions()) > len(self.window.docks) else None
        for dock in self.docks.values():
            view_menu.insertAction(first, dock.toggleViewAction())

    # ------------------------------------------------------------------ references
    def claims(self, path: Path) -> bool:
        """True for a file the Compare dock opens as a reference (a reconstruction.h5)."""
        return is_reconstruction_file(path)

    def open_reference(self, path: str | Path) -> bool:
        """Compare with a saved reconstruction; a dialog names the file when it cannot be read."""
        try:
            self.compare.open_reconstruction(path)
        except (PtychoGuiError, ValueError, OSError) as exc:
            self.window.report_error("Cannot open reconstruction", str(exc))
            return False
        self.docks["compare"].show()
        self.docks["compare"].raise_()
        return True

    def open_saved(self, reconstruction: str | Path, reference: str | Path | None) -> bool:
        """Judge a saved reconstruction.h5 (a sweep row) against a dataset's truth or another reconstruction."""
        try:
            self.compare.open_saved(reconstruction, reference)
        except (PtychoGuiError, ValueError, OSError) as exc:
            self.window.report_error("Cannot compare", str(exc))
            return False
        dock = self.docks["compare"]
        dock.show()
        dock.raise_()
        canvas = self.window.docks["canvas"]
        if not dock.isFloating() and not canvas.isFloating():
            column = canvas.height() + dock.height()
            self.window.resizeDocks([canvas, dock], [round(column * (1 - SAVED_COMPARE_SHARE)),
                                                     round(column * SAVED_COMPARE_SHARE)], Qt.Orientation.Vertical)
        return True

    @Slot()
    def open_reconstruction_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.window, "Compare with a saved reconstruction",
                                              self.window._last_dir(), RECONSTRUCTION_FILTER)
        if path:
            self.open_reference(path)

    @Slot()
    def open_checkpoint_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.window, "Compare with another checkpoint (A/B)",
                                              self.window._last_dir(), CHECKPOINT_FILTER)
        if path and not self.compare.open_checkpoint(path):
            self.window.report_error("Cannot run A/B", "Open a dataset first: the second checkpoint runs on its scan.")
        elif path:
            self.docks["compare"].show()
            self.docks["compare"].raise_()

    # ------------------------------------------------------------------ export
    @Slot(str)
    def export(self, view_name: str) -> None:
        """Open the Export dialog for the Compare ('compare') or Diffraction ('diffraction') view."""
        self.window.open_export_dialog(view_name)
