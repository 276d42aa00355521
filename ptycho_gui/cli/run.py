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

RECONSTRUCTION = "reconstruction.h5"


def add_run_command(commands: argparse._SubParsersAction) -> None:
    """Register ``run`` on the ``ptycho-inspect`` sub-command parser."""
    run = commands.add_parser("run", help="run the network over a scan and write the results to a folder")
    add_input_arguments(run)
    run.add_argument("-o", "--output", type=Path, required=True, metavar="DIR", help="output folder")
    run.add_argument("--force", action="store_true",
                     help="overwrite existing outputs (reconstruction.h5, debug_dump/, analysis/)")
    add_run_options(run)
    run.set_defaults(handler=command_run)


def output_paths(out_dir: Path) -> list[Path]:
    """Every file ``run`` writes under ``out_dir``."""
    from ptycho_gui.export.plan import DEBUG_DUMP_FILES

    return [out_dir / RECONSTRUCTION, *(out_dir / name for name in DEBUG_DUMP_FILES)]


def command_run(args: argparse.Namespace) -> int:
    """Run the network over the scan and write reconstruction.h5, the debug dump and the stats log."""
    from ptycho_gui.analysis.residual import ResidualAccumulator, physics_model_for
    from ptycho_gui.engine.finite import FiniteOutputMonitor
    from ptycho_gui.errors import IncompatibleInputsError
    from ptycho_gui.export.atomic import atomic_path, check_output_paths
    from ptycho_gui.export.debug_dump import DebugDumpCollector
    from ptycho_gui.export.reconstruction import ReconstructionWriter

    out_dir: Path = args.output
    check_output_paths(out_dir, output_paths(out_dir), args.force)
    run = open_run(args)
    try:
        physics = physics_model_for(run.model, run.dataset)
        residual = ResidualAccumulator(run.n_groups, run.model.C)
    except IncompatibleInputsError as exc:
        warn(f"no physics residual: {exc}")
        physics, residual = None, None
    destination = out_dir / RECONSTRUCTION
    progress = ProgressBar(run.n_batches, run.settings.batch_size * run.model.C)
    collector = DebugDumpCollector()
    monitor = FiniteOutputMonitor(run.model.path)
    print(f"{run.n_groups} groups of {run.model.C} on {run.device}, batches of {run.settings.batch_size}, "
          f"{run.settings.precision}; input scale {run.normalization_description}",
          file=sys.stderr)

    def record(result) -> None:
        monitor.add(result)
        writer.write_batch(result)
        if physics is not None:
            measured = run.read_inputs(result.group_indices) * run.input_scale
            residual.add(result.group_indices, physics.predict_batch(run, result), measured)
        collector.add(result)
        progress.advance()

    with STOP.graceful(), atomic_path(destination, overwrite=args.force, root=out_dir) as tmp:
        writer = ReconstructionWriter(tmp, run)
        try:
            output = run.execute(on_batch=record, should_stop=lambda: STOP.requested)
            writer.finish(output, residual, physics.probe_source if physics else "", _truth_metrics(run, output))
        finally:
            writer.close()
        collector.write(out_dir, output.canvas, run.positions, run.model.N, overwrite=args.force)
    if monitor.warning():
        warn(monitor.warning())
    if output.cancelled:
        print(f"\nptycho-inspect: interrupted: wrote {output.n_batches_done} of {run.n_batches} batches to "
              f"{destination} (marked cancelled: incomplete)", file=sys.stderr)
        return EXIT_INTERRUPTED
    rate = run.n_groups * run.model.C / max(output.seconds, 1e-9)
    print(f"wrote {destination} ({output.seconds:.1f} s, {rate:.0f} patterns/s)", file=sys.stderr)
    return EXIT_OK


def _truth_metrics(run, output):
    """The canvas compared with the dataset's objectGuess, or None without one (or on a mirrored canvas)."""
    from ptycho_gui.analysis.comparison import compare_with_object

    truth = run.dataset.object_guess
    if truth is None or output.canvas.mirrored or output.n_batches_done == 0:
        return None
    return compare_with_object(output.canvas, truth, run.dataset.pixel_size_m)
