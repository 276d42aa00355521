"""The annotation every exported figure carries: provenance title block, colour bar, scale bar.

Figures are laid out in whole pixels from the top-left corner (``PixelLayout``) so that images land
on exact pixels and text sizes do not depend on the DPI written into the file.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.cm import ScalarMappable
from matplotlib.colors import ListedColormap, Normalize
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from ptycho_gui import __version__
from ptycho_gui.engine.device import device_label
from ptycho_gui.render.colormaps import ImageStyle, lookup_table

if TYPE_CHECKING:
    from ptycho_gui.engine.run import InferenceRun

DEFAULT_DPI = 100
TITLE_PX = 15
TEXT_PX = 12
SMALL_PX = 10
LINE_SPACING = 1.35
TEXT_COLOR = "#222222"
SI_PREFIXES: tuple[tuple[float, str], ...] = ((1.0, "m"), (1e-3, "mm"), (1e-6, "µm"), (1e-9, "nm"), (1e-12, "pm"))


def export_timestamp() -> str:
    """The date written into title blocks (UTC, to the minute)."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


@dataclass(frozen=True)
class Provenance:
    """Where a figure's data came from: shown in its title block and stored with exported data."""

    checkpoint: str
    dataset: str
    stitch: str
    crop: int
    normalization: str
    device: str
    date: str
    version: str = __version__
    pixel_size_m: float | None = None

    def lines(self) -> list[str]:
        """Title-block lines (after the heading) naming inputs, run settings, date and version."""
        return [
            f"checkpoint {self.checkpoint} · dataset {self.dataset}",
            f"stitch {self.stitch}, crop {self.crop} · device {self.device} · {self.date} · ptycho-gui {self.version}",
            f"normalization {self.normalization}",
        ]


def provenance_of(run: InferenceRun, date: str | None = None) -> Provenance:
    """The provenance of a run's figures (file names, stitch, normalization, device, now)."""
    return Provenance(
        checkpoint=run.model.identity(),
        dataset=run.dataset.path.name,
        stitch=run.settings.stitch,
        crop=run.settings.crop,
        normalization=run.normalization_description,
        device=device_label(run.device),
        date=date or export_timestamp(),
        pixel_size_m=run.dataset.pixel_size_m,
    )


def nice_number(limit: float) -> float:
    """The largest 1, 2 or 5 × 10^k not above ``limit`` (> 0)."""
    exponent = math.floor(math.log10(limit))
    for mantissa in (5.0, 2.0, 1.0):
        value = mantissa * 10.0**exponent
        if value <= limit * (1 + 1e-12):
            return value
    return 10.0 ** (exponent - 1) * 5.0


def scale_bar_length(max_pixels: float, pixel_size_m: float | None) -> tuple[float, str]:
    """(length in object pixels, label) of a round scale bar no longer than ``max_pixels``.

    In metres (nm/µm/mm) when the pixel size is known, else in whole pixels.
    """
    if pixel_size_m is None or not pixel_size_m > 0:
        pixels = max(1.0, nice_number(max(max_pixels, 1.0)))
        return pixels, f"{pixels:g} px"
    metres = nice_number(max_pixels * pixel_size_m)
    factor, unit = next((f, u) for f, u in SI_PREFIXES if metres >= f * (1 - 1e-9))
    return metres / pixel_size_m, f"{metres / factor:g} {unit}"


class PixelLayout:
    """A matplotlib Figure addressed in whole pixels from its top-left corner."""

    def __init__(self, width: int, height: int, dpi: int = DEFAULT_DPI):
        self.width, self.height, self.dpi = int(width), int(height), int(dpi)
        self.figure = Figure(figsize=(self.width / dpi, self.height / dpi), dpi=dpi, facecolor="white")
        FigureCanvasAgg(self.figure)

    def points(self, pixels: float) -> float:
        """A font size in points that is ``pixels`` tall at this figure's DPI."""
        return pixels * 72.0 / self.dpi

    def rect(self, left: float, top: float, width: float, height: float) -> list[float]:
        """Figure-fraction [left, bottom, width, height] of a pixel box given from the top-left."""
        return [left / self.width, 1 - (top + height) / self.height, width / self.width, height / self.height]

    def text(self, x: float, y: float, text: str, size_px: float = TEXT_PX, **kwargs) -> None:
        """Text anchored at pixel (x, y) from the top-left (default anchor: its top-left corner)."""
        kwargs.setdefault("ha", "left")
        kwargs.setdefault("va", "top")
        kwargs.setdefault("color", TEXT_COLOR)
        self.figure.text(x / self.width, 1 - y / self.height, text, fontsize=self.points(size_px), **kwargs)

    def image(self, rgb: np.ndarray, left: int, top: int) -> None:
        """Place an RGB array with its top-left pixel at (left, top): pixel for pixel, no resampling."""
        self.figure.figimage(rgb, xo=int(left), yo=int(self.height - top - rgb.shape[0]), origin="upper", zorder=0)

    def axes(self, left: float, top: float, width: float, height: float):
        """An Axes filling a pixel box."""
        return self.figure.add_axes(self.rect(left, top, width, height))

    def box(self, left: float, top: float, width: float, height: float, **kwargs) -> None:
        """A rectangle (filled by default) in pixel coordinates."""
        x0, y0, w, h = self.rect(left, top, width, height)
        self.figure.add_artist(Rectangle((x0, y0), w, h, transform=self.figure.transFigure, **kwargs))


def title_block_height(n_lines: int) -> int:
    """Pixels taken by a heading plus ``n_lines`` text lines."""
    return int(math.ceil(TITLE_PX * LINE_SPACING + n_lines * TEXT_PX * LINE_SPACING))


def draw_title_block(layout: PixelLayout, left: int, top: int, heading: str, lines: list[str]) -> None:
    """A bold heading and plain lines, top-left aligned."""
    layout.text(left, top, heading, TITLE_PX, weight="bold")
    y = top + TITLE_PX * LINE_SPACING
    for line in lines:
        layout.text(left, y, line, TEXT_PX)
        y += TEXT_PX * LINE_SPACING


def draw_colorbar(layout: PixelLayout, style: ImageStyle, box: tuple[int, int, int, int],
                  label: str | None = None) -> None:
    """A vertical colour bar in ``box`` (left, top, width, height) over the style's levels and colormap."""
    draw_level_bar(layout, box, style.levels, style.cmap, label or style.bar_label)


def draw_level_bar(layout: PixelLayout, box: tuple[float, float, float, float], levels: tuple[float, float],
                   cmap: str, label: str, label_px: float = TEXT_PX) -> None:
    """A vertical colour bar in ``box`` (left, top, width, height) mapping ``levels`` through ``cmap``'s table."""
    cax = layout.axes(*box)
    mappable = ScalarMappable(norm=Normalize(*levels), cmap=ListedColormap(lookup_table(cmap) / 255.0, name=cmap))
    bar = layout.figure.colorbar(mappable, cax=cax, orientation="vertical")
    bar.set_label(label, fontsize=layout.points(label_px), color=TEXT_COLOR)
    bar.ax.tick_params(labelsize=layout.points(SMALL_PX), colors=TEXT_COLOR)


def draw_scale_bar(layout: PixelLayout, left: int, top: int, length_px: float, label: str) -> None:
    """A black bar ``length_px`` screen pixels long with its label beneath (top-left at (left, top))."""
    layout.box(left, top, length_px, 5, facecolor="black", edgecolor="none")
    layout.text(left + length_px / 2, top + 8, label, SMALL_PX, ha="center")
