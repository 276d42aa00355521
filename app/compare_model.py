"""What the Compare dock compares against (Qt-free): the reference and how a canvas is scored against it.

A reference is the dataset's ``objectGuess``, a reopened ``reconstruction.h5`` or (A/B) a second checkpoint
run over the same scan with the same settings. ``CompareState`` holds the chosen reference and the last
comparison; the science is ``ptycho_gui.analysis.comparison`` (the dock only shows its result).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ptycho_gui.analysis.comparison import Comparison, compare_canvases, compare_with_object
from ptycho_gui.engine.run import InferenceRun
from ptycho_gui.io.checkpoints import open_checkpoint
from ptycho_gui.io.datasets import ScanDataset
from ptycho_gui.io.reconstruction_file import open_reconstruction
from ptycho_gui.render.comparison_figure import CompareFigure, compare_figure, metrics_rows
from ptycho_gui.types import Canvas, RunSettings

REFERENCE_KINDS = ("objectGuess", "reconstruction", "checkpoint")
__all__ = ["REFERENCE_KINDS", "CompareFigure", "CompareState", "Reference", "checkpoint_reference", "compare_figure",
           "metrics_rows", "reconstruction_reference", "truth_reference"]


@dataclass(frozen=True)
class Reference:
    """A reference image: a true object (object-pixel frame) or another reconstruction's canvas."""

    kind: str
    """One of ``REFERENCE_KINDS``."""
    label: str
    obj: np.ndarray | None = None
    canvas: Canvas | None = None

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


def checkpoint_reference(path: str | Path, dataset: ScanDataset, settings: RunSettings) -> Reference:
    """A second checkpoint run over the whole scan with the same settings (A/B); slow: run it off the GUI thread."""
    model = open_checkpoint(path)
    output = InferenceRun(model, dataset, settings).execute()
    return Reference("checkpoint", f"{model.identity()} on {dataset.path.name}", canvas=output.canvas)


class CompareState:
    """The chosen reference and the last comparison shown (the dock reads it; exports write it)."""

    def __init__(self) -> None:
        self.reference: Reference | None = None
        self.comparison: Comparison | None = None
        self.compared_batches = 0
        """How many batches the canvas of ``comparison`` held."""

    def set_reference(self, reference: Reference | None) -> None:
        """Use a new reference; the old comparison no longer applies."""
        self.reference = reference
        self.comparison = None
        self.compared_batches = 0
