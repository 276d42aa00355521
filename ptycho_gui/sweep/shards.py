"""A large scan split into shards of batches, each stitched on its own worker, merged exactly.

The frame of a canvas is fixed by the run's full position table, and its numerator and weight are sums over
groups, so shard sums over disjoint batches add up to the sums of a single run.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ptycho_gui.engine.run import InferenceRun
from ptycho_gui.io.checkpoints import open_checkpoint
from ptycho_gui.io.datasets import open_dataset
from ptycho_gui.types import Canvas, RunSettings


@dataclass(frozen=True)
class ShardSums:
    """What one shard task returns: the groups it stitched and its canvas numerator and weight."""

    groups: np.ndarray
    num: np.ndarray
    den: np.ndarray


def shard_batches(n_batches: int, n_shards: int) -> list[list[int]]:
    """Batch indices split into at most ``n_shards`` contiguous, non-empty shards."""
    return [list(part) for part in np.array_split(np.arange(n_batches), min(n_shards, n_batches)) if part.size]


def planned_batches(checkpoint: str, dataset: str, settings: RunSettings) -> int:
    """How many batches the run of this pair has (the plan only; nothing is computed)."""
    with open_dataset(dataset) as scan:
        return InferenceRun(open_checkpoint(checkpoint), scan, settings).n_batches


def shard_sums(checkpoint: str, dataset: str, settings: RunSettings, batches: list[int]) -> ShardSums:
    """Run the given batches of a pair and return their stitched sums (a Dask task: paths in, arrays out)."""
    with open_dataset(dataset) as scan:
        run = InferenceRun(open_checkpoint(checkpoint), scan, settings)
        run.prepare_thread()
        stitcher = run.new_stitcher()
        for _ in run.iter_batches(batches, stitcher=stitcher):
            pass
    return ShardSums(*stitcher.partial_sums())


def merged_canvas(checkpoint: str, dataset: str, settings: RunSettings, shards: list[ShardSums]) -> Canvas:
    """The canvas of the whole run from its shards' sums (each group counted once)."""
    with open_dataset(dataset) as scan:
        stitcher = InferenceRun(open_checkpoint(checkpoint), scan, settings).new_stitcher()
    for shard in shards:
        stitcher.merge_partial(shard.groups, shard.num, shard.den)
    return stitcher.canvas()


def sharded_canvas(client, checkpoint: str, dataset: str, settings: RunSettings, n_shards: int) -> Canvas:
    """One pair's canvas computed as ``n_shards`` Dask tasks on ``client`` and merged exactly."""
    from ptycho_gui.sweep.execute import RETRIES

    parts = shard_batches(planned_batches(checkpoint, dataset, settings), n_shards)
    futures = [client.submit(shard_sums, checkpoint, dataset, settings, part, retries=RETRIES, pure=False)
               for part in parts]
    return merged_canvas(checkpoint, dataset, settings, client.gather(futures))
