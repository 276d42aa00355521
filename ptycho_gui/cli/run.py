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
    from ptycho_gui.analysis.residual import ResidualAccumulator, physics_model_for
    from ptycho_gui.errors import IncompatibleInputsError
    from ptycho_gui.export.atomic import atomic_path
    from ptycho_gui.export.debug_dump import DebugDumpCollector
    from ptycho_gui.export.reconstruction import ReconstructionWriter

    run = open_run(args)
    try:
        physics = physics_model_for(run.model, run.dataset)
        residual = ResidualAccumulator(run.n_groups, run.model.C)
    except IncompatibleInputsError as exc:
        print(f"no physics residual: {exc}", file=sys.stderr)
        physics, residual = None, None
    out_dir: Path = args.output
    destination = out_dir / "reconstruction.h5"
    progress = ProgressBar(run.n_batches, run.settings.batch_size * run.model.C)
    collector = DebugDumpCollector()
    print(f"{run.n_groups} groups of {run.model.C} on {run.device}, batches of {run.settings.batch_size}, "
          f"{run.settings.precision}; input scale {run.normalization_description}",
          file=sys.stderr)
    with atomic_path(destination, overwrite=args.force) as tmp:
        writer = ReconstructionWriter(tmp, run)
        try:
            output = run.execute(on_batch=lambda result: _record(run, result, writer, collector, progress,
                                                                 physics, residual))
            writer.finish(output, residual, physics.probe_source if physics else "", _truth_metrics(run, output))
        finally:
            writer.close()
    collector.write(out_dir, output.canvas, run.positions, run.model.N)
    print(f"wrote {destination} ({output.seconds:.1f} s, {run.n_groups * run.model.C / output.seconds:.0f} patterns/s)",
          file=sys.stderr)
    return EXIT_OK


def _truth_metrics(run, output):
    """The canvas compared with the dataset's objectGuess, or None without one (or on a mirrored canvas)."""
    from ptycho_gui.analysis.comparison import compare_with_object

    truth = run.dataset.object_guess
    if truth is None or output.canvas.mirrored or output.n_batches_done == 0:
        return None
    return compare_with_object(output.canvas, truth, run.dataset.pixel_size_m)


def _record(run, result, writer, collector, progress: ProgressBar, physics, residual) -> None:
    writer.write_batch(result)
    if physics is not None:
        measured = run.read_inputs(result.group_indices) * run.input_scale
        residual.add(result.group_indices, physics.predict_batch(run, result), measured)
    collector.add(result)
    progress.advance()
