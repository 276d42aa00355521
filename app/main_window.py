"""The main window: menus, keyboard shortcuts, the docked views, the status bar, files in and errors out."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings, Qt, QTimer, QUrl, Signal, Slot
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence, QShowEvent
from PySide6.QtWidgets import QDockWidget, QFileDialog, QLabel, QMainWindow, QMessageBox, QStyle, QWidget

from ptycho_gui import __version__
from ptycho_gui.app.canvas_view import CanvasView, GroundTruthView
from ptycho_gui.app.discard_prompt import confirm_discard
from ptycho_gui.app.error_dialog import error_details, show_message
from ptycho_gui.app.judge_docks import JudgeDocks
from ptycho_gui.app.offsets_view import OffsetsView
from ptycho_gui.app.patch_grid_view import PatchGridView
from ptycho_gui.app.run_controls_view import RunControlsView
from ptycho_gui.app.session import Session
from ptycho_gui.app.statistics_view import StatisticsView
from ptycho_gui.app.summary_view import SummaryView
from ptycho_gui.app.sweep_view import SweepView
from ptycho_gui.engine.device import DeviceUnavailableError
from ptycho_gui.errors import PtychoGuiError
from ptycho_gui.io.detect import detect_kind
from ptycho_gui.sweep.table import read_sweep
from ptycho_gui.types import RunSettings

APP_NAME = "ptycho-gui"
LAYOUT_VERSION = 1
DEFAULT_SIZE = (1600, 1000)
MIN_BOTTOM_HEIGHT = 250
"""Height of the Statistics/Offsets row in the default layout, at least (1366×768 screens included)."""
MAX_RECENT = 10
STATUS_REFRESH_MS = 2000
EXPORT_MODULE = "ptycho_gui.app.export_dialog"
CHECKPOINT_FILTER = "Checkpoints (*.zip *.ckpt *.pt *.pth);;All files (*)"
DATASET_FILTER = "Scan datasets (*.npz *.h5 *.hdf5 *.nxs);;All files (*)"
ANY_FILTER = "Checkpoints and datasets (*.zip *.ckpt *.pt *.pth *.npz *.h5 *.hdf5 *.nxs);;All files (*)"

DOCKS: tuple[tuple[str, str], ...] = (
    ("run", "Run"),
    ("summary", "Summary"),
    ("patches", "Patches"),
    ("canvas", "Canvas"),
    ("ground_truth", "Ground truth"),
    ("offsets", "Offsets"),
    ("statistics", "Statistics"),
)
"""(name, title) of every dock; the dock's objectName is 'dock_<name>' (saved layouts rely on it)."""


def local_paths(urls: list[QUrl]) -> list[Path]:
    """The local files among dropped URLs."""
    return [Path(url.toLocalFile()) for url in urls if url.isLocalFile() and Path(url.toLocalFile()).is_file()]


