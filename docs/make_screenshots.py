"""Take the user guide's screenshots from the real app on the built-in demo: ``python docs/make_screenshots.py``.

Opens the main window offscreen with throw-away settings, loads the demo, runs it to the end, shows one
batch with a selected patch, hovers the patch grid and the canvas (so their readouts show), then saves
each dock and the Export dialog as a PNG under ``docs/screenshots/`` (scaled down and quantized to keep
the guide small).
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import torch
from PIL import Image
from PySide6.QtCore import QBuffer, QIODevice, QPointF, QSettings
from PySide6.QtGui import QPixmap
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from ptycho_gui.app.export_dialog import show_export_dialog
from ptycho_gui.app.main import make_application
from ptycho_gui.app.main_window import MainWindow
from ptycho_gui.app.plot_helpers import configure_pyqtgraph
from ptycho_gui.types import RunSettings

OUT = Path(__file__).resolve().parent / "screenshots"
SHOWN_BATCH = 3
SELECTED = (5, 0)
"""(row of the shown batch, channel) of the patch selected for the screenshots."""
CANVAS_HOVER_DY = 12.0
"""The canvas is hovered this far above the selected patch's centre (inside the covered area)."""
MAX_WIDTH = 760
WINDOW_MAX_WIDTH = 1200
COLORS = 128
RUN_TIMEOUT_S = 600.0


def wait_until(condition, timeout_s: float) -> None:
    """Process events until ``condition()`` holds; TimeoutError after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"still waiting after {timeout_s:.0f} s")
        QApplication.processEvents()
        time.sleep(0.01)


def settle(window: MainWindow, ms: int = 300) -> None:
    """Flush queued redraws and let the event loop paint for ``ms``."""
    window.session.redraws.flush()
    QTest.qWait(ms)


def hover(plot_widget, item, x: float, y: float) -> None:
    """Move the mouse over item coordinates (x, y) of a pyqtgraph plot."""
    point = plot_widget.mapFromScene(item.mapToScene(QPointF(x, y)))
    QTest.mouseMove(plot_widget.viewport(), point)


def save_small(pixmap: QPixmap, path: Path, max_width: int = MAX_WIDTH) -> int:
    """Save ``pixmap`` scaled to at most ``max_width`` wide with a COLORS-colour palette; returns the bytes written."""
    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    pixmap.save(buffer, "PNG")
    image = Image.open(io.BytesIO(bytes(buffer.data()))).convert("RGB")
    if image.width > max_width:
        image = image.resize((max_width, round(image.height * max_width / image.width)), Image.LANCZOS)
    image.quantize(colors=COLORS, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)
    return path.stat().st_size


def prepare(window: MainWindow) -> None:
    """Demo loaded and run to the end, canvas zoomed to its covered area; batch SHOWN_BATCH shown, one patch
    selected, both readouts hovered."""
    if not window.open_demo():
        raise RuntimeError(f"could not open the demo: {window.last_error}")
    session = window.session
    session.start()
    wait_until(lambda: session.state == "finished", RUN_TIMEOUT_S)
    session.go_to(SHOWN_BATCH)
    settle(window)
    window.views["canvas"].show_scan_extent()
    row, channel = SELECTED
    session.select(int(session.current.group_indices[row]), channel)
    settle(window)
    patches = window.views["patches"]
    origin_row, origin_col = patches._mosaic.layout.origin(row, channel)
    half = patches._mosaic.layout.N / 2
    hover(patches.plot.widget, patches.plot.image, origin_col + half, origin_row + half)
    canvas = window.views["canvas"]
    x, y = session.current.positions[row, channel]
    col, row_ = canvas_image_point(window, float(x), float(y) - CANVAS_HOVER_DY)
    hover(canvas.plot.widget, canvas.plot.image, col, row_)
    settle(window)


def canvas_image_point(window: MainWindow, x: float, y: float) -> tuple[float, float]:
    """Canvas image coordinates (col, row) of object position (x, y)."""
    canvas = window.session.canvas
    h, w = canvas.image.shape
    return x - canvas.center_xy[0] + w // 2, y - canvas.center_xy[1] + h // 2


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)
    configure_pyqtgraph()
    make_application()
    with tempfile.TemporaryDirectory() as tmp:
        settings = QSettings(str(Path(tmp) / "settings.ini"), QSettings.Format.IniFormat)
        window = MainWindow(settings, RunSettings(device="cpu", num_threads=1))
        window.show()
        try:
            settle(window)
            prepare(window)
            total = save_small(window.grab(), args.out / "window.png", WINDOW_MAX_WIDTH)
            for name, dock in window.docks.items():
                total += save_small(dock.grab(), args.out / f"dock-{name}.png")
            dialog = show_export_dialog(window, window.session, "canvas")
            wait_until(lambda: dialog.last_preview is not None, RUN_TIMEOUT_S)
            settle(window)
            total += save_small(dialog.grab(), args.out / "export-dialog.png")
            dialog.close()
        finally:
            window.session.shutdown()
            window.close()
    print(f"wrote {len(window.docks) + 2} screenshots, {total / 1024:.0f} KiB, to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
