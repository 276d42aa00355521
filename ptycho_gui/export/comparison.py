"""Writing a comparison (the Compare dock's data): aligned reconstruction, reference, error maps, FRC and metrics."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ptycho_gui.analysis.comparison import Comparison
from ptycho_gui.export.atomic import atomic_path


def comparison_arrays(comparison: Comparison) -> dict[str, np.ndarray]:
    """Every array of a comparison, plus its metrics as JSON text (``metrics_json``)."""
    frc = comparison.frc
    return {
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


def write_comparison_npz(comparison: Comparison, destination: str | Path, overwrite: bool = False) -> Path:
    """The comparison's arrays and metrics as one NPZ, written atomically."""
    with atomic_path(destination, overwrite) as tmp:
        with open(tmp, "wb") as handle:
            np.savez(handle, **comparison_arrays(comparison))
    return Path(destination)
