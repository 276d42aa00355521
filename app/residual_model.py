"""The physics residual of a GUI run (Qt-free): per-pattern sums filled batch by batch, the selected group's maps,
the per-batch curve and the worst groups.

The science is ``ptycho_gui.analysis.residual`` (forward model, run-wide fitted scale, NMSE) and
``analysis.groups`` (rankings); this model only keeps them for the Diffraction dock and the Statistics curve.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ptycho_gui.analysis.comparison import Comparison
from ptycho_gui.analysis.groups import group_errors, group_residuals, worst_groups
from ptycho_gui.analysis.residual import (
    DiffractionResidual,
    PhysicsModel,
    ResidualAccumulator,
    diffraction_residual,
    physics_model_for,
)
from ptycho_gui.engine.run import InferenceRun
from ptycho_gui.errors import IncompatibleInputsError
from ptycho_gui.export.diffraction_figure import LOG_FLOOR, log_amplitude
from ptycho_gui.types import Canvas

__all__ = ["LOG_FLOOR", "RANKINGS", "GroupDiffraction", "ResidualTracker", "log_amplitude", "unavailable_reason"]

RANKINGS = ("residual", "amplitude error", "phase error")
"""What the worst-groups list ranks by (the errors need a comparison with a reference)."""


@dataclass(frozen=True)
class GroupDiffraction:
    """One group's measured and predicted amplitudes (B = 1) and their residual, in the units compared."""

    group: int
    residual: DiffractionResidual


def unavailable_reason(run: InferenceRun) -> tuple[PhysicsModel | None, str | None]:
    """(physics model, None) when the residual can be computed for this run, else (None, why not)."""
    model = run.model
    if model.output_channels != model.C:
        return None, (f"The physics residual is not available for this model: it merges each group's {model.C} "
                      f"patterns into {model.output_channels} output patch, so no patch predicts one pattern.")
    try:
        return physics_model_for(model, run.dataset), None
    except IncompatibleInputsError as exc:
        return None, f"The physics residual is not available: {exc}"


class ResidualTracker:
    """Residual sums of every computed pattern of one run; the run scale is fitted over all of them."""

    def __init__(self, run: InferenceRun):
        self.run = run
        self.physics, self.reason = unavailable_reason(run)
        self.accumulator = ResidualAccumulator(run.n_groups, run.model.C) if self.physics is not None else None
        self.batches: set[int] = set()

    @property
    def available(self) -> bool:
        return self.physics is not None

    def add_batch(self, index: int, group_indices: np.ndarray, patches: np.ndarray, positions: np.ndarray) -> int:
        """Forward-model one computed batch and record its sums (runs on the background thread); returns ``index``."""
        measured = self.run.read_inputs(group_indices) * self.run.input_scale
        self.accumulator.add(group_indices, self.physics.predict(patches, positions), measured)
        self.batches.add(index)
        return index

    @property
    def scale(self) -> float:
        return self.accumulator.scale if self.accumulator is not None else float("nan")

    def nmse(self) -> np.ndarray:
        """(G, C) NMSE under the run scale so far (NaN where not computed)."""
        return self.accumulator.nmse()

    def batch_curve(self) -> tuple[np.ndarray, np.ndarray]:
        """(batch indices, mean NMSE of each) for every batch recorded, under the current run scale."""
        nmse = self.nmse()
        done = np.array(sorted(self.batches), dtype=np.int64)
        means = np.array([np.nanmean(nmse[self.run.batch_group_indices(i)]) for i in done], dtype=np.float64)
        return done, means

    def group(self, group: int, patches: np.ndarray) -> GroupDiffraction:
        """The measured, predicted and residual maps of one group whose (1, C, N, N) patches are given."""
        indices = np.array([group])
        measured = self.run.read_inputs(indices) * self.run.input_scale
        raw = self.physics.predict(patches, self.run.positions[indices])
        scale = self.scale
        if not np.isfinite(scale):
            return GroupDiffraction(group, diffraction_residual(raw, measured))
        return GroupDiffraction(group, replace(diffraction_residual(raw, measured, scale), scale_fitted=True))

    def worst(self, by: str, count: int = 10, comparison: Comparison | None = None, canvas: Canvas | None = None,
              crop: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(group indices, scores) of the ``count`` worst groups by ``by`` (one of ``RANKINGS``)."""
        if by == "residual":
            if self.accumulator is None:
                return np.zeros(0, dtype=np.int64), np.zeros(0)
            scores = group_residuals(self.nmse())
        elif comparison is None or canvas is None or crop is None:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        else:
            errors = group_errors(comparison, canvas, self.run.positions, crop)
            scores = errors.amplitude_rmse if by == "amplitude error" else errors.phase_rmse
        order = worst_groups(scores, count)
        return order, scores[order]
