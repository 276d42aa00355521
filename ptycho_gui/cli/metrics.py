"""``ptycho-inspect metrics``: a saved reconstruction scored against a true object or another reconstruction."""

from __future__ import annotations

import argparse
from pathlib import Path

from ptycho_gui.cli.common import EXIT_OK


def add_metrics_command(commands: argparse._SubParsersAction) -> None:
    """Register ``metrics`` on the ``ptycho-inspect`` sub-command parser."""
    parser = commands.add_parser(
        "metrics",
        help="compare a reconstruction.h5 with a true object or another reconstruction",
        description="Register RECON.h5's canvas onto the reference (sub-pixel), remove the amplitude scale, phase "
        "offset and ramp, then report amplitude RMSE/PSNR/SSIM/correlation, phase RMSE/correlation and the FRC "
        "(half-bit) over the covered pixels. See docs/metrics.md.",
    )
    parser.add_argument("reconstruction", type=Path, metavar="RECON.h5", help="a reconstruction.h5 from ptycho-inspect run")
    parser.add_argument("--truth", type=Path, required=True, metavar="FILE",
                        help="a dataset with objectGuess (NPZ or HDF5), or another reconstruction.h5")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    parser.set_defaults(handler=command_metrics)


def command_metrics(args: argparse.Namespace) -> int:
    """Compare and print the metrics (a table, or JSON with --json)."""
    from ptycho_gui.analysis.comparison import compare_canvases, compare_with_object
    from ptycho_gui.errors import InvalidInputError
    from ptycho_gui.io.datasets import open_dataset
    from ptycho_gui.io.reconstruction_file import is_reconstruction_file, open_reconstruction

    saved = open_reconstruction(args.reconstruction)
    if is_reconstruction_file(args.truth):
        comparison = compare_canvases(saved.canvas, open_reconstruction(args.truth).canvas)
    else:
        with open_dataset(args.truth) as dataset:
            truth = dataset.object_guess
            if truth is None:
                raise InvalidInputError(args.truth, "has no objectGuess to compare with")
            comparison = compare_with_object(saved.canvas, truth, dataset.pixel_size_m)
    if args.json:
        print(comparison.to_json())
    else:
        print(format_table(comparison.as_dict()))
    return EXIT_OK


def _fmt(value) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, list):
        return "(" + ", ".join(_fmt(v) for v in value) + ")"
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def format_table(document: dict) -> str:
    """The metrics as aligned 'name  value' lines."""
    rows = [("shift_xy (px)", document["shift_xy"]), ("pixels", document["pixels"])]
    rows += [(f"amplitude {k}", v) for k, v in document["amplitude"].items()]
    rows += [(f"phase {k}", v) for k, v in document["phase"].items()]
    rows += [("frc resolution_px", document["frc"]["resolution_px"]),
             ("frc resolution_m", document["frc"]["resolution_m"])]
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {_fmt(value)}" for name, value in rows)
