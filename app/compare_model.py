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

from ptycho_gui.analysis.comparison import Comparison
from ptycho_gui.analysis.reference import REFERENCE_KINDS, Reference, reconstruction_reference, truth_reference
from ptycho_gui.engine.run import InferenceRun
from ptycho_gui.errors import InvalidInputError
from ptycho_gui.export.comparison_figure import CompareFigure, compare_figure, metrics_rows
from ptycho_gui.io.checkpoints import open_checkpoint
from ptycho_gui.io.datasets import ScanDataset, open_dataset
from ptycho_gui.io.reconstruction_file import is_reconstruction_file, open_reconstruction
from ptycho_gui.types import Canvas, RunSettings

__all__ = ["REFERENCE_KINDS", "CompareFigure", "CompareState", "Reference", "SavedSubject", "checkpoint_reference",
           "compare_figure", "metrics_rows", "reconstruction_reference", "reference_of_file", "saved_subject",
           "truth_reference", "truth_reference_of_file"]


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
