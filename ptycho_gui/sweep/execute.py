"""Run a sweep's tasks in-process or through Dask distributed (a LocalCluster or an existing scheduler).

Each pair is one Dask task keyed by its index (with ``shards`` > 1: that many shard tasks, then a task that
merges them and writes the pair's folder); Dask reruns a task whose worker was lost (``retries``), and
results are collected by pair index, so a rerun never counts a pair twice.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from ptycho_gui.errors import InvalidInputError
from ptycho_gui.sweep.pairs import Pair
from ptycho_gui.sweep.shards import RETRIES
from ptycho_gui.sweep.task import run_pair, run_shard
from ptycho_gui.types import RunSettings

MISSING_DASK = "Dask distributed is not installed: pip install 'ptycho-gui[sweep]' (the 'sweep' extra)"


def default_workers() -> int:
    """Workers of the default LocalCluster: one per CPU core this process may use."""
    usable = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else range(os.cpu_count() or 1)
    return max(1, len(usable))


def run_in_process(pairs: list[Pair], settings: RunSettings, on_row: Callable[[dict], None],
                   shards: int = 1) -> dict[int, dict]:
    """Every pair (each as ``shards`` shards when more than 1), one after another, in this process."""
    rows = {}
    for pair in pairs:
        parts = [run_shard(pair, settings, shard, shards) for shard in range(shards)] if shards > 1 else None
        rows[pair.index] = run_pair(pair, settings, parts)
        on_row(rows[pair.index])
    return rows


def _distributed():
    """The dask.distributed module, or a clear message naming the extra."""
    try:
        import distributed
    except ImportError as exc:
        raise InvalidInputError("dask", MISSING_DASK) from exc
    return distributed


def _pair_future(client, pair: Pair, settings: RunSettings, shards: int, tag: str):
    """The future of a pair's row: one task, or ``shards`` shard tasks feeding a merging task."""
    parts = None
    if shards > 1:
        parts = [client.submit(run_shard, pair, settings, shard, shards, retries=RETRIES, pure=False,
                               key=f"ptycho-sweep-shard-{pair.index}-{shard}-{tag}") for shard in range(shards)]
    return client.submit(run_pair, pair, settings, parts, key=f"ptycho-sweep-pair-{pair.index}-{tag}",
                         retries=RETRIES, pure=False)


def run_on_client(client, pairs: list[Pair], settings: RunSettings, on_row: Callable[[dict], None],
                  shards: int = 1) -> dict[int, dict]:
    """Every pair as Dask tasks on ``client``; rows stream back as pairs finish, each pair counted once."""
    distributed = _distributed()
    futures = [_pair_future(client, pair, settings, shards, str(id(pairs))) for pair in pairs]
    rows: dict[int, dict] = {}
    for future in distributed.as_completed(futures):
        row = future.result()
        if row["index"] not in rows:
            rows[row["index"]] = row
            on_row(row)
    return rows


def run_sweep(pairs: list[Pair], settings: RunSettings, on_row: Callable[[dict], None],
              scheduler: str | None = None, workers: int | None = None, shards: int = 1) -> list[dict]:
    """Every pair's row, in pair order: in-process for one worker, else on a LocalCluster or ``scheduler``;
    ``shards`` > 1 splits each pair's batches into that many tasks whose canvas sums merge exactly."""
    if scheduler is None and (workers or default_workers()) == 1:
        rows = run_in_process(pairs, settings, on_row, shards)
    else:
        distributed = _distributed()
        if scheduler is not None:
            with distributed.Client(scheduler) as client:
                rows = run_on_client(client, pairs, settings, on_row, shards)
        else:
            with distributed.LocalCluster(n_workers=workers or default_workers(), threads_per_worker=1,
                                          processes=True, dashboard_address=":0") as cluster, \
                    distributed.Client(cluster) as client:
                rows = run_on_client(client, pairs, settings, on_row, shards)
    return [rows[pair.index] for pair in pairs]
