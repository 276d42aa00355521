"""Per-batch patch statistics (PtychoPINN ``PatchStatsLogger`` fields and more) and canvas statistics.

Amplitude statistics are over ``|patches|`` (contract §6.1): unbiased (N−1) ``global_std`` and
per-patch std as ``torch.std``; ``var_zero_mean`` removes each (group, channel) image's own mean.
Non-finite values are counted and left out of every statistic. Everything derives from per-image
float64 sums (count, Σa, Σa²) merged exactly, with no second pass and no Python loop over patches.
The per-image sums can be taken on the host (``image_moments``) or on the compute device
(``tensor_image_moments``); only that small (7, B, C) array crosses back to the host.
"""

from __future__ import annotations

import numpy as np
import torch

from ptycho_gui.engine.stitching import COVERED_WEIGHT, coverage_fraction
from ptycho_gui.types import BatchStats, Canvas


def _unbiased_std(count: np.ndarray, sq_dev: np.ndarray) -> np.ndarray:
    """sqrt(Σ(a − mean)² / (n − 1)); NaN where n < 2, as torch.std gives."""
    count = np.asarray(count, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 1, np.sqrt(np.maximum(sq_dev, 0.0) / (count - 1)), np.nan)


def _combine(
    count: np.ndarray, total: np.ndarray, sq_dev: np.ndarray, axis: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Merge per-part (count, sum, Σ squared deviation) into the whole along ``axis`` (Chan et al.)."""
    n = count.sum(axis=axis)
    s = total.sum(axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = s / n
        part_mean = total / count
        spread = np.where(count > 0, count * (part_mean - np.expand_dims(mean, axis)) ** 2, 0.0)
    return n, s, sq_dev.sum(axis=axis) + spread.sum(axis=axis)


MOMENT_ROWS = ("count", "amp_total", "amp_sq_dev", "amp_min", "amp_max", "phase_total", "phase_sq_dev")
"""Rows of a packed (7, B, C) per-image moment array: everything a batch's statistics derive from."""


def _image_moments(values: np.ndarray, finite: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-image (over the last two axes) count, sum and Σ squared deviation from the image mean."""
    if finite is None:
        count = np.full(values.shape[:-2], values.shape[-2] * values.shape[-1], dtype=np.float64)
        total = values.sum(axis=(-2, -1))
        sq = np.einsum("...hw,...hw->...", values, values)
    else:
        count = finite.sum(axis=(-2, -1)).astype(np.float64)
        masked = np.where(finite, values, 0.0)
        total = masked.sum(axis=(-2, -1))
        sq = np.einsum("...hw,...hw->...", masked, masked)
    with np.errstate(invalid="ignore", divide="ignore"):
        sq_dev = np.where(count > 0, sq - total * total / count, 0.0)
    return count, total, np.maximum(sq_dev, 0.0)


def _image_extremes(values: np.ndarray, finite: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Per-image min and max of the finite values; +inf / -inf for an image with none."""
    axes = (-2, -1)
    if finite is None:
        return values.min(axis=axes), values.max(axis=axes)
    return values.min(axis=axes, where=finite, initial=np.inf), values.max(axis=axes, where=finite, initial=-np.inf)


def image_moments(patches: np.ndarray) -> np.ndarray:
    """Packed (7, B, C) float64 per-image moments (rows ``MOMENT_ROWS``) of complex (B, C, N, N) patches."""
    finite_mask = np.isfinite(patches)
    finite = None if finite_mask.all() else finite_mask
    amp = np.abs(patches).astype(np.float64)
    phase = np.angle(patches).astype(np.float64)
    count, total, sq_dev = _image_moments(amp, finite)
    low, high = _image_extremes(amp, finite)
    _, ph_total, ph_sq = _image_moments(phase, finite)
    return np.stack([count, total, sq_dev, low, high, ph_total, ph_sq])


def tensor_image_moments(patches: torch.Tensor) -> torch.Tensor:
    """``image_moments`` computed where the tensor lives (the compute device), for a small copy back.

    Sums are float64 except on MPS, which has no float64 (float32 there).
    """
    acc = torch.float32 if patches.device.type == "mps" else torch.float64
    finite = torch.isfinite(patches)
    count = finite.sum(dim=(-2, -1)).to(acc)
    amp = torch.where(finite, patches.abs().to(acc), 0.0)
    phase = torch.where(finite, patches.angle().to(acc), 0.0)
    total, sq_dev = _tensor_sums(amp, count)
    ph_total, ph_sq = _tensor_sums(phase, count)
    low = torch.where(finite, amp, torch.inf).amin(dim=(-2, -1))
    high = torch.where(finite, amp, -torch.inf).amax(dim=(-2, -1))
    return torch.stack([count, total, sq_dev, low, high, ph_total, ph_sq])


def _tensor_sums(values: torch.Tensor, count: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-image Σa and Σ squared deviation from the image mean (zero-filled where not finite)."""
    total = values.sum(dim=(-2, -1))
    sq = (values * values).sum(dim=(-2, -1))
    sq_dev = torch.where(count > 0, sq - total * total / count.clamp(min=1), 0.0)
    return total, sq_dev.clamp(min=0.0)


def _mean(count: float, total: float) -> float:
    return float(total / count) if count > 0 else float("nan")


def batch_statistics(patches: np.ndarray, input_scale: float) -> BatchStats:
    """Statistics of one batch of complex (B, C, N, N) patches (amplitude, phase, sanity)."""
    patches = np.asarray(patches)
    if patches.ndim != 4:
        raise ValueError(f"patches must be (B, C, N, N), got shape {patches.shape}")
    return statistics_from_moments(image_moments(patches), patches.shape[-2] * patches.shape[-1], input_scale)


def statistics_from_moments(
    moments: np.ndarray, pixels_per_image: int, input_scale: float, precision_error: float = 0.0
) -> BatchStats:
    """The BatchStats of a batch from its packed (7, B, C) per-image moments (host or device computed)."""
    count, total, sq_dev, low, high, ph_total, ph_sq = np.asarray(moments, dtype=np.float64)
    nonfinite = int(np.rint(count.size * pixels_per_image - count.sum()))
    with np.errstate(invalid="ignore", divide="ignore"):
        var_zero_mean = float(sq_dev.sum() / count.sum()) if count.sum() > 0 else float("nan")
    patch_count, patch_total, patch_sq = _combine(count, total, sq_dev, axis=1)
    all_count, all_total, all_sq = _combine(patch_count, patch_total, patch_sq, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_patch_mean = patch_total / patch_count
    empty = patch_count == 0
    per_patch_min = np.where(empty, np.nan, low.min(axis=1, initial=np.inf))
    per_patch_max = np.where(empty, np.nan, high.max(axis=1, initial=-np.inf))
    ph_all_count, ph_all_total, ph_all_sq = _combine(count.ravel(), ph_total.ravel(), ph_sq.ravel(), axis=0)

    return BatchStats(
        global_mean=_mean(all_count, all_total),
        global_std=float(_unbiased_std(all_count, all_sq)),
        var_zero_mean=var_zero_mean,
        amp_min=float(np.nanmin(per_patch_min)) if np.isfinite(per_patch_min).any() else float("nan"),
        amp_max=float(np.nanmax(per_patch_max)) if np.isfinite(per_patch_max).any() else float("nan"),
        phase_mean=_mean(ph_all_count, ph_all_total),
        phase_std=float(_unbiased_std(ph_all_count, ph_all_sq)),
        nonfinite=nonfinite,
        input_scale=float(input_scale),
        per_patch_mean=per_patch_mean,
        per_patch_std=_unbiased_std(patch_count, patch_sq),
        per_patch_min=per_patch_min,
        per_patch_max=per_patch_max,
        precision_error=float(precision_error),
    )


def per_batch_means(values: np.ndarray, batch_size: int) -> np.ndarray:
    """(n_batches,) mean of the finite per-group values (G, ...) of each batch of ``batch_size`` groups; NaN if none."""
    values = np.asarray(values, dtype=np.float64)
    n_groups = values.shape[0]
    flat = values.reshape(n_groups, -1)
    n_batches = -(-n_groups // batch_size)
    batch = np.arange(n_groups) // batch_size
    finite = np.isfinite(flat)
    total = np.bincount(batch, np.where(finite, flat, 0.0).sum(axis=1), n_batches)
    count = np.bincount(batch, finite.sum(axis=1), n_batches)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / count, np.nan)


def _summary(values: np.ndarray) -> dict[str, float]:
    """mean, population std, min, max (NumPy conventions, as PtychoPINN's stats.json)."""
    if values.size == 0:
        return {"mean": float("nan"), "std": float("nan"), "min": float("nan"), "max": float("nan")}
    values = values.astype(np.float64)
    return {
        "mean": float(values.mean()),
        "std": float(values.std()),
        "min": float(values.min()),
        "max": float(values.max()),
    }


def canvas_statistics(canvas: Canvas) -> dict:
    """Amplitude over the whole canvas (zeros included, as stats.json) and over covered pixels, and more."""
    amplitude = np.abs(canvas.image)
    covered = canvas.weight > COVERED_WEIGHT
    phase = np.angle(canvas.image[covered]).astype(np.float64)
    return {
        "canvas_amplitude": _summary(amplitude),
        "covered_amplitude": _summary(amplitude[covered]),
        "covered_phase": {
            "mean": float(phase.mean()) if phase.size else float("nan"),
            "std": float(phase.std()) if phase.size else float("nan"),
        },
        "coverage_fraction": coverage_fraction(canvas),
        "shape": [int(s) for s in canvas.image.shape],
        "center_xy": [float(c) for c in canvas.center_xy],
        "stitch": canvas.stitch,
        "crop": int(canvas.crop),
        "mirrored": bool(canvas.mirrored),
    }


class StatsHistory:
    """Per-batch scalar statistics stored by batch index; batches not (yet) computed read as NaN."""

    def __init__(self, n_batches: int):
        self.n_batches = int(n_batches)
        self._values = {name: np.full(self.n_batches, np.nan) for name in BatchStats.scalar_names()}
        self._recorded = np.zeros(self.n_batches, dtype=bool)

    def record(self, index: int, stats: BatchStats) -> None:
        """Store one batch's scalars at its index (a later record for the same index replaces it)."""
        if not 0 <= index < self.n_batches:
            raise IndexError(f"batch index {index} outside [0, {self.n_batches})")
        for name, value in stats.scalars().items():
            self._values[name][index] = value
        self._recorded[index] = True

    @property
    def recorded(self) -> np.ndarray:
        """(n_batches,) bool: which batches have statistics."""
        return self._recorded.copy()

    def as_arrays(self) -> dict[str, np.ndarray]:
        """One (n_batches,) float64 array per scalar name, NaN where not recorded."""
        return {name: values.copy() for name, values in self._values.items()}


def patch_stats_logger_entry(stats: BatchStats, batch_idx: int, batch_size: int, phase: str = "inference") -> dict:
    """One entry in PtychoPINN ``PatchStatsLogger`` JSON format, with every patch in ``per_patch``."""
    per_patch = [
        {"mean": float(mean), "std": float(std), "min": float(low), "max": float(high)}
        for mean, std, low, high in zip(
            stats.per_patch_mean, stats.per_patch_std, stats.per_patch_min, stats.per_patch_max
        )
    ]
    return {
        "phase": phase,
        "batch_idx": int(batch_idx),
        "batch_size": int(batch_size),
        "global_mean": float(stats.global_mean),
        "global_std": float(stats.global_std),
        "var_zero_mean": float(stats.var_zero_mean),
        "per_patch": per_patch,
    }
