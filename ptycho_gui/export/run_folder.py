"""One run written to a folder: ``reconstruction.h5`` (canvas, residual, truth metrics) and the debug dump.

The service behind ``ptycho-inspect run`` and every pair of ``ptycho-inspect sweep``, so both write the same layout.
The whole output set is checked before any computing (existing files refused unless ``overwrite``, no symbolic
link inside the folder followed); the debug dump is written before reconstruction.h5 is renamed into place, so a
reconstruction never exists without its debug files; ``should_stop`` ends the run after a batch, and what was
computed is written, marked ``cancelled``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ptycho_gui.analysis.comparison import Comparison, compare_with_object
from ptycho_gui.analysis.residual import PhysicsModel, ResidualAccumulator, physics_model_for
from ptycho_gui.engine.finite import FiniteOutputMonitor
from ptycho_gui.engine.run import InferenceRun, RunOutput
from ptycho_gui.errors import IncompatibleInputsError
from ptycho_gui.export.atomic import atomic_path, check_output_paths
from ptycho_gui.export.debug_dump import DebugDumpCollector
from ptycho_gui.export.plan import DEBUG_DUMP_FILES
from ptycho_gui.export.reconstruction import ReconstructionWriter


@dataclass
class RunFolder:
    """What a written run folder holds, in memory: the run's output, truth metrics and residual."""

    path: Path
    output: object
    metrics: Comparison | None
    residual_nmse: np.ndarray | None
    residual_problem: str | None
    finite_warning: str | None = None
    """Set when some patches were NaN or infinite (reported, never written as NaN into JSON)."""

    @property
    def residual_nmse_mean(self) -> float | None:
        """Mean per-pattern NMSE of the physics residual, or None without a probe."""
        return None if self.residual_nmse is None else float(np.mean(self.residual_nmse))


RECONSTRUCTION = "reconstruction.h5"


def output_paths(out_dir: Path) -> list[Path]:
    """Every file a run folder holds under ``out_dir``."""
    return [out_dir / RECONSTRUCTION, *(out_dir / name for name in DEBUG_DUMP_FILES)]


def check_run_folder(out_dir: Path, overwrite: bool) -> None:
    """Refuse (before any computing) a folder whose outputs exist, unless ``overwrite``; never follow links in it."""
    check_output_paths(Path(out_dir), output_paths(Path(out_dir)), overwrite)


def write_run_folder(run: InferenceRun, out_dir: Path, overwrite: bool = False,
                     on_batch: Callable[[], None] | None = None,
                     should_stop: Callable[[], bool] | None = None,
                     compute: Callable[[Callable], RunOutput] | None = None) -> RunFolder:
    """Run the network over the scan and write reconstruction.h5 plus the debug dump into ``out_dir``.

    ``compute(on_batch)`` replaces ``run.execute`` when the batches were computed elsewhere (a sharded sweep
    pair replays its shards' results in batch order).
    """
    out_dir = Path(out_dir)
    check_run_folder(out_dir, overwrite)
    try:
        physics = physics_model_for(run.model, run.dataset)
        residual = ResidualAccumulator(run.n_groups, run.model.C)
        problem = None
    except IncompatibleInputsError as exc:
        physics, residual, problem = None, None, str(exc)
    destination = out_dir / RECONSTRUCTION
    collector = DebugDumpCollector()
    monitor = FiniteOutputMonitor(run.model.path)

    def record(result) -> None:
        monitor.add(result)
        _record(run, result, writer, collector, physics, residual, on_batch)

    with atomic_path(destination, overwrite=overwrite, root=out_dir) as tmp:
        writer = ReconstructionWriter(tmp, run)
        try:
            if compute is None:
                output = run.execute(on_batch=record, should_stop=should_stop)
            else:
                output = compute(record)
            metrics = truth_metrics(run, output)
            writer.finish(output, residual, physics.probe_source if physics else "", metrics)
        finally:
            writer.close()
        collector.write(out_dir, output.canvas, run.positions, run.model.N, overwrite=overwrite)
    nmse = None if residual is None else residual.nmse()
    return RunFolder(destination, output, metrics, nmse, problem, monitor.warning())


def truth_metrics(run: InferenceRun, output) -> Comparison | None:
    """The canvas compared with the dataset's objectGuess, or None without one (or on a mirrored canvas)."""
    truth = run.dataset.object_guess
    if truth is None or output.canvas.mirrored or output.n_batches_done == 0:
        return None
    return compare_with_object(output.canvas, truth, run.dataset.pixel_size_m)


def _record(run: InferenceRun, result, writer: ReconstructionWriter, collector: DebugDumpCollector,
            physics: PhysicsModel | None, residual: ResidualAccumulator | None,
            on_batch: Callable[[], None] | None) -> None:
    writer.write_batch(result)
    if physics is not None:
        measured = run.read_inputs(result.group_indices) * run.input_scale
        residual.add(result.group_indices, physics.predict_batch(run, result), measured)
    collector.add(result)
    if on_batch is not None:
        on_batch()
