"""Writing what the Compare and Diffraction docks show as data: the comparison's aligned reconstruction,
reference, error maps, FRC and metrics plus the pictures drawn and their levels; one pattern's log amplitudes,
residual and levels. NPZ or HDF5 (datasets by name, metrics as a JSON attribute), written atomically.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from ptycho_gui.analysis.comparison import Comparison
from ptycho_gui.export.atomic import atomic_path
from ptycho_gui.export.comparison_figure import CompareFigure

JSON_KEYS = ("metrics_json", "display_json")
"""Text members of an array set: NPZ keeps them as 0-d string arrays, HDF5 as file attributes."""


@dataclass(frozen=True)
class ComparisonView:
    """A comparison as shown: its result, the pictures drawn (mode, levels) and what it was compared with."""

    comparison: Comparison
    pictures: CompareFigure
    reference_label: str
    note: str = ""
    """One line more for the figure's title block (e.g. how many batches the canvas held)."""


def comparison_arrays(comparison: Comparison, pictures: CompareFigure | None = None) -> dict[str, np.ndarray]:
    """Every array of a comparison and its metrics as JSON text; with ``pictures``, also what the dock draws.

    ``reconstruction_shown`` and ``reference_shown`` are the drawn values (float32, or (H, W, 3) uint8 in HSV
    mode) on ``levels``; ``error_shown`` the drawn error (NaN outside the compared pixels) on ``error_levels``.
    """
    frc = comparison.frc
    arrays = {
        "aligned": comparison.aligned.astype(np.complex64),
        "reference": comparison.reference.astype(np.complex64),
        "amplitude_error": comparison.amplitude_error.astype(np.float32),
        "phase_error": comparison.phase_error.astype(np.float32),
        "mask": comparison.mask.astype(bool),
        "frc_frequency": np.asarray(frc.frequency, dtype=np.float64),
        "frc_curve": np.asarray(frc.curve, dtype=np.float64),
        "frc_half_bit": np.asarray(frc.half_bit, dtype=np.float64),
        "metrics_json": np.array(comparison.to_json()),
    }
    if pictures is not None:
        arrays.update({
            "reconstruction_shown": pictures.reconstruction,
            "reference_shown": pictures.reference,
            "reconstruction_values": pictures.reconstruction_values.astype(np.float32),
            "reference_values": pictures.reference_values.astype(np.float32),
            "levels": np.asarray(pictures.levels, dtype=np.float64),
            "error_shown": pictures.error.astype(np.float32),
            "error_levels": np.asarray(pictures.error_levels, dtype=np.float64),
            "display_json": np.array(json.dumps({"mode": pictures.mode, "error_label": pictures.error_label})),
        })
    return arrays


def write_arrays(arrays: dict[str, np.ndarray], destination: str | Path, fmt: str, overwrite: bool = False) -> Path:
    """Named arrays as 'npz' (uncompressed, no pickles) or 'h5' (one dataset each; JSON text as attributes)."""
    with atomic_path(destination, overwrite) as tmp:
        if fmt == "npz":
            with open(tmp, "wb") as handle:
                np.savez(handle, **arrays)
        elif fmt == "h5":
            with h5py.File(tmp, "w") as file:
                for name, values in arrays.items():
                    if name in JSON_KEYS:
                        file.attrs[name] = str(values)
                    else:
                        file.create_dataset(name, data=values)
        else:
            raise ValueError(f"unknown data format {fmt!r}; choose npz or h5")
    return Path(destination)


def write_comparison_npz(comparison: Comparison, destination: str | Path, overwrite: bool = False,
                         pictures: CompareFigure | None = None) -> Path:
    """The comparison's arrays and metrics (and the pictures drawn, when given) as one NPZ, written atomically."""
    return write_arrays(comparison_arrays(comparison, pictures), destination, "npz", overwrite)
