"""Watching a run's outputs for NaN/inf: a network whose weights are out of range is reported, not hidden.

``FiniteOutputMonitor.add`` counts patches holding any non-finite value. When the first batch seen is
non-finite in every patch, the checkpoint is at fault (e.g. weights scaled by 1e30) and the run is
refused at once, naming the file; otherwise ``warning()`` reports how many patches went bad.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ptycho_gui.errors import InvalidInputError
from ptycho_gui.types import BatchResult


class FiniteOutputMonitor:
    """Counts non-finite patches over a run; refuses a checkpoint whose first batch is all non-finite."""

    def __init__(self, checkpoint: Path):
        self.checkpoint = checkpoint
        self.patches = 0
        self.nonfinite = 0

    def add(self, result: BatchResult) -> None:
        """Fold one batch in (raises InvalidInputError when the first batch is entirely NaN/inf)."""
        patches = result.patches.reshape(-1, *result.patches.shape[-2:])
        bad = int(np.count_nonzero(~np.isfinite(patches).all(axis=(-2, -1))))
        first = self.patches == 0
        self.patches += len(patches)
        self.nonfinite += bad
        if first and bad == len(patches) and bad:
            raise InvalidInputError(
                self.checkpoint,
                f"the network's output is NaN or infinite for every patch of batch {result.index} "
                "(weights out of range?); nothing written",
            )

    def warning(self) -> str | None:
        """A one-line report when some patches were non-finite, else None."""
        if not self.nonfinite:
            return None
        return (f"{self.nonfinite} of {self.patches} patches hold NaN or infinite values "
                f"(checkpoint {self.checkpoint.name}); their JSON statistics are written as null")
