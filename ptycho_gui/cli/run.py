"""``ptycho-inspect run``: the network over a whole scan, written to reconstruction.h5 and the debug dump."""

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
    from ptycho_gui.export.atomic import atomic_path
    from ptycho_gui.export.debug_dump import DebugDumpCollector
    from ptycho_gui.export.reconstruction import ReconstructionWriter

    run = open_run(args)
    out_dir: Path = args.output
    destination = out_dir / "reconstruction.h5"
    progress = ProgressBar(run.n_batches, run.settings.batch_size * run.model.C)
    collector = DebugDumpCollector()
    print(f"{run.n_groups} groups of {run.model.C} on {run.device}; input scale {run.normalization_description}",
          file=sys.stderr)
    with atomic_path(destination, overwrite=args.force) as tmp:
        writer = ReconstructionWriter(tmp, run)
        try:
            output = run.execute(on_batch=lambda result: _record(result, writer, collector, progress))
            writer.finish(output)
        finally:
            writer.close()
    collector.write(out_dir, output.canvas, run.positions, run.model.N)
    print(f"wrote {destination} ({output.seconds:.1f} s, {run.n_groups * run.model.C / output.seconds:.0f} patterns/s)",
          file=sys.stderr)
    return EXIT_OK


def _record(result, writer, collector, progress: ProgressBar) -> None:
    writer.write_batch(result)
    collector.add(result)
    progress.advance(result.groups.size)
