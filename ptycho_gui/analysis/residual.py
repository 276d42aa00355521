"""The physics residual: each patch's predicted far-field amplitude beside the measured amplitude the network saw.

Measured = the dataset's diffraction amplitudes × the run's input scale (the normalized network input).
Predicted = ``forward_model.predicted_amplitude`` of the patch under the probe (the checkpoint's when
it stores one, else the dataset's ``probeGuess``). The scale the model's physics used (probe scale,
output scale, intensity scale) is not recorded in inference checkpoints, so **one scalar per run** is
fitted by least squares, ``s = Σ pred·meas / Σ pred²`` over every pattern of the run, and reported.
Per pattern, NMSE = ``Σ(s·pred − meas)² / Σ meas²``. Keeping the three per-pattern sums
(Σpred², Σpred·meas, Σmeas²) makes the NMSE exact for any scale, so a streaming run re-scores every
pattern with the final run scale at the end.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ptycho_gui.analysis.forward_model import (
    extract_channels,
    far_field_amplitude,
    padded_size,
    predicted_amplitude,
    relative_offsets,
)
from ptycho_gui.errors import IncompatibleInputsError


@dataclass(frozen=True)
class PhysicsModel:
    """What the forward model needs besides the patches: probe, merging and its provenance."""

    probe: np.ndarray
    """(N, N) complex64."""
    probe_source: str
    object_big: bool
    gridsize: int
    weighting: str = "central_mask"

    def predict(self, patches: np.ndarray, positions: np.ndarray) -> np.ndarray:
        """Unscaled predicted amplitude (B, C, N, N) float32 of (B, C, N, N) patches at (B, C, 2) positions."""
        n = patches.shape[-1]
        return predicted_amplitude(patches, self.probe, positions, self.object_big,
                                   padded_size(n, self.gridsize), self.weighting)

    def predict_merged(self, merged: np.ndarray, member_positions: np.ndarray) -> np.ndarray:
        """Unscaled predicted amplitude (B, C, N, N) of a group-merging network's (B, 1, N, N) merged patches:
        each member's patch is cut from its group's merged patch at the member's offset (contract §2.5 step 2)."""
        n = merged.shape[-1]
        channels = extract_channels(merged[:, 0], relative_offsets(member_positions), n)
        return far_field_amplitude(channels * self.probe)

    def predict_batch(self, run, result) -> np.ndarray:
        """Unscaled predicted amplitude (B, C, N, N) of one computed batch of ``run`` (an InferenceRun)."""
        if run.model.merges_groups:
            return self.predict_merged(result.patches, run.member_positions[result.group_indices])
        return self.predict(result.patches, result.positions)


def physics_model_for(model, dataset) -> PhysicsModel:
    """The forward model of a LoadedModel on a ScanDataset (the checkpoint's probe if any, else probeGuess)."""
    stored = getattr(model, "probe", None)
    if stored is not None:
        probe, source = np.asarray(stored, dtype=np.complex64), f"checkpoint {model.path.name}"
    elif dataset.probe is not None:
        probe, source = dataset.probe, f"probeGuess of {dataset.path.name}"
    else:
        raise IncompatibleInputsError(
            f"no probe for the physics residual: checkpoint {model.path.name} stores none and dataset "
            f"{dataset.path.name} has no probeGuess"
        )
    if "object_big" not in model.config:
        raise IncompatibleInputsError(f"checkpoint {model.path.name} does not say whether its object is 'big'")
    return PhysicsModel(probe, source, bool(model.config["object_big"]), int(model.gridsize))


def residual_sums(predicted: np.ndarray, measured: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-pattern (Σpred², Σpred·meas, Σmeas²) over the last two axes, float64."""
    p = np.asarray(predicted, dtype=np.float64)
    m = np.asarray(measured, dtype=np.float64)
    return (np.einsum("...hw,...hw->...", p, p), np.einsum("...hw,...hw->...", p, m),
            np.einsum("...hw,...hw->...", m, m))


def fit_scale(pred_sq: np.ndarray, cross: np.ndarray) -> float:
    """Least-squares scalar s minimising Σ(s·pred − meas)² over every finite pattern given."""
    finite = np.isfinite(pred_sq) & np.isfinite(cross)
    total = float(pred_sq[finite].sum())
    return float(cross[finite].sum()) / total if total > 0 else float("nan")


def nmse_from_sums(pred_sq: np.ndarray, cross: np.ndarray, meas_sq: np.ndarray, scale: float) -> np.ndarray:
    """Σ(s·pred − meas)² / Σmeas² per pattern from the three sums (NaN where Σmeas² = 0)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        error = scale * scale * pred_sq - 2.0 * scale * cross + meas_sq
        return np.where(meas_sq > 0, np.maximum(error, 0.0) / meas_sq, np.nan)


@dataclass(frozen=True)
class DiffractionResidual:
    """One batch's predicted and measured amplitudes in the units compared, and their agreement."""

    predicted: np.ndarray
    """(B, C, N, N) float32: scale × forward model."""
    measured: np.ndarray
    """(B, C, N, N) float32: diffraction amplitude × input scale (what the network saw)."""
    nmse: np.ndarray
    """(B, C) float64 per-pattern Σ(pred − meas)² / Σ meas²."""
    scale: float
    scale_fitted: bool
    """True when ``scale`` was fitted (always, unless a known scale was given)."""

    @property
    def residual(self) -> np.ndarray:
        """(B, C, N, N) float32 predicted − measured."""
        return self.predicted - self.measured


def diffraction_residual(raw_predicted: np.ndarray, measured: np.ndarray, scale: float | None = None) -> DiffractionResidual:
    """Score one batch; ``scale`` None fits it on this batch alone."""
    pred_sq, cross, meas_sq = residual_sums(raw_predicted, measured)
    fitted = scale is None
    value = fit_scale(pred_sq, cross) if fitted else float(scale)
    return DiffractionResidual(
        predicted=(np.asarray(raw_predicted, dtype=np.float32) * np.float32(value)),
        measured=np.asarray(measured, dtype=np.float32),
        nmse=nmse_from_sums(pred_sq, cross, meas_sq, value),
        scale=value,
        scale_fitted=fitted,
    )


class ResidualAccumulator:
    """Per-pattern residual sums of a run, filled batch by batch; the run scale and NMSE follow exactly."""

    def __init__(self, n_groups: int, C: int):
        self._sums = np.full((3, n_groups, C), np.nan)

    def add(self, group_indices: np.ndarray, raw_predicted: np.ndarray, measured: np.ndarray) -> np.ndarray:
        """Record one batch; return its (B, C) NMSE under the run scale fitted so far."""
        sums = residual_sums(raw_predicted, measured)
        for k in range(3):
            self._sums[k][np.asarray(group_indices)] = sums[k]
        return nmse_from_sums(*sums, self.scale)

    @property
    def scale(self) -> float:
        """The run scale fitted over every pattern recorded so far."""
        return fit_scale(self._sums[0], self._sums[1])

    def nmse(self) -> np.ndarray:
        """(G, C) per-pattern NMSE under the current run scale; NaN for groups not recorded."""
        return nmse_from_sums(*self._sums, self.scale)
