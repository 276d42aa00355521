"""Reading ahead: the loader thread returns exactly what a sequential read would, in order, never more
than its depth ahead; the engine's results with prefetching and CUDA-style pipelining (forced on CPU)
equal the sequential ones, and a stop still ends the run between batches."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from ptycho_gui.demo import demo_paths
from ptycho_gui.engine.prefetch import Prefetcher
from ptycho_gui.engine.run import InferenceRun
from ptycho_gui.io.checkpoints import open_checkpoint
from ptycho_gui.io.datasets import open_dataset
from ptycho_gui.types import RunSettings


@pytest.fixture(scope="module")
def demo():
    checkpoint, dataset = demo_paths()
    return open_checkpoint(checkpoint), open_dataset(dataset)


class _RecordingLoad:
    """A load function that records, for every read, the index and how many batches were handed out."""

    def __init__(self):
        self.consumed = 0
        self.reads: list[tuple[int, int]] = []
        self.threads: set[int] = set()
        self.lock = threading.Lock()

    def __call__(self, index: int) -> np.ndarray:
        with self.lock:
            self.reads.append((index, self.consumed))
            self.threads.add(threading.get_ident())
        return np.full(3, index, dtype=np.float32)


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_prefetcher_hands_out_sequential_values_in_order_and_stays_bounded(depth: int):
    load = _RecordingLoad()
    prefetcher = Prefetcher(load, depth)
    order = list(range(12))
    got = []
    for position, index in enumerate(order):
        got.append(prefetcher.get(index, order[position + 1 :]))
        load.consumed += 1
        assert prefetcher.n_pending <= depth
    prefetcher.close()
    for index, value in zip(order, got, strict=True):
        np.testing.assert_array_equal(value, np.full(3, index, dtype=np.float32))
    reads = load.reads
    assert [index for index, _ in reads] == order, "every batch read once, in order"
    assert all(index - consumed <= depth for index, consumed in reads), "never more than depth batches ahead"
    assert load.threads == {next(iter(load.threads))} and threading.get_ident() not in load.threads


def test_prefetcher_reads_ahead_while_the_consumer_holds_a_batch():
    read_two = threading.Event()

    def load(index: int) -> int:
        if index == 2:
            read_two.set()
        return index

    prefetcher = Prefetcher(load, depth=2)
    assert prefetcher.get(0, [1, 2, 3]) == 0
    assert read_two.wait(timeout=30), "batches 1 and 2 are read while batch 0 is being used"
    assert prefetcher.n_pending == 2
    prefetcher.close()


def test_prefetcher_drops_requests_no_longer_upcoming_and_passes_errors_on():
    def load(index: int) -> int:
        if index == 5:
            raise ValueError("bad batch 5")
        return index

    prefetcher = Prefetcher(load, depth=2)
    assert prefetcher.get(0, [1, 2]) == 0
    assert prefetcher.get(7, [8]) == 7
    assert prefetcher.n_pending == 1
    with pytest.raises(ValueError, match="bad batch 5"):
        prefetcher.get(5)
    assert Prefetcher(load, depth=0).get(3, [4]) == 3
    prefetcher.close()


def _results(run: InferenceRun, **kwargs) -> list:
    return list(run.iter_batches(**kwargs))


def test_engine_results_with_prefetch_and_pipelining_equal_sequential(demo):
    model, dataset = demo
    sequential = InferenceRun(model, dataset, RunSettings(device="cpu", batch_size=8, n_groups=40, prefetch=0))
    ahead = InferenceRun(model, dataset, RunSettings(device="cpu", batch_size=8, n_groups=40, prefetch=3))
    ahead.pipeline_depth = 1
    order = [3, 0, 4, 1, 2]
    expected, got = _results(sequential, indices=order), _results(ahead, indices=order)
    assert [r.index for r in got] == order
    for a, b in zip(expected, got, strict=True):
        np.testing.assert_array_equal(a.patches, b.patches)
        np.testing.assert_array_equal(a.group_indices, b.group_indices)
        assert a.stats.scalars() == b.stats.scalars()
    np.testing.assert_array_equal(ahead.compute_batch(2).patches, expected[4].patches)


def test_pipelined_run_stops_between_batches_and_stitches_only_what_it_reports(demo):
    model, dataset = demo
    run = InferenceRun(model, dataset, RunSettings(device="cpu", batch_size=8, n_groups=40, keep_patches=False))
    run.pipeline_depth = 1
    seen: list[int] = []
    output = run.execute(on_batch=lambda r: seen.append(r.index), should_stop=lambda: len(seen) >= 2)
    assert seen == [0, 1] and output.n_batches_done == 2 and output.cancelled
    reference = run.new_stitcher()
    for index in seen:
        result = run.compute_batch(index)
        reference.add(result.group_indices, result.patches)
    np.testing.assert_allclose(output.canvas.weight, reference.canvas().weight)
