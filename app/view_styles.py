"""One style object per kind of image (silx's shared ``Colormap`` idea): quantity, colormap, levels mode, typed range.

The patch grid, the canvas views and the Compare dock draw with these (the session holds one of each),
the export dialog reproduces them, and any dock showing the same kind of image may share the same object. A style holds choices only: the levels a
picture was actually drawn with come from the picture functions (``app/pictures.py``), never stored here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ptycho_gui.app.display import DEFAULT_COLORMAP
from ptycho_gui.export.comparison_figure import COLORMAP_OF_MODE


@dataclass
class ViewStyle:
    """Quantity shown, the colormap chosen for each quantity, how levels are chosen and the typed range."""

    quantity: str = "amplitude"
    colormaps: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_COLORMAP))
    levels_mode: str = "auto"
    levels: tuple[float, float] | None = None
    """The locked (typed or frozen) range; None: automatic."""

    @property
    def colormap(self) -> str:
        return self.colormaps[self.quantity]

    @property
    def locked_levels(self) -> tuple[float, float] | None:
        """The range to draw with when the levels are locked, else None (automatic)."""
        return self.levels if self.levels_mode == "locked" else None


@dataclass
class PatchDisplay(ViewStyle):
    """How the patch grid turns the current batch into pixels ('auto per batch', 'locked' or 'per patch')."""

    levels_mode: str = "auto per batch"
    show_labels: bool = False


@dataclass
class CanvasDisplay(ViewStyle):
    """How the canvas and ground-truth views turn the stitched image into pixels ('auto' or 'locked')."""

    phase_view: str = "wrapped ±π"
    """How phase is drawn: one of ``render.complex_display.PHASE_VIEWS``."""
    show_all_positions: bool = True
    show_batch_positions: bool = True
    show_selection: bool = True


@dataclass
class CompareDisplay(ViewStyle):
    """How the Compare dock draws: the quantity is the display mode (``COMPLEX_MODES``); reconstruction and
    reference share one range ('auto' or 'locked'), the error map has its own typed range (None: symmetric auto)."""

    colormaps: dict[str, str] = field(default_factory=lambda: dict(COLORMAP_OF_MODE))
    unwrap: bool = False
    """Unwrap the phase before showing it."""
    error_levels: tuple[float, float] | None = None
