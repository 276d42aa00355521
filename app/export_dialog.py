"""The Export dialog (Ctrl+E, or "Export…" on a view): what to export, formats, appearance and annotation,
a live preview, and exports that run in the background with a progress bar and Cancel.

The dialog only gathers choices and session data: rendering and writing are the core's ``run_export``,
the same code as ``ptycho-inspect export``, so the same choices give the same files. The preview shows
the exact pixels the first PNG would hold. Previews and exports run as background jobs (``app/jobs.py``;
a new preview supersedes the one rendering); batches not computed yet are asked of the inference worker
(``Session.batch_fetcher``), so its credits hold and no second forward pass runs beside it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, QTimer, Slot
from PySide6.QtGui import QCloseEvent, QImage, QPixmap
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QComboBox,
    QDialog,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ptycho_gui.app.display import COLORMAPS
from ptycho_gui.app.error_dialog import show_message
from ptycho_gui.app.jobs import Job, JobControl, JobLane, Step
from ptycho_gui.app.session import CanvasDisplay, PatchDisplay, Session
from ptycho_gui.engine.run import InferenceRun
from ptycho_gui.errors import PtychoGuiError
from ptycho_gui.export.comparison import ComparisonView
from ptycho_gui.export.debug_dump import DebugDumpCollector
from ptycho_gui.export.diffraction_figure import PatternPictures
from ptycho_gui.export.job import ExportReport, ExportSources, preview_figure, run_export
from ptycho_gui.export.plan import ITEM_FORMATS, ITEMS, ExportRequest, parse_batch_spec, plan_files
from ptycho_gui.render import annotations
from ptycho_gui.render.annotations import provenance_of
from ptycho_gui.render.canvas_figure import CanvasOptions
from ptycho_gui.render.colormaps import QUANTITIES, ImageStyle
from ptycho_gui.render.figure import RenderedFigure
from ptycho_gui.render.patch_grid import GridOptions
from ptycho_gui.types import BatchResult, Canvas

ITEM_LABELS = {"patches": "Patch grid", "canvas": "Canvas", "stats": "Statistics plots", "data": "Data",
               "comparison": "Comparison (Compare dock)", "pattern": "Diffraction pattern (selected)"}
FORMAT_LABELS = {"png": "PNG", "tiff": "TIFF (float32)", "svg": "SVG", "pdf": "PDF", "npz": "NPZ", "h5": "HDF5"}
VIEW_ITEMS: dict[str | None, tuple[str, ...]] = {
    None: ("patches",), "patches": ("patches",), "canvas": ("canvas",), "ground_truth": ("canvas",),
    "statistics": ("stats",), "offsets": ("data",), "compare": ("comparison",), "diffraction": ("pattern",),
}
DATA_VIEWS = ("offsets", "compare", "diffraction")
"""Views whose export also ticks NPZ, so their data come with their figure."""
PATCH_SOURCES = ("current batch", "batches", "selected patch")
LEVEL_MODES = ("as the view", "auto", "per tile", "fixed")
PREVIEW_DELAY_MS = 250
PREVIEW_SIZE = (560, 380)
EXPORT_ERRORS = (PtychoGuiError, ValueError, OSError, KeyError, RuntimeError)
"""What an export or a preview can fail with; shown to the user, never swallowed."""


def view_display(session: Session, view_name: str | None) -> PatchDisplay | CanvasDisplay:
    """The session's display state of a view: canvas views share one, every other view follows the patch grid."""
    return session.canvas_display if view_name in ("canvas", "ground_truth") else session.patch_display


def view_style(session: Session, view_name: str | None) -> tuple[ImageStyle, list[str]]:
    """The quantity, colormap and levels the view shows now, and notes on anything exports cannot reproduce."""
    display = view_display(session, view_name)
    notes: list[str] = []
    quantity = display.quantity
    levels = session.drawn_levels("canvas" if display is session.canvas_display else "patches")
    per_tile = display.levels_mode == "per patch"
    if quantity not in QUANTITIES:
        notes.append(f"the view shows {quantity}, which exports do not draw: amplitude is used")
        quantity, levels = "amplitude", None
    if per_tile:
        levels = None
    colormap = display.colormaps.get(quantity) or None
    return ImageStyle(quantity, colormap if colormap in COLORMAPS else None, levels, per_tile), notes


