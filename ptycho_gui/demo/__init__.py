"""The built-in demo: a simulated scan with its true object and a network trained on it by this project.

The generated files live inside the package (``ptycho_gui/demo/data/``) so that they are found the
same way in an editable install and in an installed wheel; ``python -m ptycho_gui.demo build``
regenerates them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ptycho_gui.errors import InvalidInputError

DATA_DIR = Path(__file__).resolve().parent / "data"
CHECKPOINT_FILE = "wts.h5.zip"
DATASET_FILE = "demo_scan.npz"


def demo_paths() -> tuple[Path, Path]:
    """(checkpoint, dataset) of the shipped demo; InvalidInputError names a missing file."""
    checkpoint, dataset = DATA_DIR / CHECKPOINT_FILE, DATA_DIR / DATASET_FILE
    for path in (checkpoint, dataset):
        if not path.is_file():
            raise InvalidInputError(
                path, "the built-in demo file is missing (`python -m ptycho_gui.demo build` makes it)"
            )
    return checkpoint, dataset


def demo_object() -> np.ndarray:
    """The demo scan's true complex object ``(H, W)`` complex64 (its ``objectGuess``)."""
    with np.load(demo_paths()[1], allow_pickle=False) as data:
        return np.asarray(data["objectGuess"], dtype=np.complex64)
