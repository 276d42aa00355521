"""``ptycho-gui`` as a user runs it: a scripted run writes a screenshot and a latency report and quits."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from PySide6.QtGui import QImage


def _run_app(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, XDG_CONFIG_HOME=str(tmp_path / "config"))
    return subprocess.run([sys.executable, "-m", "ptycho_gui.app", *args], capture_output=True, text=True,
                          timeout=240, env=env)


def _pixels(image: QImage) -> np.ndarray:
    image = image.convertToFormat(QImage.Format.Format_RGB32)
    data = np.frombuffer(image.constBits(), dtype=np.uint8, count=image.sizeInBytes())
    return data.reshape(image.height(), image.bytesPerLine() // 4, 4)[:, : image.width(), :3]


def test_scripted_run_writes_screenshot_and_latency_report(tmp_path, bundle_path, dataset_path):
    shot, report = tmp_path / "shot.png", tmp_path / "latency.json"
    done = _run_app(tmp_path, str(bundle_path), str(dataset_path), "--run", "--screenshot", str(shot),
                    "--quit-when-done", "--ui-latency-report", str(report), "--n-groups", "48", "--batch-size", "16",
                    "--threads", "1",
                    "--device", "cpu")
    assert done.returncode == 0, done.stderr
    image = QImage(str(shot))
    assert (image.width(), image.height()) == (1600, 1000)
    pixels = _pixels(image)
    assert (pixels.sum(axis=2) < 40).mean() < 0.05, "screenshot is mostly black"
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 200, "screenshot looks blank"
    latency = json.loads(report.read_text())
    assert latency["count"] > 0 and latency["p50_ms"] <= latency["p99_ms"] <= latency["max_ms"]
    assert latency["batches_done"] == latency["batches"] == 3 and latency["state"] == "finished"
    assert latency["run_seconds"] > 0 and latency["torch_threads"] == 1
    assert latency["open_seconds"] > 0 and 0 < latency["first_patch_grid_seconds"] < latency["run_seconds"]
    assert (tmp_path / "config" / "ptycho-gui" / "ptycho-gui.conf").is_file()


def test_a_bad_file_on_the_command_line_exits_3_after_the_dialog(tmp_path):
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a dataset")
    done = _run_app(tmp_path, str(junk), "--run", "--quit-when-done")
    assert done.returncode == 3, done.stderr
