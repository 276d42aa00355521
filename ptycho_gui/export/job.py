"""Running an export: fetch each batch once, render each figure once, write every planned file atomically.

The CLI and the GUI dialog both call ``run_export``; they differ only in where the data come from
(``ExportSources``): the CLI computes batches with the engine, the GUI reads what the session holds.
So the same request gives the same files, pixel for pixel.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ptycho_gui.analysis.residual import DiffractionResidual
from ptycho_gui.export.comparison import ComparisonView, comparison_arrays, write_arrays
from ptycho_gui.export.comparison_figure import render_comparison_figure
from ptycho_gui.export.data import DataSelection, write_data, write_diffraction_npz
from ptycho_gui.export.diffraction_figure import PatternPictures, pattern_arrays, render_pattern_figure
from ptycho_gui.export.images import FIGURE_FORMATS, write_figure, write_tiff
from ptycho_gui.export.plan import ExportRequest, PlannedFile, check_destinations, plan_files
from ptycho_gui.render.annotations import Provenance
from ptycho_gui.render.canvas_figure import CanvasOverlays, render_canvas_figure
from ptycho_gui.render.colormaps import quantity_of
from ptycho_gui.render.figure import RenderedFigure
from ptycho_gui.render.patch_grid import PatchTiles, render_patch_grid
from ptycho_gui.render.stats_figure import render_statistics_figure
from ptycho_gui.types import BatchResult, Canvas, RunSettings

Progress = Callable[[int, int, str], None]
"""progress(files done, files planned, path just written)."""


@dataclass
class ExportSources:
    """Where an export's data come from; ``get_batch(i)`` returns batch i (computing it if needed)."""

    provenance: Provenance
    settings: RunSettings
    n_batches: int
    get_batch: Callable[[int], BatchResult]
    patch_size: int
    group_positions: np.ndarray
    """(G, C, 2) the run's scan position (x, y) of every group member."""
    canvas: Canvas | None = None
    stats: dict[str, np.ndarray] | None = None
    """One (n_batches,) array per scalar statistic (NaN = not computed)."""
    truth: np.ndarray | None = None
    scan_positions: np.ndarray | None = None
    """(P, 2) every scan position (x, y)."""
    highlight_batch: int | None = None
    """The batch whose footprints the canvas shows and whose point the statistics mark."""
    selected: tuple[int, int] | None = None
    """(group, channel) of the selected patch."""
    debug_dump: Callable[[Path], list[Path]] | None = None
    get_diffraction: Callable[[int], DiffractionResidual] | None = None
    """Batch i's predicted vs measured diffraction (needed by a ``diffraction`` export)."""
    comparison: ComparisonView | None = None
    """The comparison as shown (needed by a ``comparison`` export)."""
    pattern: PatternPictures | None = None
    """The selected pattern's pictures as shown (needed by a ``pattern`` export)."""


@dataclass
class ExportReport:
    """What an export wrote, and whether it was cancelled before the end."""

    files: list[Path] = field(default_factory=list)
    cancelled: bool = False


def patch_heading(result: BatchResult, n_batches: int) -> str:
    """Title of one batch's patch grid."""
    first, last = int(result.group_indices[0]), int(result.group_indices[-1])
    return f"Patches · batch {result.index} (of 0–{n_batches - 1}) · groups {first}–{last}"


def render_batch_grid(result: BatchResult, request: ExportRequest, sources: ExportSources) -> RenderedFigure:
    """The patch-grid figure of one batch, as the export writes it."""
    return render_patch_grid(PatchTiles.from_batches([result]), request.style, sources.provenance,
                             patch_heading(result, sources.n_batches), request.grid)


