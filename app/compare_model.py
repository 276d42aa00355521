"""What the Compare dock compares against (Qt-free): the reference and how a canvas is scored against it.

A reference is the dataset's ``objectGuess``, a reopened ``reconstruction.h5`` or (A/B) a second checkpoint
run over the same scan with the same settings. What is compared is the live run's canvas, or a saved
``reconstruction.h5`` pinned in its place (a sweep row). ``CompareState`` holds both choices and the last
comparison; the science is ``ptycho_gui.analysis.comparison`` (the dock only shows its result).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ptycho_gui.analysis.comparison import Comparison, compare_canvases, compare_with_object
from ptycho_gui.engine.run import InferenceRun
from ptycho_gui.errors import InvalidInputError
from ptycho_gui.io.checkpoints import open_checkpoint
from ptycho_gui.io.datasets import ScanDataset, open_dataset
from ptycho_gui.io.reconstruction_file import is_reconstruction_file, open_reconstruction
from ptycho_gui.types import Canvas, RunSettings

REFERENCE_KINDS = ("objectGuess", "reconstruction", "checkpoint")


@dataclass(frozen=True)
class Reference:
    """A reference image: a true object (object-pixel frame) or another reconstruction's canvas."""

    kind: str
    """One of ``REFERENCE_KINDS``."""
    label: str
    obj: np.ndarray | None = None
    canvas: Canvas | None = None
    pixel_size_m: float | None = None
    """The true object's pixel size when it was read from a dataset file (a saved subject's FRC in metres)."""

    def compare(self, canvas: Canvas, pixel_size_m: float | None = None) -> Comparison:
        """``canvas`` registered, aligned and scored against this reference."""
        if self.obj is not None:
            return compare_with_object(canvas, self.obj, pixel_size_m)
        return compare_canvases(canvas, self.canvas, pixel_size_m)


def truth_reference(dataset: ScanDataset) -> Reference | None:
    """The dataset's objectGuess as a reference, or None when it has none."""
    obj = dataset.object_guess
    if obj is None:
        return None
    return Reference("objectGuess", f"objectGuess of {dataset.path.name}", obj=np.asarray(obj))


def reconstruction_reference(path: str | Path) -> Reference:
    """A saved reconstruction.h5 as a reference (InvalidInputError naming the file when it is not one)."""
    saved = open_reconstruction(path)
    return Reference("reconstruction", f"{Path(path).parent.name}/{Path(path).name}", canvas=saved.canvas)


def truth_reference_of_file(path: str | Path) -> Reference:
    """A dataset file's objectGuess with its pixel size (InvalidInputError naming the file when it has none)."""
    with open_dataset(path) as dataset:
        reference = truth_reference(dataset)
        if reference is None:
            raise InvalidInputError(path, "has no objectGuess to compare with")
        return dataclasses.replace(reference, pixel_size_m=dataset.pixel_size_m)


def reference_of_file(path: str | Path) -> Reference:
    """A reconstruction.h5 or a dataset's objectGuess, as ``ptycho-inspect metrics --truth PATH`` reads it."""
    return reconstruction_reference(path) if is_reconstruction_file(path) else truth_reference_of_file(path)


@dataclass(frozen=True)
class SavedSubject:
    """A saved reconstruction compared in place of the live run (a sweep row)."""

    path: Path
    canvas: Canvas
    label: str


def saved_subject(path: str | Path) -> SavedSubject:
    """A reconstruction.h5 as the subject of the comparison (InvalidInputError naming the file when it is not one)."""
    saved = open_reconstruction(path)
    return SavedSubject(Path(path), saved.canvas, f"{Path(path).parent.name}/{Path(path).name}")


def checkpoint_reference(path: str | Path, dataset: ScanDataset, settings: RunSettings) -> Reference:
    """A second checkpoint run over the whole scan with the same settings (A/B); slow: run it off the GUI thread."""
    model = open_checkpoint(path)
    output = InferenceRun(model, dataset, settings).execute()
    return Reference("checkpoint", f"{model.identity()} on {dataset.path.name}", canvas=output.canvas)