def judge_views(judge) -> tuple[ComparisonView | None, PatternPictures | None]:
    """What the Compare and Diffraction docks show now (None for each that shows nothing, or without docks)."""
    if judge is None:
        return None, None
    compare = judge.compare
    state, pictures = compare.state, compare.figure
    view = None
    if state.comparison is not None and pictures is not None and state.reference is not None:
        view = ComparisonView(state.comparison, pictures, state.reference.label,
                              f"canvas of {state.compared_batches} batches compared")
    return view, judge.diffraction.pictures


def session_sources(session: Session, with_debug_dump: bool, date: str | None = None, judge=None) -> ExportSources:
    """A snapshot of what the session holds, as export sources (batches not computed are computed on demand).

    ``date`` is the title-block date; the dialog stamps it once so its preview and its files agree. ``judge``
    (the window's ``JudgeDocks``) gives the Compare and Diffraction docks' pictures as drawn.
    """
    run, done, current = session.run, frozenset(session.done), session.current
    if run is None or session.store is None:
        raise ValueError("open a checkpoint and a dataset first")
    compute = session.batch_fetcher() if len(done) < run.n_batches else None
    fetch = partial(_session_batch, run, session.store.patches, done, current, compute)
    canvas = session.canvas
    debug_dump = None
    if with_debug_dump:
        if canvas is None or len(done) < run.n_batches:
            raise ValueError("the PtychoPINN debug dump needs a finished run")
        debug_dump = partial(_write_debug_dump, run, fetch, canvas)
    selection = session.selection
    comparison, pattern = judge_views(judge)
    return ExportSources(
        provenance=dataclasses.replace(provenance_of(run, date), stitch=session.settings.stitch, crop=session.settings.crop),
        settings=session.settings,
        n_batches=run.n_batches,
        get_batch=fetch,
        patch_size=run.model.N,
        group_positions=run.positions,
        canvas=canvas,
        stats=session.history.as_arrays() if session.history is not None and done else None,
        truth=session.dataset.object_guess,
        scan_positions=session.dataset.positions,
        highlight_batch=current.index if current is not None else None,
        selected=(selection.group, selection.channel) if selection is not None else None,
        debug_dump=debug_dump,
        comparison=comparison,
        pattern=pattern,
    )


def _session_batch(run: InferenceRun, table: np.ndarray, done: frozenset[int], current: BatchResult | None,
                   compute: Callable[[int], BatchResult] | None, index: int) -> BatchResult:
    """Batch ``index``: the one shown, else from the patch table (kept alive even if the session re-plans),
    else computed by the inference worker."""
    if current is not None and current.index == index:
        return current
    if index in done or compute is None:
        return run.result_from_patches(index, np.array(table[run.batch_group_indices(index)]))
    return compute(index)


def _write_debug_dump(run: InferenceRun, fetch, canvas: Canvas, out_dir: Path) -> list[Path]:
    collector = DebugDumpCollector()
    for index in range(run.n_batches):
        collector.add(fetch(index))
    return collector.write(out_dir, canvas, run.positions, run.model.N)


def rgb_pixmap(rgb: np.ndarray, width: int, height: int) -> QPixmap:
    """A pixmap of an (H, W, 3) uint8 image scaled (smoothly, aspect kept) to fit width × height."""
    rgb = np.ascontiguousarray(rgb)
    image = QImage(rgb.data, rgb.shape[1], rgb.shape[0], rgb.strides[0], QImage.Format.Format_RGB888).copy()
    return QPixmap.fromImage(image).scaled(width, height, Qt.AspectRatioMode.KeepAspectRatio,
                                           Qt.TransformationMode.SmoothTransformation)


