"""Render the application icon's PNG from its SVG: ``python packaging/render_icon.py [--size 256]``.

Uses Qt's SVG renderer (PySide6-Essentials ships QtSvg), offscreen, so it needs no display.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QImage, QPainter
from PySide6.QtSvg import QSvgRenderer

ICONS = Path(__file__).resolve().parents[1] / "resources" / "icons"


def render_icon(svg: Path, png: Path, size: int) -> None:
    """Draw ``svg`` antialiased on a transparent ``size``×``size`` image and save it as ``png``."""
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise ValueError(f"{svg}: not a valid SVG")
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter)
    painter.end()
    if not image.save(str(png), "PNG"):
        raise OSError(f"{png}: could not write the PNG")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    args = parser.parse_args()
    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])
    png = ICONS / "ptycho-gui.png"
    render_icon(ICONS / "ptycho-gui.svg", png, args.size)
    print(f"wrote {png} ({args.size}×{args.size}, Qt platform {app.platformName()})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
