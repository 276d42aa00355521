"""A large scan split into shards of batches, each computed and stitched on its own worker, merged exactly.

The frame of a canvas is fixed by the run's full position table, and its numerator and weight are sums over
groups, so shard sums over disjoint batches add up to the sums of a single run. Each shard also returns its
batches' results (patches and statistics), so the pair's ``reconstruction.h5`` is written as ``run`` writes it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ptycho_gui.engine.run import InferenceRun, RunOutput
from ptycho_gui.engine.statistics import StatsHistory
from ptycho_gui.io.checkpoints import open_checkpoint
from ptycho_gui.io.datasets import open_dataset
from ptycho_gui.types import BatchResult, Canvas, RunSettings

RETRIES = 3
"""How many times Dask reruns a task whose worker died (shard and pair tasks alike)."""


@dataclass(frozen=True)
class ShardSums:
    """A shard's stitched sums: the groups it stitched and its canvas numerator and weight."""

    groups: np.ndarray
    num: np.ndarray
    den: np.ndarray


@dataclass(frozen=True)
class ShardResults:
    """What one shard task returns: its sums, its batches' results, its compute time, or why it failed."""

    sums: ShardSums | None
    results: list[BatchResult] = field(default_factory=list)
    seconds: float = 0.0
    error: str | None = None


def shard_batches(n_batches: int, n_shards: int) -> list[list[int]]:
    """Batch indices split into ``n_shards`` contiguous shards (the last ones empty when batches are fewer)."""
    return [list(part) for part in np.array_split(np.arange(n_batches), n_shards)]


def shard_results(checkpoint: str, dataset: str, settings: RunSettings, shard: int, n_shards: int) -> ShardResults:
    """Run shard ``shard`` of ``n_shards`` of a pair (a Dask task: paths in, arrays out); the run's plan picks
    its batches, so no process but the worker opens the model."""
    start = time.perf_counter()
    with open_dataset(dataset) as scan:
        run = InferenceRun(open_checkpoint(checkpoint), scan, settings)
        run.prepare_thread()
        stitcher = run.new_stitcher()
        results = list(run.iter_batches(shard_batches(run.n_batches, n_shards)[shard], stitcher=stitcher))
    return ShardResults(ShardSums(*stitcher.partial_sums()), results, time.perf_counter() - start)


def merge_into(run: InferenceRun, shards: list[ShardResults]) -> Canvas:
    """The canvas of the whole run from its shards' sums (each group counted once)."""
    stitcher = run.new_stitcher()
    for shard in shards:
        stitcher.merge_partial(shard.sums.groups, shard.sums.num, shard.sums.den)
    return stitcher.canvas()


def replayed_output(run: InferenceRun, shards: list[ShardResults], on_batch=None) -> RunOutput:
    """The RunOutput of ``run`` computed by its shards: their batches recorded in order, the canvas merged."""
    history = StatsHistory(run.n_batches)
    results = sorted((result for shard in shards for result in shard.results), key=lambda result: result.index)
    for result in results:
        history.record(result.index, result.stats)
        if on_batch is not None:
            on_batch(result)
    return RunOutput(run=run, canvas=merge_into(run, shards), history=history, patches=None,
                     n_batches_done=len(results), cancelled=len(results) < run.n_batches,
                     seconds=sum(shard.seconds for shard in shards))


def sharded_canvas(client, checkpoint: str, dataset: str, settings: RunSettings, n_shards: int) -> Canvas:
    """One pair's canvas computed as ``n_shards`` Dask tasks on ``client`` and merged exactly."""
    futures = [client.submit(shard_results, checkpoint, dataset, settings, shard, n_shards, retries=RETRIES,
                             pure=False) for shard in range(n_shards)]
    shards = client.gather(futures)
    with open_dataset(dataset) as scan:
        return merge_into(InferenceRun(open_checkpoint(checkpoint), scan, settings), shards)
