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


def _plane_design(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Columns 1, x, y (centred) of a least-squares plane fit over the given pixels."""
    return np.column_stack((np.ones_like(x), x - x.mean(), y - y.mean()))


def _without_plane(values: np.ndarray, design: np.ndarray) -> np.ndarray:
    """``values`` minus their least-squares plane."""
    return values - design @ np.linalg.lstsq(design, values, rcond=None)[0]


def phase_offset_and_ramp(image: np.ndarray, truth: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The least-squares plane ``a + b·x + c·y`` fitted to the phase of ``image`` relative to ``truth``, per pixel.

    The fit is on the wrapped difference ``angle(image·conj(truth))`` after removing its circular mean,
    refined once more, so a difference near ±π as a whole does not break it.
    """
    difference = image * np.conj(truth)
    design = _plane_design(x, y)
    plane = np.full(x.shape, np.angle(np.sum(difference)))
    for _ in range(2):
        residual = np.angle(difference * np.exp(-1j * plane))
        plane = plane + design @ np.linalg.lstsq(design, residual, rcond=None)[0]
    return plane


def phase_correlation(canvas: Canvas, obj: np.ndarray) -> float:
    """Pearson correlation of reconstructed and true phase over covered pixels, free of offset and linear ramp.

    The reconstruction is first aligned to the truth (``phase_offset_and_ramp``, which keeps wrapping
    out of the way); then the best plane is removed from both phases, so a ramp in the true object
    cannot lend the reconstruction a correlation it did not earn.
    """
    covered = canvas.weight > COVERED_WEIGHT
    truth = object_under_canvas(canvas, obj)[covered]
    rows, cols = np.nonzero(covered)
    x, y = cols.astype(np.float64), rows.astype(np.float64)
    image = canvas.image[covered].astype(np.complex128)
    aligned = np.angle(image * np.exp(-1j * phase_offset_and_ramp(image, truth, x, y)))
    design = _plane_design(x, y)
    return float(np.corrcoef(_without_plane(aligned, design), _without_plane(np.angle(truth), design))[0, 1])