class ExportDialog(QDialog):
    """Choose, preview and write exports of the session's results."""

    def __init__(self, session: Session, view_name: str | None = None, parent: QWidget | None = None,
                 judge=None):
        super().__init__(parent)
        self.session = session
        self.judge = judge
        """The window's Compare and Diffraction docks (their pictures are export sources), or None."""
        self.date = annotations.export_timestamp()
        self.view_name = view_name
        self.setWindowTitle("Export")
        self.setObjectName("export_dialog")
        self.last_report: ExportReport | None = None
        self.last_error: str | None = None
        self.last_preview: RenderedFigure | None = None
        self._previews = JobLane("preview", self)
        self._export: Job | None = None
        self._build()
        self._load_from_session()
        self._preview_timer = QTimer(self)
        self._preview_timer.setSingleShot(True)
        self._preview_timer.setInterval(PREVIEW_DELAY_MS)
        self._preview_timer.timeout.connect(self.refresh_preview)
        self._connect_changes()
        session.sigResultsCleared.connect(self.cancel_export)
        app = QApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)
        self.schedule_preview()

    # ------------------------------------------------------------------ widgets
    def _build(self) -> None:
        layout = QHBoxLayout(self)
        left = QVBoxLayout()
        left.addWidget(self._what_box())
        left.addWidget(self._format_box())
        left.addWidget(self._appearance_box())
        left.addWidget(self._annotation_box())
        left.addLayout(self._folder_row())
        layout.addLayout(left)
        right = QVBoxLayout()
        self.preview_caption = QLabel("Preview")
        self.preview_label = QLabel()
        self.preview_label.setMinimumSize(*PREVIEW_SIZE)
        self.preview_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.preview_label.setStyleSheet("background: #f4f4f4; border: 1px solid #cccccc;")
        self.notes_label = QLabel()
        self.notes_label.setWordWrap(True)
        right.addWidget(self.preview_caption)
        right.addWidget(self.preview_label, 1)
        right.addWidget(self.notes_label)
        right.addLayout(self._action_row())
        layout.addLayout(right, 1)

    def _what_box(self) -> QGroupBox:
        box = QGroupBox("What to export")
        grid = QGridLayout(box)
        self.item_boxes = {item: QCheckBox(ITEM_LABELS[item]) for item in ITEMS}
        self.patch_source = QComboBox()
        self.patch_source.addItems(PATCH_SOURCES)
        self.batch_spec = QLineEdit("0")
        self.batch_spec.setPlaceholderText("e.g. 0,3-5 or all")
        self.batch_spec.setToolTip("Batches for patch grids and data: indices and ranges, or 'all'")
        self.debug_dump_box = QCheckBox("PtychoPINN debug dump (finished run)")
        grid.addWidget(self.item_boxes["patches"], 0, 0)
        grid.addWidget(self.patch_source, 0, 1)
        grid.addWidget(self.batch_spec, 0, 2)
        grid.addWidget(self.item_boxes["canvas"], 1, 0)
        grid.addWidget(self.item_boxes["stats"], 2, 0)
        grid.addWidget(self.item_boxes["data"], 3, 0)
        grid.addWidget(self.debug_dump_box, 3, 1, 1, 2)
        grid.addWidget(self.item_boxes["comparison"], 4, 0, 1, 3)
        grid.addWidget(self.item_boxes["pattern"], 5, 0, 1, 3)
        for item in ("comparison", "pattern"):
            self.item_boxes[item].setToolTip("the dock's pictures with its levels (appearance choices do not apply)")
        return box

    def _format_box(self) -> QGroupBox:
        box = QGroupBox("Formats")
        row = QHBoxLayout(box)
        self.format_boxes = {fmt: QCheckBox(label) for fmt, label in FORMAT_LABELS.items()}
        for check in self.format_boxes.values():
            row.addWidget(check)
        self.format_boxes["png"].setChecked(True)
        return box

    def _appearance_box(self) -> QGroupBox:
        box = QGroupBox("Appearance")
        form = QFormLayout(box)
        self.quantity_combo = QComboBox()
        self.quantity_combo.addItems(QUANTITIES)
        self.colormap_combo = QComboBox()
        self.colormap_combo.addItems(COLORMAPS)
        self.levels_mode = QComboBox()
        self.levels_mode.addItems(LEVEL_MODES)
        self.level_lo, self.level_hi = QDoubleSpinBox(), QDoubleSpinBox()
        for spin in (self.level_lo, self.level_hi):
            spin.setRange(-1e9, 1e9)
            spin.setDecimals(4)
        levels = QHBoxLayout()
        levels.addWidget(self.levels_mode)
        levels.addWidget(self.level_lo)
        levels.addWidget(QLabel("to"))
        levels.addWidget(self.level_hi)
        self.scale_spin = QSpinBox()
        self.scale_spin.setRange(0, 16)
        self.scale_spin.setSpecialValueText("auto")
        self.dpi_spin = QSpinBox()
        self.dpi_spin.setRange(50, 1200)
        self.dpi_spin.setValue(100)
        form.addRow("Quantity", self.quantity_combo)
        form.addRow("Colormap", self.colormap_combo)
        form.addRow("Levels", levels)
        form.addRow("Tile enlargement", self.scale_spin)
        form.addRow("DPI", self.dpi_spin)
        return box

    def _annotation_box(self) -> QGroupBox:
        box = QGroupBox("Annotation")
        grid = QGridLayout(box)
        names = {
            "labels": "tile labels", "title": "title block", "colorbar": "colour bar", "scale_bar": "scale bar",
            "positions": "scan positions", "batch": "current batch footprints", "selection": "selected patch",
            "truth": "ground truth and error",
        }
        self.option_boxes = {key: QCheckBox(text) for key, text in names.items()}
        for i, check in enumerate(self.option_boxes.values()):
            check.setChecked(True)
            grid.addWidget(check, i // 2, i % 2)
        return box

    def _folder_row(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.folder_edit = QLineEdit(str(Path.cwd() / "export"))
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        row.addWidget(QLabel("Folder"))
        row.addWidget(self.folder_edit, 1)
        row.addWidget(browse)
        return row

    def _action_row(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.progress_bar = QProgressBar()
        self.progress_bar.setVisible(False)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel_export)
        self.export_button = QPushButton("Export")
        self.export_button.setDefault(True)
        self.export_button.clicked.connect(self.start_export)
        close = QPushButton("Close")
        close.clicked.connect(self.close)
        row.addWidget(self.progress_bar, 1)
        row.addWidget(self.cancel_button)
        row.addWidget(self.export_button)
        row.addWidget(close)
        return row

    def _connect_changes(self) -> None:
        for check in (*self.item_boxes.values(), *self.format_boxes.values(), *self.option_boxes.values()):
            check.toggled.connect(self.schedule_preview)
        for combo in (self.patch_source, self.quantity_combo, self.colormap_combo, self.levels_mode):
            combo.currentIndexChanged.connect(self.schedule_preview)
        for spin in (self.level_lo, self.level_hi, self.scale_spin, self.dpi_spin):
            spin.valueChanged.connect(self.schedule_preview)
        self.batch_spec.textChanged.connect(self.schedule_preview)
        self.quantity_combo.currentTextChanged.connect(self._quantity_changed)

    # ------------------------------------------------------------------ state from the session
    def _load_from_session(self) -> None:
        for item in VIEW_ITEMS.get(self.view_name, ("patches",)):
            self.item_boxes[item].setChecked(True)
        if self.view_name in DATA_VIEWS:
            self.format_boxes["npz"].setChecked(True)
        current = self.session.current
        self.batch_spec.setText(str(current.index) if current is not None else "0")
        self.view_style, notes = view_style(self.session, self.view_name)
        self.quantity_combo.setCurrentText(self.view_style.quantity)
        self.colormap_combo.setCurrentText(self.view_style.cmap)
        if self.view_style.levels is not None:
            self.level_lo.setValue(self.view_style.levels[0])
            self.level_hi.setValue(self.view_style.levels[1])
        elif not self.view_style.per_tile:
            self.levels_mode.setCurrentText("auto")
        self.notes_label.setText("\n".join(notes))

    @Slot(str)
    def _quantity_changed(self, quantity: str) -> None:
        colormap = view_display(self.session, self.view_name).colormaps.get(quantity)
        if colormap in COLORMAPS:
            self.colormap_combo.setCurrentText(colormap)
        if quantity != self.view_style.quantity and self.levels_mode.currentText() == "as the view":
            self.levels_mode.setCurrentText("auto")

    @Slot()
    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export folder", self.folder_edit.text())
        if folder:
            self.folder_edit.setText(folder)

    # ------------------------------------------------------------------ the request
    def _levels(self) -> tuple[tuple[float, float] | None, bool]:
        """(levels or None for auto, per-tile) from the levels choice."""
        mode = self.levels_mode.currentText()
        if mode == "as the view":
            return self.view_style.levels, self.view_style.per_tile
        if mode in ("auto", "per tile"):
            return None, mode == "per tile"
        lo, hi = self.level_lo.value(), self.level_hi.value()
        if not lo < hi:
            raise ValueError(f"levels need low < high, got {lo:g} to {hi:g}")
        return (lo, hi), False

    def _as_drawn(self, style: ImageStyle, view_name: str) -> ImageStyle:
        """``style`` with the levels ``view_name`` draws now (auto when that view shows another quantity)."""
        drawn, _ = view_style(self.session, view_name)
        if drawn.quantity != style.quantity:
            return dataclasses.replace(style, levels=None, per_tile=False)
        return dataclasses.replace(style, levels=drawn.levels, per_tile=drawn.per_tile and view_name == "patches")

    def _batches_and_picks(self) -> tuple[tuple[int, ...], tuple[tuple[int, int], ...] | None]:
        source = self.patch_source.currentText()
        n_batches = self.session.n_batches
        if source == "selected patch":
            selection = self.session.selection
            if selection is None:
                raise ValueError("no patch is selected: click one in the patch grid or the canvas")
            return (self.session.batch_of_group(selection.group),), ((selection.group, selection.channel),)
        if source == "current batch":
            if self.session.current is None:
                raise ValueError("no batch is shown yet: run or step to one")
            return (self.session.current.index,), None
        return parse_batch_spec(self.batch_spec.text(), n_batches), None

    def request(self, overwrite: bool = False) -> ExportRequest:
        """The ExportRequest the dialog's choices describe (ValueError when they are incomplete)."""
        what = tuple(item for item in ITEMS if self.item_boxes[item].isChecked())
        formats = tuple(fmt for fmt, check in self.format_boxes.items() if check.isChecked())
        if not what:
            raise ValueError("choose something to export")
        batches, picks = self._batches_and_picks() if {"patches", "data"} & set(what) else ((), None)
        options = self.option_boxes
        style = ImageStyle(self.quantity_combo.currentText(), self.colormap_combo.currentText(), *self._levels())
        canvas_style = None
        if self.levels_mode.currentText() == "as the view":
            style, canvas_style = (self._as_drawn(style, "patches"), self._as_drawn(style, "canvas"))
        dpi = self.dpi_spin.value()
        overlays = tuple(name for name in ("positions", "batch", "selection") if options[name].isChecked())
        return ExportRequest(
            out_dir=Path(self.folder_edit.text()).expanduser(),
            what=what,
            formats=formats,
            batches=batches,
            style=style,
            canvas_style=canvas_style,
            grid=GridOptions(scale=self.scale_spin.value() or None, labels=options["labels"].isChecked(),
                             title=options["title"].isChecked(), colorbar=options["colorbar"].isChecked(),
                             scale_bar=options["scale_bar"].isChecked(), dpi=dpi),
            canvas=CanvasOptions(title=options["title"].isChecked(), colorbar=options["colorbar"].isChecked(),
                                 scale_bar=options["scale_bar"].isChecked(), truth=options["truth"].isChecked(),
                                 dpi=dpi, phase_view=self.session.canvas_display.phase_view),
            overlays=overlays,
            picks=picks,
            debug_dump="data" in what and self.debug_dump_box.isChecked(),
            overwrite=overwrite,
            options={"quantity": style.quantity, "colormap": style.cmap,
                     "levels": "tile" if style.per_tile else "auto" if style.levels is None else list(style.levels),
                     "batches": list(batches), "what": list(what), "formats": list(formats), "from": "ptycho-gui",
                     "phase_view": self.session.canvas_display.phase_view},
        )

    def _update_enabled(self) -> None:
        """Enable only the choices that apply to what is ticked and to what the session holds."""
        wanted = {item for item in ITEMS if self.item_boxes[item].isChecked()}
        for fmt, check in self.format_boxes.items():
            check.setEnabled(any(fmt in ITEM_FORMATS[item] for item in wanted) or not wanted)
        session = self.session
        finished = session.run is not None and len(session.done) == session.n_batches
        self.batch_spec.setEnabled(self.patch_source.currentText() == "batches")
        self.debug_dump_box.setEnabled("data" in wanted and finished)
        if not self.debug_dump_box.isEnabled():
            self.debug_dump_box.setChecked(False)

    # ------------------------------------------------------------------ preview
    @Slot()
    def schedule_preview(self) -> None:
        """Re-render the preview shortly after the choices stop changing."""
        self._update_enabled()
        self._preview_timer.start()

    @property
    def previewing(self) -> bool:
        """True while a preview renders in the background."""
        return self._previews.busy

    @Slot()
    def refresh_preview(self) -> None:
        """Render the first figure of the current request in the background (superseding one rendering)."""
        try:
            request, sources = self.request(), session_sources(self.session, False, self.date, self.judge)
        except EXPORT_ERRORS as exc:
            self._previews.cancel()
            self._show_preview_text(str(exc))
            return
        self.preview_caption.setText("Preview (rendering…)")
        self._previews.submit(_render_preview, request, sources, on_done=self._preview_done,
                              on_error=lambda message, _details: self._show_preview_text(message))

    def _show_preview_text(self, text: str) -> None:
        self.last_preview = None
        self.preview_label.setPixmap(QPixmap())
        self.preview_label.setText(text)
        self.preview_caption.setText("Preview")

    def _preview_done(self, outcome: tuple[RenderedFigure | None, np.ndarray | None]) -> None:
        figure, rgb = outcome
        if figure is None:
            self._show_preview_text("No figure to preview: the chosen formats hold data only.")
            return
        self.last_preview = figure
        self.preview_label.setPixmap(rgb_pixmap(rgb, self.preview_label.width(), self.preview_label.height()))
        self.preview_caption.setText(f"Preview: {figure.metadata.get('heading', '')} "
                                     f"({rgb.shape[1]}×{rgb.shape[0]} px)")

    # ------------------------------------------------------------------ export
    @property
    def busy(self) -> bool:
        """True while an export runs in the background."""
        return self._export is not None

    @Slot()
    def start_export(self) -> None:
        """Check choices and destinations (asking before overwriting), then export in the background."""
        if self.busy:
            return
        self.last_error = None
        try:
            request = self.request()
            existing = [p.path for p in plan_files(request) if p.path.exists()]
            if existing:
                if not self._confirm_overwrite(existing):
                    return
                request = dataclasses.replace(request, overwrite=True)
            sources = session_sources(self.session, request.debug_dump, self.date, self.judge)
        except EXPORT_ERRORS as exc:
            self._fail(str(exc))
            return
        self.progress_bar.setRange(0, max(1, len(plan_files(request))))
        self.progress_bar.setValue(0)
        self.progress_bar.setVisible(True)
        self.export_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self._export = Job("export", _export, request, sources, with_control=True, on_done=self._export_done,
                           on_error=lambda message, _details: self._fail(message), on_progress=self._show_progress)
        self._export.sigFinished.connect(self._export_finished)
        self._export.start()

    def _confirm_overwrite(self, existing: list[Path]) -> bool:
        shown = "\n".join(str(p) for p in existing[:8])
        if len(existing) > 8:
            shown += f"\n… and {len(existing) - 8} more"
        answer = QMessageBox.question(self, "Overwrite files?",
                                      f"These files exist already:\n{shown}\n\nOverwrite them?",
                                      QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                                      QMessageBox.StandardButton.No)
        return answer == QMessageBox.StandardButton.Yes

    @Slot()
    def cancel_export(self) -> None:
        """Stop the running export after the file being written (finished files are kept)."""
        if self._export is not None:
            self._export.stop()

    def _show_progress(self, step: Step) -> None:
        self.progress_bar.setRange(0, step.total)
        self.progress_bar.setValue(step.done)
        self.progress_bar.setFormat(f"%v / %m  {Path(step.text).name}")

    def _export_finished(self) -> None:
        self._export = None
        self.export_button.setEnabled(True)
        self.cancel_button.setEnabled(False)

    def _export_done(self, report: ExportReport) -> None:
        self.last_report = report
        state = "cancelled after" if report.cancelled else "wrote"
        self.notes_label.setText(f"Export {state} {len(report.files)} file(s) in {self.folder_edit.text()}")

    def _fail(self, message: str) -> None:
        self.last_error = message
        self.progress_bar.setVisible(False)
        show_message(self, QMessageBox.Icon.Warning, "Export failed", message)

    # ------------------------------------------------------------------ closing
    @Slot()
    def shutdown(self) -> None:
        """Stop background work and wait for it (call before the dialog goes away)."""
        self._preview_timer.stop()
        preview = self._previews.current
        self._previews.cancel()
        for job in (preview, self._export):
            if job is not None:
                job.stop()
                job.wait()

    def done(self, result: int) -> None:
        self.shutdown()
        super().done(result)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.shutdown()
        super().closeEvent(event)


def _export(control: JobControl, request: ExportRequest, sources: ExportSources) -> ExportReport:
    """Write the export, reporting each file and stopping early when asked (a background job)."""
    return run_export(request, sources, lambda done, total, path: control.report(done, total, str(path)),
                      lambda: control.stop_requested)


def _render_preview(request: ExportRequest, sources: ExportSources) -> tuple[RenderedFigure | None, np.ndarray | None]:
    figure = preview_figure(request, sources)
    return figure, figure.rgb() if figure is not None else None


def show_export_dialog(parent: QWidget, session: Session, view_name: str | None = None) -> ExportDialog:
    """Open the Export dialog for a view (None: the whole session); the main window calls this."""
    dialog = ExportDialog(session, view_name, parent, getattr(parent, "judge", None))
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.show()
    return dialog
