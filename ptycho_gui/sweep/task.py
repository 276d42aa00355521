"""One sweep task: a pair run by the normal engine into its own folder, summarised as a plain row.

Tasks receive and return plain data only (paths, settings, numbers, arrays): models never travel between
machines. A sharded pair is ``run_shard`` tasks whose results ``run_pair`` merges and writes.
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
from ptycho_gui.sweep.shards import ShardResults, replayed_output, shard_results
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


def _reason(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def run_shard(pair: Pair, settings: RunSettings, shard: int, n_shards: int) -> ShardResults:
    """Compute shard ``shard`` of ``n_shards`` of a pair; an expected failure is returned as the shard's error."""
    reason = _unreachable(pair)
    if reason:
        return ShardResults(None, error=reason)
    try:
        return shard_results(pair.checkpoint, pair.dataset, settings, shard, n_shards)
    except EXPECTED_FAILURES as exc:
        return ShardResults(None, error=_reason(exc))


def run_pair(pair: Pair, settings: RunSettings, shards: list[ShardResults] | None = None) -> dict:
    """Run one pair (or write it from its computed ``shards``) and return its row; expected failures become a
    failed row with the reason."""
    start = time.perf_counter()
    reason = _unreachable(pair) or next((shard.error for shard in shards or [] if shard.error), None)
    if reason:
        return failed_row(pair, reason)
    shard_seconds = sum(shard.seconds for shard in shards or [])
    identity = None
    try:
        model = open_checkpoint(pair.checkpoint)
        identity = {"path": pair.checkpoint, "sha256": model.sha256, "format": model.format,
                    "family": model.family, "gridsize": model.gridsize}
        with open_dataset(pair.dataset) as dataset:
            run = InferenceRun(model, dataset, settings)
            compute = None if shards is None else (lambda on_batch: replayed_output(run, shards, on_batch))
            written = write_run_folder(run, Path(pair.out_dir), overwrite=True, compute=compute)
            metrics = saved_metrics(written.path, dataset) if written.output.n_batches_done else None
    except EXPECTED_FAILURES as exc:
        return failed_row(pair, _reason(exc), shard_seconds + time.perf_counter() - start, identity)
    seconds = shard_seconds + time.perf_counter() - start
    return {"index": pair.index, "checkpoint": identity, "dataset": pair.dataset,
            "reconstruction": str(written.path), "status": "ok", "reason": written.residual_problem or "",
            "groups": run.n_groups, "seconds": round(seconds, 6), "metrics": metrics,
            "residual_nmse_mean": written.residual_nmse_mean}
