"""One sweep task: a pair run by the normal engine into its own folder, summarised as a plain row.

Tasks receive and return plain data only (paths, settings, numbers): models never travel between machines.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from ptycho_gui.analysis.comparison import compare_with_object
from ptycho_gui.engine.run import InferenceRun
from ptycho_gui.errors import PtychoGuiError
from ptycho_gui.export.run_folder import write_run_folder
from ptycho_gui.io.checkpoints import open_checkpoint
from ptycho_gui.io.datasets import open_dataset
from ptycho_gui.io.reconstruction_file import open_reconstruction
from ptycho_gui.sweep.pairs import Pair
from ptycho_gui.types import RunSettings

EXPECTED_FAILURES = (PtychoGuiError, ValueError, RuntimeError, OSError, MemoryError)
"""Failures that become a row's reason; anything else is a bug and propagates."""


def _unreachable(pair: Pair) -> str | None:
    """The reason a worker cannot see the pair's files (the shared filesystem is assumed and checked)."""
    for label, path in (("checkpoint", pair.checkpoint), ("dataset", pair.dataset)):
        if not Path(path).exists():
            return f"{label} {path} is not visible on this worker (a sweep needs a shared filesystem)"
    return None


def failed_row(pair: Pair, reason: str, seconds: float = 0.0, checkpoint: dict | None = None) -> dict:
    """The row of a pair that was refused or failed."""
    identity = checkpoint or {"path": pair.checkpoint, "sha256": None, "format": None, "family": None,
                              "gridsize": None}
    return {"index": pair.index, "checkpoint": identity, "dataset": pair.dataset, "reconstruction": None,
            "status": "failed", "reason": reason, "groups": None, "seconds": round(seconds, 6), "metrics": None,
            "residual_nmse_mean": None}


def saved_metrics(reconstruction: Path, dataset) -> dict | None:
    """Exactly what ``ptycho-inspect metrics RECON --truth DATASET --json`` prints, or None without objectGuess."""
    truth = dataset.object_guess
    if truth is None:
        return None
    saved = open_reconstruction(reconstruction)
    return json.loads(compare_with_object(saved.canvas, truth, dataset.pixel_size_m).to_json())


def run_pair(pair: Pair, settings: RunSettings) -> dict:
    """Run one pair and return its row; expected failures become a failed row with the reason."""
    start = time.perf_counter()
    reason = _unreachable(pair)
    if reason:
        return failed_row(pair, reason)
    identity = None
    try:
        model = open_checkpoint(pair.checkpoint)
        identity = {"path": pair.checkpoint, "sha256": model.sha256, "format": model.format,
                    "family": model.family, "gridsize": model.gridsize}
        with open_dataset(pair.dataset) as dataset:
            run = InferenceRun(model, dataset, settings)
            written = write_run_folder(run, Path(pair.out_dir), overwrite=True)
            metrics = saved_metrics(written.path, dataset) if written.output.n_batches_done else None
    except EXPECTED_FAILURES as exc:
        return failed_row(pair, " ".join(str(exc).split()), time.perf_counter() - start, identity)
    return {"index": pair.index, "checkpoint": identity, "dataset": pair.dataset,
            "reconstruction": str(written.path), "status": "ok", "reason": written.residual_problem or "",
            "groups": run.n_groups, "seconds": round(time.perf_counter() - start, 6), "metrics": metrics,
            "residual_nmse_mean": written.residual_nmse_mean}
