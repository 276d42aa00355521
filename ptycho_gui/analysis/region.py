"""Statistics of the pixels inside a region of interest (the ROI tools of the views show them)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class RegionStats:
    """Mean, standard deviation, min and max of the finite pixels of a region, and how many there are."""

    mean: float
    std: float
    minimum: float
    maximum: float
    area: int
    """Finite pixels counted (pixels outside the image or NaN — not compared — are left out)."""

    def describe(self) -> str:
        """One line for a status label."""
        return (f"mean {self.mean:.5g} · std {self.std:.4g} · min {self.minimum:.5g} · max {self.maximum:.5g} · "
                f"area {self.area} px")


def region_stats(values: np.ndarray, mask: np.ndarray | None = None) -> RegionStats:
    """Stats of the finite ``values`` (inside ``mask`` when given); NaN stats for an empty region."""
    data = np.asarray(values, dtype=np.float64)
    if mask is not None:
        data = data[np.asarray(mask, dtype=bool)]
    data = data[np.isfinite(data)]
    if data.size == 0:
        return RegionStats(math.nan, math.nan, math.nan, math.nan, 0)
    return RegionStats(float(data.mean()), float(data.std()), float(data.min()), float(data.max()), int(data.size))
