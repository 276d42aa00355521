"""``ptycho-inspect export``: annotated figures and data of chosen batches, headless.

Only the chosen batches are computed, unless the canvas is asked for (it needs the whole run).
Every destination is checked before any computing: existing files are refused without --force and
an unwritable folder is reported (exit code 3) before the first forward pass.
"""

from __future__ import annotations

import argparse
import sys
from functools import partial
from pathlib import Path

from ptycho_gui.analysis.reference import Reference, reconstruction_reference, truth_reference
from ptycho_gui.cli.common import (
    EXIT_OK,
    ProgressBar,
    UsageError,
    add_input_arguments,
    add_run_options,
    open_run,
    positive_int,
)
from ptycho_gui.engine.run import InferenceRun
from ptycho_gui.errors import InvalidInputError
from ptycho_gui.export.comparison import ComparisonView
from ptycho_gui.export.comparison_figure import compare_figure
from ptycho_gui.export.debug_dump import DebugDumpCollector
from ptycho_gui.export.job import ExportSources, run_export
from ptycho_gui.export.plan import (
    ALL_ITEMS,
    FORMATS,
    ExportRequest,
    check_destinations,
    parse_batch_spec,
    parse_choices,
    plan_files,
)
from ptycho_gui.io.datasets import ScanDataset, open_dataset
from ptycho_gui.io.reconstruction_file import is_reconstruction_file
from ptycho_gui.render.annotations import provenance_of
from ptycho_gui.render.canvas_figure import CanvasOptions
from ptycho_gui.render.colormaps import ImageStyle, parse_levels
from ptycho_gui.render.complex_display import PHASE_VIEW_NAMES
from ptycho_gui.render.patch_grid import GridOptions
from ptycho_gui.types import BatchResult, Canvas

QUANTITY_NAMES: dict[str, str] = {"amplitude": "amplitude", "phase": "phase", "real": "real", "imag": "imaginary"}
CLI_ITEMS: tuple[str, ...] = tuple(item for item in ALL_ITEMS if item != "pattern")
"""Items the CLI exports (a selected pattern exists only in the GUI; ``diffraction`` writes every pattern)."""
CLI_OVERLAYS: tuple[str, ...] = ("positions", "batch")
"""Canvas overlays the CLI can draw (a selected patch exists only in the GUI)."""


def add_export_command(commands: argparse._SubParsersAction) -> None:
    """Register ``export`` on the ``ptycho-inspect`` sub-command parser."""
    parser = commands.add_parser(
        "export",
        help="export annotated patch grids, canvases, statistics plots and data",
        description="Export annotated figures (PNG, SVG, PDF), raw float32 TIFF and data (NPZ, HDF5) of chosen "
        "batches. Only those batches are computed unless the canvas is exported, which runs the whole scan; "
        "statistics and data cover the batches computed.",
    )
    add_input_arguments(parser)
    parser.add_argument("-o", "--output", type=Path, required=True, metavar="DIR", help="output folder")
    parser.add_argument("--batches", default="0", metavar="SPEC",
                        help="'all' or indices and ranges, e.g. 0,3-5 (default 0)")
    parser.add_argument("--what", default="patches", metavar="LIST",
                        help=f"comma list of {', '.join(CLI_ITEMS)} (default patches); data and canvas add the debug dump; "
                        "diffraction (npz) writes predicted and measured amplitudes and the residual per batch; "
                        "comparison (png, svg, pdf, npz, h5) runs the whole scan and compares its canvas with --truth")
    parser.add_argument("--format", default="png", metavar="LIST",
                        help=f"comma list of {', '.join(FORMATS)} (default png)")
    parser.add_argument("--quantity", choices=tuple(QUANTITY_NAMES), default="amplitude", help="what the figures show")
    parser.add_argument("--cmap", default=None, metavar="NAME",
                        help="matplotlib colormap (default: viridis, twilight for phase)")
    parser.add_argument("--levels", default="auto", metavar="auto|tile|LO:HI",
                        help="colour levels: auto (0.5-99.5 percentiles, ±π for phase; default), tile (each patch-grid "
                        "tile scaled to its own min-max) or LO:HI, e.g. --levels=-3:3")
    parser.add_argument("--phase-view", choices=tuple(PHASE_VIEW_NAMES), default="wrapped",
                        help="how the canvas figure draws phase, as the canvas view's phase view: wrapped (raw angle on "
                        "±π; default, as the GUI), offset-removed (global offset removed, robust levels) or unwrapped "
                        "(offset removed, unwrapped)")
    parser.add_argument("--scale", type=positive_int, default=None, metavar="K",
                        help="integer enlargement of patch-grid tiles (default: tiles at least 112 px)")
    parser.add_argument("--dpi", type=positive_int, default=100, help="DPI written into figures (default 100)")
    parser.add_argument("--no-labels", action="store_true", help="no tile labels on patch grids")
    parser.add_argument("--overlays", default="positions,batch", metavar="LIST",
                        help="canvas overlays: positions, batch (the first chosen batch's crops), or none")
    parser.add_argument("--no-truth", action="store_true", help="no ground-truth and error panels on the canvas")
    parser.add_argument("--truth", type=Path, default=None, metavar="FILE",
                        help="reference of --what comparison: a dataset with objectGuess or a reconstruction.h5 "
                        "(default: the dataset's own objectGuess); the comparison figure shows --quantity on "
                        "--levels (LO:HI, else robust levels), its data the arrays drawn")
    parser.add_argument("--force", action="store_true", help="overwrite existing files")
    add_run_options(parser)
    parser.set_defaults(handler=command_export)