class CompareState:
    """The chosen reference and the last comparison shown (the dock reads it; exports write it)."""

    def __init__(self) -> None:
        self.reference: Reference | None = None
        self.subject: SavedSubject | None = None
        """A saved reconstruction compared instead of the live run's canvas, or None for the live run."""
        self.comparison: Comparison | None = None
        self.compared_batches = 0
        """How many batches the canvas of ``comparison`` held."""

    def set_reference(self, reference: Reference | None) -> None:
        """Use a new reference; the old comparison no longer applies."""
        self.reference = reference
        self.comparison = None
        self.compared_batches = 0


@dataclass(frozen=True)
class CompareFigure:
    """The three pictures of the Compare dock for one display mode: reconstruction, reference, error.

    ``reconstruction`` and ``reference`` share ``levels`` (RGB (H, W, 3) uint8 in HSV mode, levels then
    apply to the amplitude); ``error`` is float with NaN outside the compared pixels, on ``error_levels``.
    """

    mode: str
    reconstruction: np.ndarray
    reference: np.ndarray
    levels: tuple[float, float]
    error: np.ndarray
    error_levels: tuple[float, float]
    error_label: str
    reconstruction_values: np.ndarray
    """(H, W) float32 scalar values of the reconstruction (amplitude in HSV mode), for ROI statistics and profiles."""
    reference_values: np.ndarray


def compare_figure(comparison: Comparison, mode: str, unwrap: bool = False,
                   levels: tuple[float, float] | None = None,
                   error_levels: tuple[float, float] | None = None) -> CompareFigure:
    """Pictures of a comparison in ``mode`` on one shared range (typed, or robust over the compared pixels)."""
    from ptycho_gui.render.complex_display import complex_quantity, complex_rgb, robust_levels

    mask = comparison.mask
    aligned, reference = comparison.aligned, comparison.reference
    scalar = "amplitude" if mode == "complex (HSV)" else mode
    recon_values = complex_quantity(aligned, scalar, mask, unwrap)
    ref_values = complex_quantity(reference, scalar, mask, unwrap)
    if levels is None:
        both = np.concatenate([recon_values[mask], ref_values[mask]])
        levels = robust_levels(both)
    if scalar == "amplitude":
        error, label = comparison.amplitude_error, "|reconstruction| − |reference|"
    elif scalar == "phase":
        error, label = comparison.phase_error, "wrapped phase difference (rad)"
    else:
        error = np.where(mask, recon_values - ref_values, np.nan).astype(np.float32)
        label = f"{scalar} difference"
    if error_levels is None:
        error_levels = robust_levels(error, mask, symmetric=True)
    recon_image, ref_image = recon_values, ref_values
    if mode == "complex (HSV)":
        recon_image, ref_image = complex_rgb(aligned, levels), complex_rgb(reference, levels)
    return CompareFigure(mode, recon_image, ref_image, levels, error, error_levels, label, recon_values, ref_values)


def metrics_rows(comparison: Comparison) -> list[tuple[str, str]]:
    """(name, value) lines of the metrics table, in the units of ``docs/metrics.md``."""
    a, p, f = comparison.amplitude, comparison.phase, comparison.frc

    def num(value: float | None, fmt: str) -> str:
        return "—" if value is None or not np.isfinite(value) else format(value, fmt)

    resolution = "not reached (agrees up to Nyquist)" if f.resolution_px is None or not np.isfinite(
        f.resolution_px) else f"{f.resolution_px:.2f} px"
    if f.resolution_m is not None and np.isfinite(f.resolution_m):
        resolution += f" ({f.resolution_m * 1e9:.1f} nm)"
    return [
        ("shift (x, y) px", f"{comparison.shift_xy[0]:+.2f}, {comparison.shift_xy[1]:+.2f}"),
        ("pixels compared", f"{comparison.pixels:,}"),
        ("amplitude scale", num(a.scale, ".4g")),
        ("amplitude RMSE", num(a.rmse, ".4g")),
        ("amplitude PSNR (dB)", num(a.psnr_db, ".2f")),
        ("amplitude SSIM", num(a.ssim, ".4f")),
        ("amplitude corr", num(a.corr, ".4f")),
        ("phase offset (rad)", num(p.offset_rad, "+.4f")),
        ("phase ramp x, y (rad/px)", f"{p.ramp_rad_per_px[0]:+.2e}, {p.ramp_rad_per_px[1]:+.2e}"),
        ("phase RMSE (rad)", num(p.rmse_rad, ".4f")),
        ("phase corr", num(p.corr, ".4f")),
        ("FRC half-bit resolution", resolution),
    ]