class MainWindow(QMainWindow):
    """The ptycho-gui window. ``settings`` holds layout and recent files (tests pass a temporary one)."""

    sigErrorReported = Signal(str, str, str)
    """title, message, details of every error shown to the user (scripted runs report the first on stderr)."""

    def __init__(self, settings: QSettings, run_settings: RunSettings | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.settings = settings
        self.session = Session(run_settings, parent=self)
        self.demo = False
        self.last_error: tuple[str, str, str] | None = None
        """(title, message, details) of the last error reported to the user."""
        self.message_box: QMessageBox | None = None
        self._close_pending = False
        self._default_sizes_pending = False
        self._focus_given = False
        self.setObjectName("ptycho_gui_main_window")
        self.setAcceptDrops(True)
        self.setDockNestingEnabled(True)
        self.resize(*DEFAULT_SIZE)

        self.actions_by_name = self._make_actions()
        self.views = {
            "run": RunControlsView(self.session, self.actions_by_name),
            "summary": SummaryView(self.session),
            "patches": PatchGridView(self.session),
        }
        self.views["canvas"] = CanvasView(self.session)
        self.views["ground_truth"] = GroundTruthView(self.session, self.views["canvas"])
        self.views["offsets"] = OffsetsView(self.session)
        self.views["statistics"] = StatisticsView(self.session)
        for view in self.views.values():
            if hasattr(view, "sigExportRequested"):
                view.sigExportRequested.connect(self.open_export_dialog)
        self.docks: dict[str, QDockWidget] = {}
        for name, title in DOCKS:
            dock = QDockWidget(title, self)
            dock.setObjectName(f"dock_{name}")
            dock.setWidget(self.views[name])
            dock.setFeatures(
                QDockWidget.DockWidgetFeature.DockWidgetMovable
                | QDockWidget.DockWidgetFeature.DockWidgetClosable
                | QDockWidget.DockWidgetFeature.DockWidgetFloatable
            )
            self.docks[name] = dock
        self._make_menus()
        self._make_status_bar()
        self.arrange_default_layout()
        self.judge = JudgeDocks(self)
        self.restore_layout()

        session = self.session
        session.sigError.connect(self.report_error)
        session.sigStatus.connect(lambda text: self.statusBar().showMessage(text, 4000))
        session.sigRunStateChanged.connect(self._on_state_changed)
        session.sigFilesChanged.connect(self._update_title)
        session.sigPlanChanged.connect(self._refresh_status)
        self._on_state_changed(session.state)
        self._update_title()

    # ------------------------------------------------------------------ actions and menus
    def _action(self, text: str, slot, shortcuts: tuple = (), icon: QStyle.StandardPixmap | None = None,
                tip: str = "") -> QAction:
        action = QAction(text, self)
        if shortcuts:
            keys = list(dict.fromkeys(QKeySequence(s).toString() for s in shortcuts))
            action.setShortcuts([QKeySequence(k) for k in keys if k])
        if icon is not None:
            action.setIcon(self.style().standardIcon(icon))
        keys = ", ".join(QKeySequence(s).toString(QKeySequence.SequenceFormat.NativeText) for s in shortcuts)
        action.setToolTip(f"{tip or text} ({keys})" if keys else (tip or text))
        action.triggered.connect(slot)
        self.addAction(action)
        return action

    def _make_actions(self) -> dict[str, QAction]:
        session, sp = self.session, QStyle.StandardPixmap
        return {
            "open": self._action("&Open…", self.open_any_dialog, (QKeySequence.StandardKey.Open,),
                                 tip="Open a checkpoint or a dataset (recognised by content)"),
            "open_checkpoint": self._action("Open &checkpoint…", self.open_checkpoint_dialog),
            "open_dataset": self._action("Open &dataset…", self.open_dataset_dialog),
            "open_demo": self._action("Open the &demo", self.open_demo),
            "open_sweep": self._action("Open s&weep…", self.open_sweep_dialog,
                                       tip="Open a sweep.json from ptycho-inspect sweep"),
            "export": self._action("&Export…", lambda: self.open_export_dialog(None), ("Ctrl+E",)),
            "quit": self._action("&Quit", self.close, (QKeySequence.StandardKey.Quit, "Ctrl+Q")),
            "run": self._action("Run", session.toggle_run, (Qt.Key.Key_Space,), sp.SP_MediaPlay,
                                tip="Run, pause or resume"),
            "stop": self._action("Stop", session.stop, (), sp.SP_MediaStop, tip="Stop after the batch in progress"),
            "first": self._action("First", session.first, (Qt.Key.Key_Home,), sp.SP_MediaSkipBackward,
                                  tip="First batch"),
            "previous": self._action("Previous", lambda: session.step(-1), (Qt.Key.Key_Left, Qt.Key.Key_PageUp),
                                     sp.SP_MediaSeekBackward, tip="Previous batch"),
            "next": self._action("Next", lambda: session.step(1), (Qt.Key.Key_Right, Qt.Key.Key_PageDown),
                                 sp.SP_MediaSeekForward, tip="Next batch"),
            "last": self._action("Last", session.last, (Qt.Key.Key_End,), sp.SP_MediaSkipForward, tip="Last batch"),
            "reset_layout": self._action("&Reset layout", self.reset_layout),
            "about": self._action("&About ptycho-gui", self._about),
        }

    def _make_menus(self) -> None:
        actions = self.actions_by_name
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        for name in ("open", "open_checkpoint", "open_dataset"):
            file_menu.addAction(actions[name])
        file_menu.addAction(actions["open_sweep"])
        self.recent_menu = file_menu.addMenu("Open &recent")
        file_menu.addAction(actions["open_demo"])
        file_menu.addSeparator()
        file_menu.addAction(actions["export"])
        file_menu.addSeparator()
        file_menu.addAction(actions["quit"])
        run_menu = bar.addMenu("&Run")
        for name in ("run", "stop", "first", "previous", "next", "last"):
            if name == "first":
                run_menu.addSeparator()
            run_menu.addAction(actions[name])
        view_menu = bar.addMenu("&View")
        for name, _ in DOCKS:
            view_menu.addAction(self.docks[name].toggleViewAction())
        view_menu.addSeparator()
        view_menu.addAction(actions["reset_layout"])
        bar.addMenu("&Help").addAction(actions["about"])
        self._rebuild_recent_menu()

    def _make_status_bar(self) -> None:
        self.state_label = QLabel("")
        self.device_label = QLabel("")
        self.statusBar().addPermanentWidget(self.state_label)
        self.statusBar().addPermanentWidget(self.device_label)
        self._status_timer = QTimer(self)
        self._status_timer.setInterval(STATUS_REFRESH_MS)
        self._status_timer.timeout.connect(self._refresh_status)
        self._status_timer.start()
        self._refresh_status()

    @Slot()
    def _refresh_status(self) -> None:
        self.device_label.setText(self.session.device_status())

    @Slot(str)
    def _on_state_changed(self, state: str) -> None:
        run = self.actions_by_name["run"]
        sp = QStyle.StandardPixmap
        if state == "running":
            run.setText("Pause")
            run.setIcon(self.style().standardIcon(sp.SP_MediaPause))
        else:
            run.setText("Resume" if state == "paused" else "Run")
            run.setIcon(self.style().standardIcon(sp.SP_MediaPlay))
        has_plan = self.session.run is not None
        run.setEnabled(has_plan)
        self.actions_by_name["stop"].setEnabled(state in ("running", "paused"))
        for name in ("first", "previous", "next", "last"):
            self.actions_by_name[name].setEnabled(has_plan)
        self.state_label.setText(state)
        self._refresh_status()

    def _update_title(self) -> None:
        if self.demo:
            self.setWindowTitle(f"{APP_NAME} — demo (built-in example scan and network)")
            return
        model, dataset = self.session.model, self.session.dataset
        names = ([model.identity()] if model is not None else []) + ([dataset.path.name] if dataset is not None else [])
        self.setWindowTitle(f"{APP_NAME} — {' + '.join(names)}" if names else APP_NAME)

    def _about(self) -> None:
        self._message(QMessageBox.Icon.Information, "About ptycho-gui",
                      f"ptycho-gui {__version__}\nInspect neural-network ptychography reconstructions batch by batch.")

    # ------------------------------------------------------------------ opening files
    def open_files(self, paths: list[str | Path]) -> bool:
        """Open checkpoints and datasets (recognised by content), then plan once; True if all went well."""
        kinds: list[tuple[str, Path]] = []
        ok = True
        for path in map(Path, paths):
            if self.judge.claims(path):
                ok = self.judge.open_reference(path) and ok
                continue
            try:
                kinds.append((detect_kind(path), path))
            except PtychoGuiError as exc:
                self.report_exception("Cannot open file", exc)
                ok = False
            except Exception as exc:  # a hostile file's unforeseen failure must reach the user, never stderr
                self.report_unexpected("Cannot open file", path, exc)
                ok = False
        if kinds and not self._confirm_opening([path for _, path in kinds]):
            return False
        loaded = [path for kind, path in kinds if self._load(kind, path)]
        ok = ok and len(loaded) == len(kinds)
        if loaded:
            ok = self._plan() and ok
        return ok

    def _load(self, kind: str, path: Path) -> bool:
        loader = self.session.load_checkpoint if kind == "checkpoint" else self.session.load_dataset
        self.setCursor(Qt.CursorShape.WaitCursor)
        try:
            loader(path)
        except PtychoGuiError as exc:
            self.report_exception(f"Cannot open {kind}", exc)
            return False
        except Exception as exc:  # a hostile file's unforeseen failure must reach the user, never stderr
            self.report_unexpected(f"Cannot open {kind}", path, exc)
            return False
        finally:
            self.unsetCursor()
        label = self.session.model.identity() if kind == "checkpoint" else f"{path.parent.name}/{path.name}"
        self._add_recent(path, label)
        self.demo = False
        self._update_title()
        self.statusBar().showMessage(f"opened {kind} {path.name}", 4000)
        return True

    def _confirm_opening(self, paths: list[Path]) -> bool:
        """Ask before opening files discards computed batches; False (status-bar note) when cancelled."""
        if confirm_discard(self, self.session, f"Opening {', '.join(path.name for path in paths)}"):
            return True
        self.statusBar().showMessage("not opened: the computed batches were kept", 4000)
        return False

    def _plan(self) -> bool:
        try:
            self.session.replan()
        except DeviceUnavailableError as exc:
            self.report_exception("Device not available", exc)
            return False
        except (PtychoGuiError, ValueError) as exc:
            self.report_exception("Cannot use these files together", exc)
            return False
        return True

    def _open(self, kind: str, path: Path) -> bool:
        return self._confirm_opening([path]) and self._load(kind, path) and self._plan()

    def open_checkpoint_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open checkpoint", self._last_dir(), CHECKPOINT_FILTER)
        if path:
            self._remember_dir(path)
            self._open("checkpoint", Path(path))

    def open_dataset_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open dataset", self._last_dir(), DATASET_FILTER)
        if path:
            self._remember_dir(path)
            self._open("dataset", Path(path))

    def open_any_dialog(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Open checkpoint and/or dataset", self._last_dir(), ANY_FILTER)
        if paths:
            self._remember_dir(paths[0])
            self.open_files(paths)

    def open_demo(self) -> bool:
        """Open the built-in demo checkpoint and dataset; the title says it is the demo."""
        try:
            demo = importlib.import_module("ptycho_gui.demo")
            checkpoint, dataset = demo.demo_paths()
        except (ImportError, AttributeError) as exc:
            self.report_error("Demo not available", "The built-in demo is not available in this build.", str(exc))
            return False
        except PtychoGuiError as exc:
            self.report_exception("Demo not available", exc)
            return False
        ok = self.open_files([checkpoint, dataset])
        self.demo = ok
        self._update_title()
        return ok

    def open_sweep_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open sweep", self._last_dir(), "Sweep tables (*.json);;All files (*)")
        if path:
            self._remember_dir(path)
            self.open_sweep(Path(path))

    def open_sweep(self, path: Path) -> bool:
        """Show a sweep.json's pairs in the Sweep dock (created on first use)."""
        try:
            table = read_sweep(path)
        except PtychoGuiError as exc:
            self.report_exception("Cannot open sweep", exc)
            return False
        if "sweep" not in self.views:
            self.views["sweep"] = SweepView()
            self.views["sweep"].sigOpenReconstruction.connect(self.compare_sweep_row)
            dock = QDockWidget("Sweep", self)
            dock.setObjectName("dock_sweep")
            dock.setWidget(self.views["sweep"])
            self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, dock)
            self.tabifyDockWidget(self.docks["statistics"], dock)
            self.docks["sweep"] = dock
        self.views["sweep"].set_table(table)
        self.docks["sweep"].show()
        self.docks["sweep"].raise_()
        return True

    def compare_sweep_row(self, reconstruction: str, reference: str | None) -> None:
        """Judge a sweep row's reconstruction in the Compare dock against its dataset's truth or another row."""
        self.judge.open_saved(reconstruction, reference)

    def _last_dir(self) -> str:
        return str(self.settings.value("last_dir", str(Path.home())))

    def _remember_dir(self, path: str) -> None:
        self.settings.setValue("last_dir", str(Path(path).parent))

    def recent_files(self) -> list[str]:
        """Recently opened files, newest first."""
        value = self.settings.value("recent_files", [])
        if isinstance(value, str):
            return [value]
        return [str(v) for v in (value or [])]

    def recent_labels(self) -> dict[str, str]:
        """Menu label of each recent file (a checkpoint's identity: folder, short SHA-256, architecture)."""
        try:
            labels = json.loads(str(self.settings.value("recent_labels", "{}")))
        except json.JSONDecodeError:
            return {}
        return labels if isinstance(labels, dict) else {}

    def _add_recent(self, path: Path, label: str) -> None:
        entry = str(Path(path).resolve())
        files = ([entry] + [f for f in self.recent_files() if f != entry])[:MAX_RECENT]
        labels = {f: text for f, text in self.recent_labels().items() if f in files}
        labels[entry] = label
        self.settings.setValue("recent_files", files)
        self.settings.setValue("recent_labels", json.dumps(labels))
        self._rebuild_recent_menu()

    def _rebuild_recent_menu(self) -> None:
        self.recent_menu.clear()
        files = self.recent_files()
        labels = self.recent_labels()
        for entry in files:
            action = self.recent_menu.addAction(labels.get(entry, Path(entry).name))
            action.setToolTip(entry)
            action.setStatusTip(entry)
            action.triggered.connect(lambda _checked=False, p=entry: self.open_files([p]))
        self.recent_menu.setEnabled(bool(files))

    # ------------------------------------------------------------------ drag and drop
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls() and local_paths(event.mimeData().urls()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = local_paths(event.mimeData().urls())
        if not paths:
            event.ignore()
            return
        event.acceptProposedAction()
        self.open_files(paths)

    # ------------------------------------------------------------------ errors, messages, export
    @Slot(str, str, str)
    def report_error(self, title: str, message: str, details: str = "") -> None:
        """Tell the user about a failure in a non-blocking dialog; the window stays usable."""
        self.last_error = (title, message, details)
        self.sigErrorReported.emit(title, message, details)
        self.statusBar().showMessage(f"{title}: {message}", 8000)
        self._message(QMessageBox.Icon.Critical, title, message, details)

    def report_exception(self, title: str, error: PtychoGuiError | ValueError) -> None:
        self.report_error(title, str(error), error_details(error))

    def report_unexpected(self, title: str, path: Path, error: Exception) -> None:
        """An unforeseen failure while reading ``path``: a dialog naming the file, the traceback in its details."""
        text = " ".join(str(error).split())
        self.report_error(title, f"{path}: {type(error).__name__}{': ' + text if text else ''}", error_details(error))

    def _message(self, icon: QMessageBox.Icon, title: str, message: str, details: str = "") -> None:
        if self.message_box is not None:
            self.message_box.close()
        self.message_box = show_message(self, icon, title, message, details)
        self.message_box.destroyed.connect(self._forget_message_box)

    @Slot()
    def _forget_message_box(self) -> None:
        self.message_box = None

    @Slot(str)
    def open_export_dialog(self, view_name: str | None = None) -> None:
        """Open the export dialog for a view (None: the whole session); says so if export is not built."""
        try:
            module = importlib.import_module(EXPORT_MODULE)
        except ModuleNotFoundError as exc:
            if exc.name != EXPORT_MODULE:
                raise
            self._message(QMessageBox.Icon.Information, "Export", "Export is not available in this build.")
            return
        module.show_export_dialog(parent=self, session=self.session, view_name=view_name)

    # ------------------------------------------------------------------ layout
    def arrange_default_layout(self) -> None:
        """Place every dock where it belongs by default (sized for a 1600×1000 window)."""
        docks = self.docks
        for dock in docks.values():
            dock.setFloating(False)
            self.removeDockWidget(dock)
        left, right = Qt.DockWidgetArea.LeftDockWidgetArea, Qt.DockWidgetArea.RightDockWidgetArea
        bottom = Qt.DockWidgetArea.BottomDockWidgetArea
        self.setCorner(Qt.Corner.BottomLeftCorner, left)
        self.setCorner(Qt.Corner.TopLeftCorner, left)
        self.addDockWidget(left, docks["run"])
        self.splitDockWidget(docks["run"], docks["summary"], Qt.Orientation.Vertical)
        self.addDockWidget(right, docks["patches"])
        self.splitDockWidget(docks["patches"], docks["canvas"], Qt.Orientation.Horizontal)
        self.splitDockWidget(docks["canvas"], docks["ground_truth"], Qt.Orientation.Vertical)
        self.addDockWidget(bottom, docks["statistics"])
        self.splitDockWidget(docks["statistics"], docks["offsets"], Qt.Orientation.Horizontal)
        for dock in docks.values():
            dock.show()
        if hasattr(self, "judge"):
            self.judge.arrange()
        self._size_default_docks()
        self._default_sizes_pending = not self.isVisible()

    def _size_default_docks(self) -> None:
        """Dock sizes of the default layout, in proportion to the window (designed at 1600×1000).

        The bottom row never gets less than ``MIN_BOTTOM_HEIGHT``, so the statistics stay readable on a
        1366×768 screen.
        """
        docks = self.docks
        horizontal, vertical = Qt.Orientation.Horizontal, Qt.Orientation.Vertical
        sx, sy = self.width() / DEFAULT_SIZE[0], self.height() / DEFAULT_SIZE[1]
        bottom = max(MIN_BOTTOM_HEIGHT, round(270 * sy))
        self.resizeDocks([docks["run"]], [round(320 * sx)], horizontal)
        self.resizeDocks([docks["patches"], docks["canvas"]], [round(560 * sx), round(720 * sx)], horizontal)
        upper = round(940 * sy) - bottom
        self.resizeDocks([docks["canvas"], docks["ground_truth"]], [round(upper * 0.55), round(upper * 0.45)], vertical)
        self.resizeDocks([docks["statistics"], docks["offsets"]], [round(700 * sx), round(570 * sx)], horizontal)
        self.resizeDocks([docks["run"], docks["summary"]], [round(300 * sy), round(640 * sy)], vertical)
        self.resizeDocks([docks["patches"], docks["statistics"]], [upper, bottom], vertical)

    def showEvent(self, event: QShowEvent) -> None:
        """Dock sizes only take once the window is laid out: apply the default ones after the first show."""
        super().showEvent(event)
        if not self._focus_given:
            self._focus_given = True
            QTimer.singleShot(0, self.focus_views)
        if self._default_sizes_pending:
            self._default_sizes_pending = False
            QTimer.singleShot(0, self._size_default_docks)

    @Slot()
    def focus_views(self) -> None:
        """Give the keyboard to the patch view, so Space, arrows, Home and End work from the start."""
        self.views["patches"].plot.widget.setFocus(Qt.FocusReason.OtherFocusReason)

    def reset_layout(self) -> None:
        """Back to the default dock layout."""
        self.arrange_default_layout()

    def save_layout(self) -> None:
        """Store the window geometry and dock layout in the settings."""
        self.settings.setValue("layout/geometry", self.saveGeometry())
        self.settings.setValue("layout/state", self.saveState(LAYOUT_VERSION))
        self.settings.sync()

    def restore_layout(self) -> bool:
        """Restore a saved layout of this version; False (default layout kept) when there is none."""
        geometry, state = self.settings.value("layout/geometry"), self.settings.value("layout/state")
        if not isinstance(state, QByteArray):
            return False
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        restored = self.restoreState(state, LAYOUT_VERSION)
        if restored:
            self._default_sizes_pending = False
        return restored

    def closeEvent(self, event: QCloseEvent) -> None:
        """Save the layout and stop the worker before the window goes; never blocks on a slow batch.

        A worker still inside its batch keeps the window open with "stopping…" shown; the window
        closes itself as soon as the thread has ended (a running QThread must never be dropped).
        """
        self.save_layout()
        self._status_timer.stop()
        self.session.shutdown()
        if self.session.worker_busy:
            event.ignore()
            self.statusBar().showMessage("stopping… (finishing the batch in progress)")
            if not self._close_pending:
                self._close_pending = True
                self.session.sigWorkerStopped.connect(self._close_when_stopped)
            return
        super().closeEvent(event)

    def _close_when_stopped(self) -> None:
        if not self.session.worker_busy:
            self.close()