def request_from_args(args: argparse.Namespace, n_batches: int) -> ExportRequest:
    """The ExportRequest a command line asks for (UsageError for anything malformed)."""
    try:
        what = parse_choices(args.what, CLI_ITEMS, "--what")
        formats = parse_choices(args.format, FORMATS, "--format")
        overlays = () if args.overlays.strip().lower() == "none" else parse_choices(args.overlays, CLI_OVERLAYS,
                                                                                     "--overlays")
        per_tile = args.levels.strip().lower() == "tile"
        levels = None if per_tile else parse_levels(args.levels)
        style = ImageStyle(QUANTITY_NAMES[args.quantity], args.cmap, levels, per_tile)
        batches = parse_batch_spec(args.batches, n_batches)
        return ExportRequest(
            out_dir=args.output,
            what=what,
            formats=formats,
            batches=batches,
            style=style,
            grid=GridOptions(scale=args.scale, labels=not args.no_labels, dpi=args.dpi),
            canvas=CanvasOptions(truth=not args.no_truth, dpi=args.dpi, phase_view=PHASE_VIEW_NAMES[args.phase_view]),
            overlays=overlays,
            debug_dump="data" in what and "canvas" in what,
            overwrite=args.force,
            options={"quantity": style.quantity, "colormap": style.cmap, "levels": args.levels,
                     "batches": args.batches, "what": list(what), "formats": list(formats),
                     "phase_view": args.phase_view},
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from exc


def open_reference(truth: Path | None, dataset: ScanDataset) -> Reference:
    """The reference of a comparison export: --truth (dataset with objectGuess, or reconstruction.h5) or the run's
    own objectGuess; read before any computing so a bad file fails at once."""
    if truth is not None and is_reconstruction_file(truth):
        return reconstruction_reference(truth)
    if truth is None:
        reference = truth_reference(dataset)
        if reference is None:
            raise UsageError(f"--what comparison: {dataset.path.name} has no objectGuess; give --truth FILE")
        return reference
    with open_dataset(truth) as other:
        reference = truth_reference(other)
    if reference is None:
        raise InvalidInputError(truth, "has no objectGuess to compare with")
    return reference


def comparison_view(canvas: Canvas, reference: Reference, request: ExportRequest, pixel_size_m: float | None,
                    batches: int) -> ComparisonView:
    """The canvas compared with the reference, pictured in the request's quantity on its levels (else robust)."""
    comparison = reference.compare(canvas, pixel_size_m)
    pictures = compare_figure(comparison, request.style.quantity, levels=request.style.levels)
    return ComparisonView(comparison, pictures, reference.label, f"canvas of {batches} batches compared")


def compute_sources(run: InferenceRun, request: ExportRequest, reference: Reference | None = None) -> ExportSources:
    """Compute what the request needs (the whole run for a canvas or a comparison, else the chosen batches)."""
    whole = "canvas" in request.what or "comparison" in request.what
    indices = range(run.n_batches) if whole else request.batches
    progress = ProgressBar(len(indices), run.settings.batch_size * run.model.C)
    collector = DebugDumpCollector() if request.debug_dump else None

    def on_batch(result: BatchResult) -> None:
        if collector is not None:
            collector.add(result)
        progress.advance()

    output = run.execute(on_batch=on_batch, indices=indices, keep_patches=True)
    store, history = output.patches, output.history
    canvas = output.canvas if whole else None
    debug_dump = None
    if collector is not None:
        debug_dump = partial(collector.write, canvas=canvas, positions=run.positions, patch_size=run.model.N)
    def get_batch(index: int) -> BatchResult:
        return run.result_from_patches(index, store.get(run.batch_group_indices(index)))

    return ExportSources(
        provenance=provenance_of(run),
        settings=run.settings,
        n_batches=run.n_batches,
        get_batch=get_batch,
        patch_size=run.model.N,
        group_positions=run.positions,
        canvas=canvas,
        stats=history.as_arrays(),
        truth=run.dataset.object_guess,
        scan_positions=run.dataset.positions,
        debug_dump=debug_dump,
        get_diffraction=diffraction_source(run, request.batches, get_batch) if "diffraction" in request.what else None,
        comparison=comparison_view(canvas, reference, request, run.dataset.pixel_size_m, run.n_batches)
        if reference is not None else None,
    )


def diffraction_source(run: InferenceRun, batches: tuple[int, ...], get_batch):
    """Batch → DiffractionResidual, with one scale fitted over every exported batch (contract §2.5 forward model)."""
    from dataclasses import replace

    from ptycho_gui.analysis.residual import ResidualAccumulator, diffraction_residual, physics_model_for

    physics = physics_model_for(run.model, run.dataset)
    accumulator = ResidualAccumulator(run.n_groups, run.model.C)
    pairs = {}
    for index in batches:
        result = get_batch(index)
        raw = physics.predict_batch(run, result)
        measured = run.read_inputs(result.group_indices) * run.input_scale
        accumulator.add(result.group_indices, raw, measured)
        pairs[index] = (raw, measured)
    scale = accumulator.scale
    return lambda index: replace(diffraction_residual(*pairs[index], scale), scale_fitted=True)


def command_export(args: argparse.Namespace) -> int:
    """Check destinations, compute the batches needed, write every requested file; print their paths."""
    run = open_run(args)
    request = request_from_args(args, run.n_batches)
    check_destinations(plan_files(request), request.out_dir, request.overwrite)
    reference = open_reference(args.truth, run.dataset) if "comparison" in request.what else None
    print(f"{run.n_groups} groups of {run.model.C} in {run.n_batches} batches on {run.device}", file=sys.stderr)
    sources = compute_sources(run, request, reference)
    report = run_export(request, sources)
    for path in report.files:
        print(path)
    print(f"exported {len(report.files)} files to {request.out_dir}", file=sys.stderr)
    return EXIT_OK

