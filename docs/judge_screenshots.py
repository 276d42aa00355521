"""Screenshots of the Compare and Diffraction docks: ``python docs/judge_screenshots.py [--demo-only]``.

Runs the real app offscreen on the built-in demo and on the shared PtychoPINN gridsize-2 fixture
(``../shared/fixtures/ptychopinn/gs2/wts.h5.zip`` + ``lines_n64_test.npz``, when present), and saves
``docs/screenshots/judge-*.png``: the Compare dock (amplitude, phase, HSV with an ROI and a profile), the
Diffraction dock with its worst groups, the Statistics dock with the residual curve, the canvas with
its complex (HSV) layer, an ROI and a line profile, the canvas phase with its offset removed, and the Export
dialog opened from the Compare and Diffraction docks with the figures it writes.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QSettings
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QDialog

from ptycho_gui.app.main import make_application
from ptycho_gui.app.main_window import MainWindow
from ptycho_gui.app.plot_helpers import configure_pyqtgraph
from ptycho_gui.types import RunSettings

OUT = Path(__file__).resolve().parent / "screenshots"
SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "ptychopinn"
TIMEOUT_S = 900.0


def wait_until(condition, timeout_s: float = TIMEOUT_S) -> None:
    """Process events until ``condition()`` holds."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"still waiting after {timeout_s:.0f} s")
        QApplication.processEvents()
        time.sleep(0.01)


def grab(window: MainWindow, widget, name: str, size: tuple[int, int] = (1500, 900)) -> None:
    """Float the dock holding ``widget`` at ``size`` and save it as docs/screenshots/judge-NAME.png."""
    dock = widget.parentWidget()
    dock.setFloating(True)
    dock.resize(*size)
    dock.show()
    window.session.redraws.flush()
    QTest.qWait(400)
    path = OUT / f"judge-{name}.png"
    widget.grab().save(str(path))
    dock.setFloating(False)
    print(f"wrote {path}")


def shoot(window: MainWindow, tag: str) -> None:
    """Run to the end, wait for the comparison and residuals, then save every judged view."""
    session, judge = window.session, window.judge
    session.start()
    wait_until(lambda: session.state == "finished")
    compare, diffraction = judge.compare, judge.diffraction
    wait_until(lambda: compare.state.compared_batches == session.n_batches and not compare._busy)
    if diffraction.tracker is not None and diffraction.tracker.available:
        wait_until(lambda: len(diffraction.tracker.batches) == session.n_batches)
    diffraction.refresh_worst()
    for name in ("compare", "diffraction"):
        window.docks[name].raise_()  # as a user choosing the tab: the docks build their plots when first shown
    for mode in ("amplitude", "phase"):
        compare.mode.setCurrentText(mode)
        wait_until(lambda m=mode: compare.figure is not None and compare.figure.mode == m)
        grab(window, compare, f"{tag}-compare-{mode}")
    compare.mode.setCurrentText("complex (HSV)")
    wait_until(lambda: compare.figure.mode == "complex (HSV)")
    compare.roi["error"].show_roi.setChecked(True)
    compare.roi["reference"].show_line.setChecked(True)
    grab(window, compare, f"{tag}-compare-hsv")
    item = diffraction.worst.item(0)
    if item is not None and item.data(0x0100) is not None:
        diffraction.worst.itemClicked.emit(item)
    else:
        session.select(0, 0)
    wait_until(lambda: session.selection is not None)
    diffraction.draw_selection()
    grab(window, diffraction, f"{tag}-diffraction", (1400, 520))
    grab(window, window.views["statistics"], f"{tag}-statistics", (1500, 330))
    layer = judge.complex_layers["canvas"]
    layer.enabled.setChecked(True)
    wait_until(lambda: layer.picture is not None)
    judge.roi["canvas"].show_roi.setChecked(True)
    judge.roi["canvas"].show_line.setChecked(True)
    grab(window, window.views["canvas"], f"{tag}-canvas-hsv-roi", (900, 800))
    layer.enabled.setChecked(False)
    session.set_canvas_quantity("phase")
    judge._phase_combo.setCurrentText("auto (offset removed)")
    grab(window, window.views["canvas"], f"{tag}-canvas-phase-offset-removed", (900, 800))
    session.set_canvas_quantity("amplitude")
    export_docks(window, tag)


def export_docks(window: MainWindow, tag: str) -> None:
    """Export the Compare and Diffraction docks through the Export dialog; save the dialog and both figures."""
    for name, view, figure in (("compare", window.judge.compare, "comparison.png"),
                               ("diffraction", window.judge.diffraction, "diffraction_pattern.png")):
        view.sigExportRequested.emit(name)
        dialog = [d for d in window.findChildren(QDialog, "export_dialog") if d.isVisible()][-1]
        with tempfile.TemporaryDirectory() as folder:
            dialog.folder_edit.setText(folder)
            dialog.refresh_preview()
            wait_until(lambda d=dialog: d.last_preview is not None)
            QTest.qWait(300)
            dialog.grab().save(str(OUT / f"judge-{tag}-export-{name}-dialog.png"))
            dialog.export_button.click()
            wait_until(lambda d=dialog: not d.busy)
            shutil.copyfile(Path(folder) / figure, OUT / f"judge-{tag}-export-{figure}")
        print(f"wrote {OUT / f'judge-{tag}-export-{figure}'}")
        dialog.shutdown()
        dialog.close()


def main() -> int:
    OUT.mkdir(exist_ok=True)
    make_application()
    configure_pyqtgraph()
    with tempfile.TemporaryDirectory() as folder:
        runs = [("demo", None)]
        if (SHARED / "gs2" / "wts.h5.zip").exists() and "--demo-only" not in sys.argv:
            runs.append(("gs2", [SHARED / "gs2" / "wts.h5.zip", SHARED / "lines_n64_test.npz"]))
        for tag, files in runs:
            settings = QSettings(str(Path(folder) / f"{tag}.ini"), QSettings.Format.IniFormat)
            window = MainWindow(settings, RunSettings(device="cpu", num_threads=1))
            window.resize(1600, 1000)
            window.show()
            ok = window.open_demo() if files is None else window.open_files(files)
            if not ok:
                print(f"cannot open {tag}: {window.last_error}", file=sys.stderr)
                return 1
            shoot(window, tag)
            window.session.shutdown()
            window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
