"""--batch-size auto against a fake memory limit, and out-of-memory halving by fault injection: the
batch the engine picks is the largest that fits, and a forward pass that runs out of memory is
retried in halves, the user is told, and the results are those of an unfailing run."""

from __future__ import annotations

import argparse

import numpy as np
import pytest
import torch

from ptycho_gui.cli.common import add_run_options, settings_from_args
from ptycho_gui.demo import demo_paths
from ptycho_gui.engine.batch_size import AUTO_MARGIN, DeviceMemoryProbe, auto_batch_size
from ptycho_gui.engine.device_stitching import canvas_bytes
from ptycho_gui.engine.run import InferenceRun
from ptycho_gui.io.checkpoints import open_checkpoint
from ptycho_gui.io.datasets import open_dataset
from ptycho_gui.types import RunSettings

MiB = 1 << 20


@pytest.fixture(scope="module")
def demo():
    checkpoint, dataset = demo_paths()
    return open_checkpoint(checkpoint), open_dataset(dataset)


class FakeMemory:
    """A device with ``free`` bytes whose forward pass needs ``fixed + per_group × batch`` at its peak."""

    def __init__(self, free: int | None, fixed: int, per_group: int):
        self.free, self.fixed, self.per_group = free, fixed, per_group
        self.probed: list[int] = []

    def free_bytes(self) -> int | None:
        return self.free

    def forward_peak_bytes(self, forward, batch: int) -> int:
        forward(batch)
        self.probed.append(batch)
        return self.fixed + self.per_group * batch


def test_auto_batch_size_is_the_largest_that_fits_the_fake_limit():
    memory = FakeMemory(free=1000 * MiB, fixed=50 * MiB, per_group=3 * MiB)
    chosen = auto_batch_size(memory, lambda batch: None, io_bytes_per_group=MiB, reserved_bytes=100 * MiB, limit=10_000)
    budget = 1000 * MiB * (1 - AUTO_MARGIN) - 100 * MiB - 50 * MiB
    assert chosen == int(budget // (4 * MiB)) and memory.probed == [1, 2]
    assert chosen * 4 * MiB + 150 * MiB <= 1000 * MiB * (1 - AUTO_MARGIN) < (chosen + 1) * 4 * MiB + 150 * MiB
    assert auto_batch_size(memory, lambda batch: None, MiB, 0, limit=64) == 64
    assert auto_batch_size(FakeMemory(10 * MiB, 50 * MiB, 3 * MiB), lambda b: None, 0, 0, limit=64) == 1
    assert auto_batch_size(FakeMemory(None, 0, 1), lambda b: None, 0, 0, limit=64) is None


def test_engine_auto_batch_size_uses_the_memory_query(demo):
    model, dataset = demo
    settings = RunSettings(device="cpu", auto_batch_size=True, batch_size=5, n_groups=200)
    memory = FakeMemory(free=400 * MiB, fixed=0, per_group=10 * MiB)
    run = InferenceRun(model, dataset, settings, memory=memory)
    io_bytes = model.C * model.N * model.N * (4 * (settings.prefetch + 2) + 8 * (run.pipeline_depth + 2))
    expected = int((400 * MiB * (1 - AUTO_MARGIN) - canvas_bytes(run.new_stitcher())) // (10 * MiB + io_bytes))
    assert run.settings.batch_size == expected == run.chunk_size and run.n_batches == -(-200 // expected)
    unknown = InferenceRun(model, dataset, settings, memory=FakeMemory(None, 0, 1))
    assert unknown.settings.batch_size == 5


def test_real_memory_probe_grows_with_the_batch(demo):
    model, _ = demo
    probe = DeviceMemoryProbe(torch.device("cpu"), model.network)

    def forward(batch: int) -> None:
        with torch.inference_mode():
            model.network(torch.zeros(batch, model.C, model.N, model.N))

    assert probe.free_bytes() > 0
    assert 0 < probe.forward_peak_bytes(forward, 1) < probe.forward_peak_bytes(forward, 2)


def test_cli_batch_size_auto():
    parser = argparse.ArgumentParser()
    add_run_options(parser)
    settings = settings_from_args(parser.parse_args(["--batch-size", "auto", "--precision", "bf16", "--prefetch", "0"]))
    assert settings.auto_batch_size and settings.precision == "bf16" and settings.prefetch == 0
    assert not settings.tf32
    assert settings_from_args(parser.parse_args(["--batch-size", "7"])).batch_size == 7
    with pytest.raises(SystemExit):
        parser.parse_args(["--batch-size", "lots"])


def _failing_above(run: InferenceRun, limit: int, calls: list[int]):
    """Fault injection: the run's predict raises torch.OutOfMemoryError for passes above ``limit`` groups."""
    real = run._predict

    def predict(x: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
        calls.append(x.shape[0])
        if x.shape[0] > limit:
            raise torch.OutOfMemoryError(f"fake: {x.shape[0]} groups do not fit")
        return real(x, offsets)

    run._predict = predict


def test_out_of_memory_halves_the_batch_continues_and_tells_the_user(demo):
    model, dataset = demo
    settings = RunSettings(device="cpu", batch_size=16, n_groups=40)
    reference = InferenceRun(model, dataset, settings).execute()
    run = InferenceRun(model, dataset, settings)
    told: list[str] = []
    run.on_notice = told.append
    calls: list[int] = []
    _failing_above(run, 5, calls)
    output = run.execute()
    assert run.chunk_size == 4 and run.settings.batch_size == 16 and run.n_batches == 3
    assert calls[:7] == [16, 8, 4, 4, 4, 4, 4], "16 fails, 8 fails, then passes of 4"
    assert max(calls[7:]) == 4, "later batches start at the halved size"
    assert len(told) == 2 and "out of memory" in told[0] and "8 groups per pass" in told[0] and told == run.notices
    assert output.n_batches_done == 3 and not output.cancelled
    for index in range(3):
        np.testing.assert_allclose(output.patches.get(run.batch_group_indices(index)),
                                   reference.patches.get(run.batch_group_indices(index)), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(output.canvas.image, reference.canvas.image, rtol=1e-5, atol=1e-6)


def test_out_of_memory_at_one_group_is_a_runtime_failure(demo):
    model, dataset = demo
    run = InferenceRun(model, dataset, RunSettings(device="cpu", batch_size=4, n_groups=8))
    _failing_above(run, 0, [])
    with pytest.raises(torch.OutOfMemoryError):
        run.compute_batch(0)
    assert run.chunk_size == 1
