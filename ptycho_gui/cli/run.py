"""``ptycho-inspect run``: the network over a whole scan, written to reconstruction.h5 and the debug dump.

The whole output set (reconstruction.h5, debug_dump/, analysis/) is checked before any computing:
existing files are refused without --force, and no symbolic link inside the output folder is followed.
Ctrl+C or SIGTERM stops after the current batch: the batches done are written, marked
``cancelled`` (incomplete), and the command exits 130; a second signal aborts, leaving no partial
file. The debug dump is written before reconstruction.h5 is renamed into place, so a reconstruction
never exists without its debug files.

reconstruction.h5 also gets the physics residual of every pattern (when a probe is known) and, when the
dataset has ``objectGuess``, the ``/metrics`` of the canvas against it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ptycho_gui.cli.common import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    STOP,
    ProgressBar,
    add_input_arguments,
    add_run_options,
    open_run,
    warn,
)


def add_run_command(commands: argparse._SubParsersAction) -> None:
    """Register ``run`` on the ``ptycho-inspect`` sub-command parser."""
    run = commands.add_parser("run", help="run the network over a scan and write the results to a folder")
    add_input_arguments(run)
    run.add_argument("-o", "--output", type=Path, required=True, metavar="DIR", help="output folder")
    run.add_argument("--force", action="store_true",
                     help="overwrite existing outputs (reconstruction.h5, debug_dump/, analysis/)")
    add_run_options(run)
    run.set_defaults(handler=command_run)


def command_run(args: argparse.Namespace) -> int:
    """Run the network over the scan and write reconstruction.h5, the debug dump and the stats log."""
    from ptycho_gui.export.run_folder import check_run_folder, write_run_folder

    check_run_folder(args.output, args.force)
    run = open_run(args)
    progress = ProgressBar(run.n_batches, run.settings.batch_size * run.model.C)
    print(f"{run.n_groups} groups of {run.model.C} on {run.device}, batches of {run.settings.batch_size}, "
          f"{run.settings.precision}; input scale {run.normalization_description}",
          file=sys.stderr)
    try:
        with STOP.graceful():
            written = write_run_folder(run, args.output, overwrite=args.force, on_batch=progress.advance,
                                       should_stop=lambda: STOP.requested)
    finally:
        progress.end_line()
    if written.residual_problem:
        warn(f"no physics residual: {written.residual_problem}")
    if written.finite_warning:
        warn(written.finite_warning)
    output = written.output
    if output.cancelled:
        print(f"ptycho-inspect: interrupted: wrote {output.n_batches_done} of {run.n_batches} batches to "
              f"{written.path} (marked cancelled: incomplete)", file=sys.stderr)
        return EXIT_INTERRUPTED
    rate = run.n_groups * run.model.C / max(output.seconds, 1e-9)
    print(f"wrote {written.path} ({output.seconds:.1f} s, {rate:.0f} patterns/s)", file=sys.stderr)
    return EXIT_OK
