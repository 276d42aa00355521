"""How numbers become colours in every exported figure: quantity, colormap, levels, exact RGB.

``colorize`` is the single data → pixel mapping of exports: tests compare decoded files against it
and the figures draw exactly its output (nearest-neighbour, integer enlargement, no resampling).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, replace

import matplotlib
import numpy as np

QUANTITIES: tuple[str, ...] = ("amplitude", "phase", "real", "imaginary")
"""Displayed quantities of a complex patch or canvas."""

QUANTITY_LABELS: dict[str, str] = {
    "amplitude": "amplitude",
    "phase": "phase (rad)",
    "real": "real part",
    "imaginary": "imaginary part",
}

DEFAULT_COLORMAPS: dict[str, str] = {
    "amplitude": "viridis",
    "phase": "twilight",
    "real": "cividis",
    "imaginary": "cividis",
}

PHASE_LEVELS: tuple[float, float] = (-math.pi, math.pi)
AUTO_PERCENTILES: tuple[float, float] = (0.5, 99.5)
LEVEL_SAMPLES = 65536
LUT_SIZE = 256
TILE_LEVELS: tuple[float, float] = (0.0, 1.0)
"""The shared levels of a per-tile style: every tile spans the colormap from its min to its max."""


def quantity_of(values: np.ndarray, quantity: str, keep_nonfinite: bool = False) -> np.ndarray:
    """The float32 quantity of a complex array; non-finite values become 0 unless ``keep_nonfinite``."""
    if quantity == "amplitude":
        out = np.abs(values)
    elif quantity == "phase":
        out = np.angle(values)
    elif quantity == "real":
        out = np.real(values)
    elif quantity == "imaginary":
        out = np.imag(values)
    else:
        raise ValueError(f"unknown quantity {quantity!r}; choose one of {', '.join(QUANTITIES)}")
    if keep_nonfinite:
        return np.asarray(out, dtype=np.float32)
    return np.nan_to_num(np.asarray(out, dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0)


def auto_levels(values: np.ndarray, quantity: str, mask: np.ndarray | None = None) -> tuple[float, float]:
    """Robust (0.5–99.5 percentile) levels of displayed ``values``; ±π for phase; never an empty span."""
    if quantity == "phase":
        return PHASE_LEVELS
    data = values[mask] if mask is not None else np.ravel(values)
    if data.size == 0:
        return (0.0, 1.0)
    step = max(1, data.size // LEVEL_SAMPLES)
    lo, hi = np.percentile(data[::step], AUTO_PERCENTILES)
    return nonempty_levels(float(lo), float(hi))


def nonempty_levels(lo: float, hi: float) -> tuple[float, float]:
    """``(lo, hi)`` widened just enough that hi > lo (a flat image still maps to one colour)."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return (0.0, 1.0)
    if hi <= lo:
        pad = max(abs(lo) * 1e-3, 1e-6)
        return (lo - pad, hi + pad)
    return (lo, hi)


def parse_levels(text: str) -> tuple[float, float] | None:
    """'auto' → None; 'LO:HI' → (LO, HI) with LO < HI; anything else raises ValueError."""
    text = text.strip()
    if text.lower() == "auto":
        return None
    parts = text.split(":")
    if len(parts) != 2:
        raise ValueError(f"levels must be 'auto' or LO:HI, got {text!r}")
    lo, hi = (float(p) for p in parts)
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ValueError(f"levels LO:HI need finite LO < HI, got {text!r}")
    return lo, hi


def check_colormap(name: str) -> str:
    """``name`` if matplotlib knows the colormap, else ValueError listing a few known ones."""
    if name not in matplotlib.colormaps:
        raise ValueError(f"unknown colormap {name!r} (e.g. viridis, magma, inferno, cividis, twilight, gray)")
    return name


@functools.lru_cache(maxsize=32)
def lookup_table(name: str) -> np.ndarray:
    """(256, 3) uint8 RGB table of a matplotlib colormap (read-only, cached)."""
    cmap = matplotlib.colormaps[check_colormap(name)]
    table = np.rint(cmap(np.linspace(0.0, 1.0, LUT_SIZE))[:, :3] * 255).astype(np.uint8)
    table.setflags(write=False)
    return table


def colorize(values: np.ndarray, levels: tuple[float, float], colormap: str) -> np.ndarray:
    """(H, W, 3) uint8 RGB of float ``values``: clip to levels, scale to 0..255, look up the table."""
    lo, hi = levels
    scaled = (np.asarray(values, dtype=np.float64) - lo) * ((LUT_SIZE - 1) / (hi - lo))
    index = np.rint(np.clip(np.nan_to_num(scaled, nan=0.0), 0, LUT_SIZE - 1)).astype(np.intp)
    return lookup_table(colormap)[index]


def enlarge(rgb: np.ndarray, factor: int) -> np.ndarray:
    """Nearest-neighbour enlargement of an (H, W, 3) image by an integer factor (each pixel → factor²)."""
    if factor == 1:
        return rgb
    return np.repeat(np.repeat(rgb, factor, axis=0), factor, axis=1)


@dataclass(frozen=True)
class ImageStyle:
    """What to show and how: quantity, colormap (None = the quantity's default), levels (None = auto).

    ``per_tile`` scales each patch-grid tile to its own min–max; the shared levels are then (0, 1).
    """

    quantity: str = "amplitude"
    colormap: str | None = None
    levels: tuple[float, float] | None = None
    per_tile: bool = False

    def __post_init__(self) -> None:
        if self.quantity not in QUANTITIES:
            raise ValueError(f"unknown quantity {self.quantity!r}; choose one of {', '.join(QUANTITIES)}")
        if self.colormap is not None:
            check_colormap(self.colormap)
        if self.levels is not None:
            lo, hi = self.levels
            if not lo < hi:
                raise ValueError(f"levels need LO < HI, got {self.levels}")
            if self.per_tile and self.levels != TILE_LEVELS:
                raise ValueError("per-tile levels exclude fixed levels")

    @property
    def cmap(self) -> str:
        """The colormap actually used."""
        return self.colormap or DEFAULT_COLORMAPS[self.quantity]

    @property
    def label(self) -> str:
        """Colour-bar label: the quantity with its unit."""
        return QUANTITY_LABELS[self.quantity]

    def resolved(self, displayed: np.ndarray, mask: np.ndarray | None = None) -> ImageStyle:
        """This style with its colormap named and its levels fixed (auto levels taken from ``displayed``)."""
        if self.per_tile:
            return replace(self, colormap=self.cmap, levels=TILE_LEVELS)
        levels = self.levels if self.levels is not None else auto_levels(displayed, self.quantity, mask)
        return replace(self, colormap=self.cmap, levels=(float(levels[0]), float(levels[1])))

    def tile_levels(self, displayed: np.ndarray) -> tuple[float, float]:
        """Levels of one tile: its own min–max when ``per_tile``, else the style's (resolved) levels."""
        if not self.per_tile:
            return self.levels
        return nonempty_levels(float(np.min(displayed)), float(np.max(displayed)))

    def describe(self) -> str:
        """One line naming quantity, colormap and levels (for title blocks)."""
        if self.per_tile:
            levels = "per tile (each tile's min to max)"
        elif self.levels is None:
            levels = "auto"
        else:
            levels = f"{self.levels[0]:.4g} to {self.levels[1]:.4g}"
        return f"{self.label} · colormap {self.cmap} · levels {levels}"

    @property
    def bar_label(self) -> str:
        """Colour-bar label: the quantity, or its per-tile normalization."""
        return f"{self.label}, 0 = tile min, 1 = tile max" if self.per_tile else self.label
