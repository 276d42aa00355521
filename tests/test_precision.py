"""Reduced precision: bf16/fp16 runs report, per batch, their measured relative error against an fp32
recompute, which stays within the formats' bounds and agrees with an independent fp32 run; fp32 is
untouched (error 0, same patches); TF32 is off unless asked for."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ptycho_gui.demo import demo_paths
from ptycho_gui.engine.device import set_tf32
from ptycho_gui.engine.precision import PRECISION_SAMPLE_GROUPS
from ptycho_gui.engine.run import InferenceRun
from ptycho_gui.io.checkpoints import open_checkpoint
from ptycho_gui.io.datasets import open_dataset
from ptycho_gui.types import RunSettings

BOUNDS = {"bf16": 3e-2, "fp16": 5e-3}
"""Relative RMS error bounds: a few units of each format's rounding (2⁻⁸ and 2⁻¹¹) through the network."""


@pytest.fixture(scope="module")
def demo():
    checkpoint, dataset = demo_paths()
    return open_checkpoint(checkpoint), open_dataset(dataset)


@pytest.fixture(scope="module")
def fp32_batch(demo):
    model, dataset = demo
    return InferenceRun(model, dataset, RunSettings(device="cpu", batch_size=3, n_groups=3)).compute_batch(0)


def _relative_rms(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_reduced_precision_reports_its_measured_error_within_bounds(demo, fp32_batch, precision: str):
    model, dataset = demo
    run = InferenceRun(model, dataset, RunSettings(device="cpu", batch_size=3, n_groups=3, precision=precision))
    result = run.compute_batch(0)
    assert result.patches.dtype == np.complex64
    sample = slice(0, PRECISION_SAMPLE_GROUPS)
    measured = _relative_rms(result.patches[sample], fp32_batch.patches[sample])
    assert 0 < result.stats.precision_error <= BOUNDS[precision]
    assert result.stats.precision_error == pytest.approx(measured, rel=1e-3)
    assert _relative_rms(result.patches, fp32_batch.patches) <= BOUNDS[precision]
    assert "precision_error" in result.stats.scalars()


def test_fp32_is_unchanged_and_reports_no_error(demo, fp32_batch):
    assert fp32_batch.stats.precision_error == 0.0
    model, dataset = demo
    x = torch.from_numpy(InferenceRun(model, dataset, RunSettings(device="cpu", n_groups=3)).read_inputs(np.arange(3)))
    with torch.inference_mode():
        bare = model.network(x * np.float32(fp32_batch.input_scale)).numpy()
    np.testing.assert_array_equal(fp32_batch.patches, bare)


def test_unknown_precision_is_refused(demo):
    model, dataset = demo
    with pytest.raises(ValueError, match="unknown precision"):
        InferenceRun(model, dataset, RunSettings(device="cpu", n_groups=3, precision="int8"))


def test_tf32_is_off_unless_asked_for(demo):
    model, dataset = demo
    set_tf32(True)
    InferenceRun(model, dataset, RunSettings(device="cpu", n_groups=3)).prepare_thread()
    assert torch.backends.cudnn.conv.fp32_precision == "ieee" == torch.backends.cuda.matmul.fp32_precision
    InferenceRun(model, dataset, RunSettings(device="cpu", n_groups=3, tf32=True)).prepare_thread()
    assert torch.backends.cudnn.conv.fp32_precision == "tf32" == torch.backends.cuda.matmul.fp32_precision
    set_tf32(False)
