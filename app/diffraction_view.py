"""The Diffraction dock: the selected group's measured and predicted far-field amplitude (log), their residual,
and the worst groups (click one to show its batch and select it).

Each computed batch is forward-modelled on a background thread (``ResidualTracker.add_batch``); the
selected group's maps are one group's forward model, cheap enough for the GUI thread.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from ptycho_gui.app.background import BackgroundQueue
from ptycho_gui.app.compare_model import CompareState
from ptycho_gui.app.controls import compact_combo, labelled
from ptycho_gui.app.plot_helpers import ImagePlot, ViewLink, install_export_action
from ptycho_gui.app.residual_model import RANKINGS, GroupDiffraction, ResidualTracker
from ptycho_gui.app.session import Session
from ptycho_gui.export.diffraction_figure import (
    INTENSITY_COLORMAP,
    RESIDUAL_COLORMAP,
    PatternPictures,
    pattern_pictures,
)

WORST_COUNT = 10


class DiffractionView(QWidget):
    """Measured, predicted (log10) and residual of the selected group's channel; the worst-groups list."""

    sigExportRequested = Signal(str)
    sigResidualChanged = Signal()
    """The per-batch residual curve changed (a batch was forward-modelled)."""
    VIEW_NAME = "diffraction"

    def __init__(self, session: Session, compare: Callable[[], CompareState] | None = None,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self._session = session
        self._compare = compare
        self.queue = BackgroundQueue(self)
        self.tracker: ResidualTracker | None = None
        self.shown: GroupDiffraction | None = None
        self.pictures: PatternPictures | None = None
        """The arrays and levels drawn for the selected pattern (what an export writes)."""
        self._plots: dict[str, ImagePlot] | None = None
        self.links: list[ViewLink] = []
        self.message = QLabel("Select a computed patch to see its diffraction.")
        self.message.setWordWrap(True)
        self.message.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.ranking = compact_combo(RANKINGS, "rank groups by their physics residual, or by their error "
                                               "against the Compare dock's reference")
        self.worst = QListWidget()
        self.worst.setToolTip("click a group to show its batch and select it")
        self.worst.setMaximumWidth(230)

        images = QHBoxLayout()
        images.setContentsMargins(0, 0, 0, 0)
        self._images = images
        side = QVBoxLayout()
        side.addWidget(QLabel("Worst groups"))
        side.addWidget(labelled("by", self.ranking))
        side.addWidget(self.worst, 1)
        images.addLayout(side)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.message)
        layout.addLayout(images, 1)

        self.ranking.currentTextChanged.connect(lambda _text: self.refresh_worst())
        self.worst.itemClicked.connect(self._on_worst_clicked)
        session.sigPlanChanged.connect(self._on_plan_changed)
        session.sigBatchComputed.connect(self._on_batch_computed)
        session.sigSelectionChanged.connect(lambda _selection: self.draw_selection())
        self._on_plan_changed()

    def build_plots(self) -> dict[str, ImagePlot]:
        """Measured, predicted and residual plots (linked), built and drawn the first time: a window opens faster,
        and the residuals of computed batches are tracked whether or not the dock was ever shown."""
        if self._plots is None:
            self._plots = self._make_plots()
            self.draw_selection()
        return self._plots

    @property
    def plots(self) -> dict[str, ImagePlot]:
        """The three plots (built on first use)."""
        return self.build_plots()

    def _make_plots(self) -> dict[str, ImagePlot]:
        plots = {name: ImagePlot(title) for name, title in
                 (("measured", "Measured (log10)"), ("predicted", "Predicted (log10)"),
                  ("residual", "Residual: predicted − measured"))}
        self.links = [ViewLink(plots["measured"].view, plots[name].view, self) for name in ("predicted", "residual")]
        for position, name in enumerate(("measured", "predicted", "residual")):
            column = QVBoxLayout()
            column.addWidget(plots[name].header)
            column.addWidget(plots[name].widget, 1)
            self._images.insertLayout(position, column, 1)
            install_export_action(plots[name].widget, lambda: self.sigExportRequested.emit(self.VIEW_NAME))
        return plots

    # ------------------------------------------------------------------ residuals of computed batches
    @Slot()
    def _on_plan_changed(self) -> None:
        run = self._session.run
        self.tracker = ResidualTracker(run) if run is not None else None
        self.shown = None
        self.worst.clear()
        self._session.redraws.request((self, "plan"), self._draw_plan)

    def _draw_plan(self) -> None:
        """Draw what a new plan shows (the selection, if any) and let the Statistics dock drop the old residuals."""
        self.draw_selection()
        self.sigResidualChanged.emit()

    @Slot(int)
    def _on_batch_computed(self, index: int) -> None:
        tracker, session = self.tracker, self._session
        if tracker is None or not tracker.available or session.run is None:
            return
        group_indices = session.run.batch_group_indices(index)
        patches = session.store.get(group_indices)
        positions = session.run.positions[group_indices]
        self.queue.submit(lambda: (tracker, tracker.add_batch(index, group_indices, patches, positions)),
                          self._on_batch_residual)

    def _on_batch_residual(self, result, error: str | None) -> None:
        if error is not None:
            self.message.setText(f"physics residual failed: {error.splitlines()[0]}")
            return
        if result[0] is not self.tracker:
            return
        self.sigResidualChanged.emit()
        self._session.redraws.request((self, "worst"), self.refresh_worst)
        if self.shown is None:
            self.draw_selection()

    def wait(self, timeout_ms: int = 60_000) -> bool:
        """Block until every queued batch is forward-modelled (shutdown and tests)."""
        return self.queue.wait(timeout_ms)

    def batch_curve(self) -> tuple[np.ndarray, np.ndarray]:
        """(batch indices, mean residual NMSE) for the Statistics dock; empty without a residual."""
        if self.tracker is None or not self.tracker.available or not self.tracker.batches:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        return self.tracker.batch_curve()

    # ------------------------------------------------------------------ worst groups
    def refresh_worst(self) -> None:
        """Re-rank the groups (residual always; errors when the Compare dock has a comparison)."""
        self.worst.clear()
        tracker, session = self.tracker, self._session
        if tracker is None:
            return
        state = self._compare() if self._compare is not None else None
        groups, scores = tracker.worst(self.ranking.currentText(), WORST_COUNT,
                                       state.comparison if state is not None else None, session.canvas,
                                       session.settings.crop)
        if not len(groups):
            item = QListWidgetItem("(no scores yet)" if self.ranking.currentText() == "residual" or not tracker
                                   else "(needs a comparison in the Compare dock)")
            item.setFlags(Qt.ItemFlag.NoItemFlags)
            self.worst.addItem(item)
            return
        for group, score in zip(groups, scores, strict=True):
            item = QListWidgetItem(f"group {int(group)} · batch {session.batch_of_group(int(group))} · {score:.4g}")
            item.setData(Qt.ItemDataRole.UserRole, int(group))
            self.worst.addItem(item)

    @Slot(QListWidgetItem)
    def _on_worst_clicked(self, item: QListWidgetItem) -> None:
        group = item.data(Qt.ItemDataRole.UserRole)
        if group is None:
            return
        session = self._session
        session.go_to(session.batch_of_group(int(group)))
        session.select(int(group), 0)

    # ------------------------------------------------------------------ the selected group
    def draw_selection(self) -> None:
        """Show the selected patch's measured, predicted and residual maps (or say why not)."""
        session, tracker = self._session, self.tracker
        selection = session.selection
        if tracker is not None and not tracker.available:
            self._show_message(tracker.reason)
            return
        if selection is None or session.run is None or session.batch_of_group(selection.group) not in session.done:
            self._show_message("Select a computed patch to see its diffraction.")
            return
        patches = session.store.get(np.array([selection.group]))
        self.shown = tracker.group(selection.group, patches)
        residual, channel = self.shown.residual, selection.channel
        self.pictures = pattern_pictures(residual, selection.group, channel)
        pictures = self.pictures
        self.message.setText(
            f"Group {selection.group}, channel {channel}: NMSE {residual.nmse[0, channel]:.4g} · predicted = "
            f"{residual.scale:.4g} × forward model (the model's physics scale is not recorded: one scale per run, "
            f"fitted over the patterns computed so far) · probe: {tracker.physics.probe_source}")
        if self._plots is None:
            return
        for name, image, lv, cmap in (("measured", pictures.measured, pictures.levels, INTENSITY_COLORMAP),
                                      ("predicted", pictures.predicted, pictures.levels, INTENSITY_COLORMAP),
                                      ("residual", pictures.residual, pictures.residual_levels, RESIDUAL_COLORMAP)):
            plot = self._plots[name]
            first = plot.image.image is None
            plot.set_colormap(cmap)
            plot.show_image(image, lv)
            if first:
                plot.view.autoRange(padding=0.02)

    def _show_message(self, text: str) -> None:
        self.shown = None
        self.pictures = None
        self.message.setText(text)
        for plot in (self._plots or {}).values():
            plot.clear()
