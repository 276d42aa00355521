"""``ptycho-inspect run``: the network over a whole scan, written to reconstruction.h5 and the debug dump.

reconstruction.h5 also gets the physics residual of every pattern (when a probe is known) and, when the
dataset has ``objectGuess``, the ``/metrics`` of the canvas against it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ptycho_gui.cli.common import EXIT_OK, ProgressBar, add_input_arguments, add_run_options, open_run


def add_run_command(commands: argparse._SubParsersAction) -> None:
    """Register ``run`` on the ``ptycho-inspect`` sub-command parser."""
    run = commands.add_parser("run", help="run the network over a scan and write the results to a folder")
    add_input_arguments(run)
    run.add_argument("-o", "--output", type=Path, required=True, metavar="DIR", help="output folder")
    run.add_argument("--force", action="store_true", help="overwrite an existing reconstruction.h5")
    add_run_options(run)
    run.set_defaults(handler=command_run)


def command_run(args: argparse.Namespace) -> int:
    """Run the network over the scan and write reconstruction.h5, the debug dump and the stats log."""
    from ptycho_gui.export.run_folder import write_run_folder

    run = open_run(args)
    progress = ProgressBar(run.n_batches, run.settings.batch_size * run.model.C)
    print(f"{run.n_groups} groups of {run.model.C} on {run.device}, batches of {run.settings.batch_size}, "
          f"{run.settings.precision}; input scale {run.normalization_description}",
          file=sys.stderr)
    written = write_run_folder(run, args.output, overwrite=args.force, on_batch=progress.advance)
    if written.residual_problem:
        print(f"no physics residual: {written.residual_problem}", file=sys.stderr)
    output = written.output
    print(f"wrote {written.path} ({output.seconds:.1f} s, {run.n_groups * run.model.C / output.seconds:.0f} patterns/s)",
          file=sys.stderr)
    return EXIT_OK