def picked_batches(request: ExportRequest, sources: ExportSources,
                   fetch: Callable[[int], BatchResult]) -> list[BatchResult]:
    """The batches holding the request's picked patches."""
    size = sources.settings.batch_size
    return [fetch(i) for i in sorted({group // size for group, _ in request.picks})]


def render_picks_grid(results: list[BatchResult], request: ExportRequest, sources: ExportSources) -> RenderedFigure:
    """The patch-grid figure of the picked patches."""
    tiles = PatchTiles.from_batches(results, request.picks)
    return render_patch_grid(tiles, request.style, sources.provenance, f"Selected patches ({len(tiles)})", request.grid)


def canvas_overlays(request: ExportRequest, sources: ExportSources) -> CanvasOverlays:
    """The overlays a request asks for, from what the sources know."""
    overlays = CanvasOverlays(patch_size=sources.patch_size)
    if "positions" in request.overlays and sources.scan_positions is not None:
        overlays.scan_positions = sources.scan_positions
    highlight = _highlight(request, sources)
    if "batch" in request.overlays and highlight is not None:
        size = sources.settings.batch_size
        overlays.batch_positions = sources.group_positions[highlight * size:(highlight + 1) * size].reshape(-1, 2)
        overlays.batch_label = f"batch {highlight}"
    if "selection" in request.overlays and sources.selected is not None:
        group, channel = sources.selected
        overlays.selected_position = tuple(float(v) for v in sources.group_positions[group, channel])
    return overlays


def _highlight(request: ExportRequest, sources: ExportSources) -> int | None:
    if sources.highlight_batch is not None:
        return sources.highlight_batch
    return request.batches[0] if request.batches else None


def render_canvas(request: ExportRequest, sources: ExportSources) -> RenderedFigure:
    """The canvas figure of an export (ground truth and error map when the dataset has them)."""
    if sources.canvas is None:
        raise ValueError("no canvas to export: compute at least one batch")
    canvas = sources.canvas
    done = int(np.isfinite(sources.stats["global_mean"]).sum()) if sources.stats else None
    stitched = f" · {done} of {sources.n_batches} batches stitched" if done is not None else ""
    style = request.canvas_style or request.style
    heading = f"Canvas · {style.quantity}{stitched}"
    return render_canvas_figure(canvas, style, sources.provenance, heading,
                                canvas_overlays(request, sources), sources.truth, request.canvas)


def render_stats(request: ExportRequest, sources: ExportSources) -> RenderedFigure:
    """The statistics figure of an export (histogram of the highlighted batch when there is one)."""
    if not sources.stats:
        raise ValueError("no statistics to export: compute at least one batch")
    highlight = _highlight(request, sources)
    amplitudes = np.abs(sources.get_batch(highlight).patches) if highlight is not None else None
    return render_statistics_figure(sources.stats, sources.provenance, "Statistics per batch", highlight, amplitudes)


def shown_comparison(sources: ExportSources) -> ComparisonView:
    """The comparison the sources hold (ValueError saying how to get one when there is none)."""
    if sources.comparison is None:
        raise ValueError("no comparison to export: compare with objectGuess, a reconstruction or a checkpoint first")
    return sources.comparison


def shown_pattern(sources: ExportSources) -> PatternPictures:
    """The diffraction pattern the sources hold (ValueError saying how to get one when there is none)."""
    if sources.pattern is None:
        raise ValueError("no diffraction pattern to export: select a computed patch (the Diffraction dock shows it)")
    return sources.pattern


def render_comparison(request: ExportRequest, sources: ExportSources) -> RenderedFigure:
    """The Compare dock's figure: its pictures on its levels, metrics table and FRC."""
    view = shown_comparison(sources)
    notes = [f"reference: {view.reference_label}"] + ([view.note] if view.note else [])
    return render_comparison_figure(view.comparison, view.pictures, sources.provenance,
                                    f"Comparison · {view.pictures.mode}", notes, request.canvas.dpi,
                                    request.canvas.title)


def render_pattern(request: ExportRequest, sources: ExportSources) -> RenderedFigure:
    """The Diffraction dock's figure of the selected pattern."""
    pictures = shown_pattern(sources)
    heading = f"Diffraction · group {pictures.group}, channel {pictures.channel}"
    return render_pattern_figure(pictures, sources.provenance, heading, None, request.canvas.dpi,
                                 request.canvas.title)


def render_figure(item: str, batch: int | None, request: ExportRequest, sources: ExportSources,
                  fetch: Callable[[int], BatchResult]) -> RenderedFigure:
    """The figure an export writes for ``item`` ('patches' of one batch or of the picks, 'canvas', 'stats')."""
    if item == "patches" and batch is not None:
        return render_batch_grid(fetch(batch), request, sources)
    if item == "patches":
        return render_picks_grid(picked_batches(request, sources, fetch), request, sources)
    if item == "canvas":
        return render_canvas(request, sources)
    if item == "stats":
        return render_stats(request, sources)
    if item == "comparison":
        return render_comparison(request, sources)
    if item == "pattern":
        return render_pattern(request, sources)
    raise ValueError(f"{item} has no figure")


def preview_figure(request: ExportRequest, sources: ExportSources) -> RenderedFigure | None:
    """The first figure the request would write (None when it writes no PNG, SVG or PDF)."""
    for planned in plan_files(request):
        if planned.fmt in FIGURE_FORMATS:
            return render_figure(planned.item, planned.batch, request, sources, sources.get_batch)
    return None


def tile_pages(tiles: PatchTiles, quantity: str, batch: int | None) -> tuple[list[np.ndarray], list[str]]:
    """Raw float32 pages (one per patch) and their JSON descriptions for a patch TIFF."""
    pages = list(quantity_of(tiles.patches, quantity, keep_nonfinite=True))
    descriptions = [
        json.dumps({"quantity": quantity, "batch": batch, "group": int(tiles.groups[k]),
                    "channel": int(tiles.channels[k]), "row": int(tiles.rows[k]),
                    "x": float(tiles.positions[k, 0]), "y": float(tiles.positions[k, 1])})
        for k in range(len(tiles))
    ]
    return pages, descriptions


def canvas_page(canvas: Canvas, quantity: str) -> tuple[list[np.ndarray], list[str]]:
    """The canvas quantity as one raw float32 page, with its frame in the description."""
    description = json.dumps({"quantity": quantity, "center_xy": list(canvas.center_xy), "stitch": canvas.stitch,
                              "crop": canvas.crop, "mirrored": canvas.mirrored,
                              "note": "canvas pixel (H//2, W//2) is object point center_xy"})
    return [quantity_of(canvas.image, quantity, keep_nonfinite=True)], [description]


class _Writer:
    """Writes planned files in order, rendering each figure once for all its formats."""

    def __init__(self, request: ExportRequest, sources: ExportSources, files: list[PlannedFile],
                 progress: Progress | None, should_stop: Callable[[], bool] | None):
        self.request, self.sources, self.files = request, sources, files
        self.progress, self.should_stop = progress, should_stop
        self.report = ExportReport()
        self._figures: dict[tuple[str, int | None], RenderedFigure] = {}
        self._batches: dict[int, BatchResult] = {}

    def batch(self, index: int) -> BatchResult:
        """Batch ``index``, fetched once; all are kept for a data export, else only the latest."""
        if index not in self._batches:
            if "data" not in self.request.what:
                self._batches.clear()
            self._batches[index] = self.sources.get_batch(index)
        return self._batches[index]

    def figure(self, item: str, batch: int | None) -> RenderedFigure:
        """The figure of (item, batch), rendered once for all its formats."""
        key = (item, batch)
        if key not in self._figures:
            self._figures.clear()
            self._figures[key] = render_figure(item, batch, self.request, self.sources, self.batch)
        return self._figures[key]

    def write(self, planned: PlannedFile) -> list[Path]:
        request, overwrite = self.request, self.request.overwrite
        if planned.item == "data":
            results = [self.batch(i) for i in request.batches]
            selection = DataSelection(results, self.sources.settings, self.sources.provenance,
                                      self.sources.canvas, self.sources.stats, dict(request.options))
            return [write_data(selection, planned.path, planned.fmt, overwrite)]
        if planned.item == "diffraction":
            if self.sources.get_diffraction is None:
                raise ValueError("no diffraction residual available: the dataset has no probe")
            return [write_diffraction_npz(self.sources.get_diffraction(planned.batch), self.batch(planned.batch),
                                          planned.path, overwrite)]
        if planned.item in ("comparison", "pattern") and planned.fmt in ("npz", "h5"):
            return [write_arrays(self.shown_arrays(planned.item), planned.path, planned.fmt, overwrite)]
        if planned.fmt == "tiff":
            if planned.item == "canvas":
                pages, texts = canvas_page(self.sources.canvas, request.style.quantity)
            elif planned.batch is not None:
                pages, texts = tile_pages(PatchTiles.from_batches([self.batch(planned.batch)]),
                                          request.style.quantity, planned.batch)
            else:
                picked = picked_batches(request, self.sources, self.batch)
                pages, texts = tile_pages(PatchTiles.from_batches(picked, request.picks), request.style.quantity, None)
            return [write_tiff(pages, planned.path, texts, overwrite)]
        return [write_figure(self.figure(planned.item, planned.batch), planned.path, planned.fmt, overwrite)]

    def shown_arrays(self, item: str) -> dict[str, np.ndarray]:
        """The arrays a comparison or pattern view shows, with their levels (ValueError when there is none)."""
        if item == "comparison":
            view = shown_comparison(self.sources)
            return comparison_arrays(view.comparison, view.pictures)
        return pattern_arrays(shown_pattern(self.sources))

    def run(self) -> ExportReport:
        if self.request.debug_dump and self.sources.debug_dump is None:
            raise ValueError("the debug dump needs the whole run (export the canvas too)")
        for planned in (f for f in self.files if f.item != "debug"):
            if self.should_stop is not None and self.should_stop():
                self.report.cancelled = True
                return self.report
            self.report.files.extend(self.write(planned))
            self._advance(str(planned.path))
        if self.request.debug_dump:
            self.report.files.extend(self.sources.debug_dump(self.request.out_dir))
            self._advance(str(self.request.out_dir / "debug_dump"))
        return self.report

    def _advance(self, path: str) -> None:
        if self.progress is not None:
            self.progress(len(self.report.files), len(self.files), path)


def run_export(
    request: ExportRequest,
    sources: ExportSources,
    progress: Progress | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> ExportReport:
    """Check every destination, then render and write each planned file (cancellable between files)."""
    files = plan_files(request)
    check_destinations(files, request.out_dir, request.overwrite)
    return _Writer(request, sources, files, progress, should_stop).run()
