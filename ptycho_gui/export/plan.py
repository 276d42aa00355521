"""What an export will write: the request (items, formats, batches, style, annotation options), batch
specs such as ``0,3-5``, the file names it produces, and the checks made before anything is computed.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ptycho_gui.export.atomic import ExportError, check_output_paths
from ptycho_gui.render.canvas_figure import CanvasOptions
from ptycho_gui.render.colormaps import ImageStyle
from ptycho_gui.render.patch_grid import GridOptions

ITEMS: tuple[str, ...] = ("patches", "canvas", "stats", "data", "comparison", "pattern")
"""Items the GUI dialog offers: ``comparison`` is the Compare dock (figure and data), ``pattern`` the Diffraction
dock's selected pattern (figure and data)."""
ALL_ITEMS: tuple[str, ...] = ITEMS + ("diffraction",)
"""ITEMS plus ``diffraction`` (per batch: predicted and measured amplitudes and residual NMSE; CLI for now)."""
FIGURE_AND_DATA: tuple[str, ...] = ("png", "svg", "pdf", "npz", "h5")
FORMATS: tuple[str, ...] = ("png", "tiff", "svg", "pdf", "npz", "h5")
ITEM_FORMATS: dict[str, tuple[str, ...]] = {
    "patches": ("png", "tiff", "svg", "pdf"),
    "canvas": ("png", "tiff", "svg", "pdf"),
    "stats": ("png", "svg", "pdf"),
    "data": ("npz", "h5"),
    "diffraction": ("npz",),
    "comparison": FIGURE_AND_DATA,
    "pattern": FIGURE_AND_DATA,
}
DEBUG_DUMP_FILES: tuple[str, ...] = (
    "debug_dump/offsets.json",
    "debug_dump/canvas.json",
    "debug_dump/stats.json",
    "debug_dump/pred_patches_amp_grid.png",
    "analysis/torch_patch_stats.json",
    "analysis/torch_patch_grid.png",
)
"""What ``DebugDumpCollector.write`` produces under the output folder (PtychoPINN's names)."""


def parse_batch_spec(spec: str, n_batches: int) -> tuple[int, ...]:
    """'all' or comma-separated indices and inclusive ranges ('0,3-5') → sorted unique batch indices."""
    text = spec.strip().lower()
    if text == "all":
        return tuple(range(n_batches))
    chosen: set[int] = set()
    for part in filter(None, (p.strip() for p in text.split(","))):
        first, _, last = part.partition("-")
        try:
            lo, hi = int(first), int(last or first)
        except ValueError:
            raise ValueError(f"batch spec {spec!r}: {part!r} is not an index or a range like 3-5") from None
        if lo > hi or lo < 0 or hi >= n_batches:
            raise ValueError(f"batch spec {spec!r}: {part!r} is outside 0..{n_batches - 1}")
        chosen.update(range(lo, hi + 1))
    if not chosen:
        raise ValueError(f"batch spec {spec!r} selects no batch")
    return tuple(sorted(chosen))


def parse_choices(text: str, allowed: tuple[str, ...], what: str) -> tuple[str, ...]:
    """A comma-separated list of names from ``allowed`` (order kept, duplicates dropped)."""
    names = [n.strip().lower() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in allowed]
    if unknown or not names:
        raise ValueError(f"{what}: {', '.join(unknown) or 'nothing given'} not among {', '.join(allowed)}")
    return tuple(dict.fromkeys(names))


@dataclass(frozen=True)
class ExportRequest:
    """Everything an export writes and how: shared by the CLI and the GUI dialog."""

    out_dir: Path
    what: tuple[str, ...]
    formats: tuple[str, ...]
    batches: tuple[int, ...] = ()
    style: ImageStyle = ImageStyle()
    canvas_style: ImageStyle | None = None
    """The canvas figure's style when it differs from the patch grids' (the GUI exports each view as drawn)."""
    grid: GridOptions = GridOptions()
    canvas: CanvasOptions = CanvasOptions()
    overlays: tuple[str, ...] = ("positions", "batch")
    picks: tuple[tuple[int, int], ...] | None = None
    """(group, channel) patches to draw as one grid instead of one grid per batch."""
    debug_dump: bool = False
    """Also write PtychoPINN's debug-dump JSON files (needs the whole run's canvas)."""
    overwrite: bool = False
    options: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        for item in self.what:
            if item not in ALL_ITEMS:
                raise ValueError(f"unknown export item {item!r}; choose from {', '.join(ALL_ITEMS)}")
            if not set(ITEM_FORMATS[item]) & set(self.formats):
                raise ValueError(
                    f"nothing to write for {item}: give one of {', '.join(ITEM_FORMATS[item])} in the formats"
                )
        if "diffraction" in self.what and not self.batches:
            raise ValueError("no batch chosen for the diffraction export")
        if ("patches" in self.what or "data" in self.what) and not self.batches and not self.picks:
            raise ValueError("no batch chosen for the patches or data export")


@dataclass(frozen=True)
class PlannedFile:
    """One file an export will write."""

    item: str
    fmt: str
    path: Path
    batch: int | None = None


def plan_files(request: ExportRequest) -> list[PlannedFile]:
    """Every file the request writes, in writing order (a batch's formats together; debug dump last)."""
    out, quantity = request.out_dir, request.style.quantity
    files: list[PlannedFile] = []
    for item in request.what:
        formats = [f for f in request.formats if f in ITEM_FORMATS[item]]
        if item == "diffraction":
            files.extend(PlannedFile(item, "npz", out / f"diffraction_batch{b:04d}.npz", b) for b in request.batches)
            continue
        if item == "patches" and request.picks is None:
            files.extend(PlannedFile(item, fmt, out / f"patches_batch{b:04d}_{quantity}.{fmt}", b)
                         for b in request.batches for fmt in formats)
            continue
        names = {"patches": f"patches_selected_{quantity}", "canvas": f"canvas_{quantity}", "stats": "statistics",
                 "data": "data", "comparison": "comparison", "pattern": "diffraction_pattern"}
        files.extend(PlannedFile(item, fmt, out / f"{names[item]}.{fmt}") for fmt in formats)
    if request.debug_dump:
        files.extend(PlannedFile("debug", Path(name).suffix[1:], out / name) for name in DEBUG_DUMP_FILES)
    return files


def check_destinations(files: list[PlannedFile], out_dir: Path, overwrite: bool) -> None:
    """Fail before any work: existing files without overwrite, or a folder that cannot be written."""
    check_output_paths(out_dir, [f.path for f in files], overwrite)
    for folder in sorted({f.path.parent for f in files} | {Path(out_dir)}):
        probe_writable(folder)


def probe_writable(folder: Path) -> None:
    """Create ``folder`` if needed and check a file can be created in it (ExportError otherwise)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=".ptycho-gui-probe-", dir=folder)
    except OSError as exc:
        raise ExportError(f"{folder}: cannot write here ({exc.strerror or exc})") from exc
    os.close(fd)
    os.unlink(name)
