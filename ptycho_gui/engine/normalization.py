"""Input normalization: the one scalar the diffraction amplitudes are multiplied by (contract §2.3).

PtychoPINN feeds ``X * sqrt(target / mean Σ_HW X²)`` with target (N/2)² for bundle ("bridge") models
and N² for memory-mapped ("mmap") training, a factor 2 apart (pitfall P2). The physics
``intensity_scale`` is never applied at inference (P3). The mean runs over exactly the patterns fed,
one entry per (group, channel), repeats included.
"""

from __future__ import annotations

import math

import numpy as np

from ptycho_gui.types import NORMALIZATION_CONVENTIONS

_TARGET_LABEL = {"bridge": "(N/2)²", "mmap": "N²"}


def pattern_energies(patterns: np.ndarray) -> np.ndarray:
    """Σ_HW X² of every pattern of a (..., H, W) stack, accumulated in float64."""
    patterns = np.asarray(patterns)
    return np.einsum("...hw,...hw->...", patterns, patterns, dtype=np.float64).ravel()


def target_energy(N: int, convention: str) -> float:
    """Mean per-pattern energy the network expects: (N/2)² for 'bridge', N² for 'mmap'."""
    if convention == "bridge":
        return (N / 2) ** 2
    if convention == "mmap":
        return float(N) ** 2
    raise ValueError(f"unknown normalization convention {convention!r}; expected one of {NORMALIZATION_CONVENTIONS}")


def _mean_energy(energies: np.ndarray) -> float:
    energies = np.asarray(energies, dtype=np.float64).ravel()
    if energies.size == 0:
        raise ValueError("cannot normalize: no patterns to compute the mean energy over")
    if not np.isfinite(energies).all():
        bad = int((~np.isfinite(energies)).sum())
        raise ValueError(f"cannot normalize: {bad} pattern energies are NaN or infinite")
    mean = float(energies.mean())
    if mean <= 0.0:
        raise ValueError("cannot normalize: the patterns are all zero (mean energy 0)")
    return mean


def input_scale(energies: np.ndarray, N: int, convention: str) -> float:
    """sqrt(target / mean energy) for the named convention over the given per-pattern energies."""
    return math.sqrt(target_energy(N, convention) / _mean_energy(energies))


def _parse_explicit_scale(spec: str) -> float:
    try:
        value = float(spec)
    except ValueError:
        raise ValueError(
            f"invalid normalization {spec!r}: use 'auto', 'bridge', 'mmap' or a positive number"
        ) from None
    if not math.isfinite(value) or value <= 0.0:
        raise ValueError(f"invalid normalization {spec!r}: an explicit input scale must be a positive finite number")
    return value


def resolve_input_scale(
    spec: str, checkpoint_convention: str, energies: np.ndarray | None, N: int
) -> tuple[float, str]:
    """Turn a user's normalization spec into (scale, human description of where it came from).

    ``spec`` is 'auto' (the checkpoint's convention), 'bridge', 'mmap', or a positive number as text
    (used as is; ``energies`` are then not needed and may be None).
    """
    if checkpoint_convention not in NORMALIZATION_CONVENTIONS:
        raise ValueError(
            f"unknown checkpoint convention {checkpoint_convention!r}; expected one of {NORMALIZATION_CONVENTIONS}"
        )
    text = str(spec).strip().lower()
    if text == "auto":
        convention, origin = checkpoint_convention, " (the checkpoint's convention)"
    elif text in NORMALIZATION_CONVENTIONS:
        convention, origin = text, ""
    else:
        value = _parse_explicit_scale(text)
        return value, f"explicit input scale {value:g}"
    if energies is None:
        raise ValueError(f"normalization {convention!r} needs the pattern energies")
    mean = _mean_energy(energies)
    target = target_energy(N, convention)
    value = math.sqrt(target / mean)
    count = np.asarray(energies).size
    description = (
        f"{convention}{origin}: target {_TARGET_LABEL[convention]} = {target:g}, "
        f"mean Σ X² = {mean:.6g} over {count} patterns → scale {value:.6g}"
    )
    return value, description
