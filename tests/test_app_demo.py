"""The first minute: `ptycho-gui` with no files opens the built-in demo, and its canvas resembles the object."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from app_harness import run_to_end
from PySide6.QtGui import QImage

from ptycho_gui.demo import demo_object
from ptycho_gui.demo.quality import amplitude_correlation
from ptycho_gui.types import RunSettings


def test_no_files_opens_the_demo_and_the_scripted_run_writes_a_screenshot(tmp_path: Path):
    """The first command of the README, run on 64 of the demo's groups (the whole demo runs in the test below)."""
    shot = tmp_path / "demo.png"
    env = dict(os.environ, XDG_CONFIG_HOME=str(tmp_path / "config"))
    done = subprocess.run([sys.executable, "-m", "ptycho_gui.app", "--run", "--screenshot", str(shot),
                           "--quit-when-done", "--threads", "1", "--n-groups", "64", "--batch-size", "32"],
                          capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr
    image = QImage(str(shot))
    assert not image.isNull() and image.width() >= 800


def test_demo_window_is_titled_as_demo_and_its_canvas_and_drawn_canvas_resemble_the_object(qtbot, make_window):
    """One demo run (every scan position in one batch) checks the title, the canvas and the drawn canvas."""
    from ptycho_gui.demo.quality import object_under_canvas
    from ptycho_gui.engine.stitching import COVERED_WEIGHT

    window = make_window(RunSettings(device="cpu", batch_size=64, num_threads=1))  # every scan position
    assert window.open_demo()
    assert "demo" in window.windowTitle().lower()
    window.session.set_canvas_colormap("gray")
    run_to_end(qtbot, window)
    canvas = window.session.canvas
    assert amplitude_correlation(canvas, demo_object()) >= 0.8
    shown = window.session.canvas_image()
    np.testing.assert_allclose(shown.image[canvas.weight > 0], np.abs(canvas.image)[canvas.weight > 0], rtol=1e-6)

    item = window.views["canvas"].plot.image
    item.render()
    drawn = item.qimage.convertToFormat(QImage.Format.Format_Grayscale8)
    pixels = np.frombuffer(drawn.constBits(), np.uint8, drawn.sizeInBytes()).reshape(drawn.height(), -1)
    pixels = pixels[:, : drawn.width()].astype(float)
    assert pixels.shape == canvas.image.shape
    covered = canvas.weight > COVERED_WEIGHT
    truth = np.abs(object_under_canvas(canvas, demo_object()))
    assert np.corrcoef(pixels[covered], truth[covered])[0, 1] >= 0.8
