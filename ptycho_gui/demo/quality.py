"""Score a reconstruction of the demo scan against its true object, through the app's own pipeline.

The checkpoint and dataset are opened with the app's loaders, run by the inference engine with its
default settings (every pattern a group, bridge normalization, ``position`` stitching, crop 20), and
the stitched amplitude is correlated with the true object amplitude over the covered pixels.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.ndimage import map_coordinates

from ptycho_gui.engine.run import InferenceRun
from ptycho_gui.engine.stitching import COVERED_WEIGHT
from ptycho_gui.io.checkpoints import open_checkpoint
from ptycho_gui.io.datasets import open_dataset
from ptycho_gui.types import Canvas, RunSettings


def reconstruct(checkpoint: Path, dataset: Path, settings: RunSettings = RunSettings()) -> tuple[Canvas, np.ndarray]:
    """The app's stitched reconstruction of ``dataset`` by ``checkpoint``, and the dataset's true object."""
    model = open_checkpoint(checkpoint)
    with open_dataset(dataset) as scan:
        canvas = InferenceRun(model, scan, settings).execute().canvas
        truth = scan.object_guess
    if truth is None:
        raise ValueError(f"{dataset} has no objectGuess to compare with")
    return canvas, truth


def object_under_canvas(canvas: Canvas, obj: np.ndarray) -> np.ndarray:
    """The object resampled (bilinear) on the canvas grid, using the canvas frame (contract §3.2)."""
    if canvas.mirrored:
        raise ValueError("a mirrored (ptychopinn-cli) canvas does not depict the object in place")
    rows, cols = np.mgrid[0 : canvas.image.shape[0], 0 : canvas.image.shape[1]].astype(np.float64)
    x = canvas.center_xy[0] + cols - canvas.image.shape[1] // 2
    y = canvas.center_xy[1] + rows - canvas.image.shape[0] // 2
    coords = np.stack([y.ravel(), x.ravel()])
    real = map_coordinates(obj.real.astype(np.float64), coords, order=1, mode="nearest")
    imag = map_coordinates(obj.imag.astype(np.float64), coords, order=1, mode="nearest")
    return (real + 1j * imag).reshape(canvas.image.shape)


def amplitude_correlation(canvas: Canvas, obj: np.ndarray) -> float:
    """Pearson correlation of reconstructed and true amplitude over the canvas's covered pixels."""
    covered = canvas.weight > COVERED_WEIGHT
    truth = np.abs(object_under_canvas(canvas, obj))[covered]
    return float(np.corrcoef(np.abs(canvas.image)[covered], truth)[0, 1])


def phase_correlation(canvas: Canvas, obj: np.ndarray) -> float:
    """Pearson correlation of reconstructed and true phase over covered pixels (global offset-free)."""
    covered = canvas.weight > COVERED_WEIGHT
    truth = object_under_canvas(canvas, obj)[covered]
    image = canvas.image[covered]
    aligned = image * np.exp(-1j * np.angle(np.vdot(truth, image)))
    return float(np.corrcoef(np.angle(aligned), np.angle(truth))[0, 1])
