"""What a reconstruction is compared against (Qt-free): the dataset's ``objectGuess``, a reopened
``reconstruction.h5`` or another reconstruction's canvas (A/B), and how a canvas is scored against it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ptycho_gui.analysis.comparison import Comparison, compare_canvases, compare_with_object
from ptycho_gui.io.datasets import ScanDataset
from ptycho_gui.io.reconstruction_file import open_reconstruction
from ptycho_gui.types import Canvas

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
