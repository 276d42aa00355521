"""What the Compare dock compares against (Qt-free): the reference and how a canvas is scored against it.

A reference is the dataset's ``objectGuess``, a reopened ``reconstruction.h5`` or (A/B) a second checkpoint
run over the same scan with the same settings. ``CompareState`` holds the chosen reference and the last
comparison; the science is ``ptycho_gui.analysis.comparison`` (the dock only shows its result).
"""

from __future__ import annotations

from pathlib import Path

from ptycho_gui.analysis.comparison import Comparison
from ptycho_gui.analysis.reference import REFERENCE_KINDS, Reference, reconstruction_reference, truth_reference
from ptycho_gui.engine.run import InferenceRun
from ptycho_gui.export.comparison_figure import CompareFigure, compare_figure, metrics_rows
from ptycho_gui.io.checkpoints import open_checkpoint
from ptycho_gui.io.datasets import ScanDataset
from ptycho_gui.types import RunSettings

__all__ = ["REFERENCE_KINDS", "CompareFigure", "CompareState", "Reference", "checkpoint_reference", "compare_figure",
           "metrics_rows", "reconstruction_reference", "truth_reference"]


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
