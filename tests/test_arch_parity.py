"""Every PtychoPINN torch generator fixture: ``forward`` and ``run --groups`` reproduce PtychoPINN's own outputs.

Tolerances (issue 8): max|Δ|/max|ref| ≤ 1e-4 and relative L2 ≤ 1e-5 for the forward patches; the
workflow canvas (bridge stitch; the study runner's own crop 32) to max|Δ|/max|ref| ≤ 1e-4.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from ptycho_gui.cli import main
from ptycho_gui.io.checkpoints import open_checkpoint

FIXTURES = {
    # name: (checkpoint inside the fixture, family, format, dataset relative to the fixture or None for lines_n64)
    "fno_gs1": ("wts.h5.zip", "fno", "ptychopinn-bundle", None),
    "fno_vanilla_gs1": ("wts.h5.zip", "fno_vanilla", "ptychopinn-bundle", None),
    "ffno_gs2": ("wts.h5.zip", "ffno", "ptychopinn-bundle", None),
    "cnn_realimag_gs2": ("wts.h5.zip", "cnn", "ptychopinn-bundle", None),
    "neuralop_uno_gs1": ("wts.h5.zip", "neuralop_uno", "ptychopinn-bundle", "data/lines_n128_test.npz"),
    "ffno_runner": ("runs/pinn_ffno", "ffno", "study-runner", None),
}
RUNNER_CROP = 32
FORWARD_SAMPLES = 9
FORWARD_BATCH = 8
"""The forward test runs an evenly spaced ≥ 9 of the reference samples in forward batches of 8 (so more than one
batch, the last one partial); the run test below runs them all."""


def _reference(arch_dir: Path, name: str) -> dict:
    with np.load(arch_dir / name / "reference.npz") as ref:
        return {key: ref[key] for key in ref.files}


def _max_rel(ours: np.ndarray, ref: np.ndarray) -> float:
    return float(np.abs(ours - ref).max() / np.abs(ref).max())


def _rel_l2(ours: np.ndarray, ref: np.ndarray) -> float:
    return float(np.linalg.norm(ours - ref) / np.linalg.norm(ref))


@pytest.mark.parametrize("name", list(FIXTURES))
def test_forward_reproduces_ptychopinn_forward_predict(arch_dir: Path, name: str, tmp_path: Path):
    """Evenly spaced samples across the scan (over one forward batch): the run test below compares every patch."""
    checkpoint = FIXTURES[name][0]
    ref = _reference(arch_dir, name)
    spaced = slice(None, None, max(1, len(ref["inputs"]) // FORWARD_SAMPLES))
    expected = ref["pred_patches"][spaced]
    inputs = tmp_path / "inputs.npz"
    np.savez(inputs, inputs=ref["inputs"][spaced], input_scale=ref["input_scale"][spaced])
    out = tmp_path / "out.npz"
    assert main(["forward", str(arch_dir / name / checkpoint), str(inputs), "-o", str(out), "--device", "cpu",
                 "--batch-size", str(FORWARD_BATCH)]) == 0
    with np.load(out) as result:
        patches = result["patches"]
    assert len(expected) >= FORWARD_SAMPLES > FORWARD_BATCH, "the samples fill more than one forward batch"
    assert patches.dtype == np.complex64 and patches.shape == expected.shape
    assert _max_rel(patches, expected) <= 1e-4
    assert _rel_l2(patches, expected) <= 1e-5


@pytest.mark.parametrize("name", list(FIXTURES))
def test_checkpoint_reports_family_and_format(arch_dir: Path, name: str):
    checkpoint, family, fmt, _ = FIXTURES[name]
    model = open_checkpoint(arch_dir / name / checkpoint)
    assert (model.family, model.format) == (family, fmt)
    summary = model.summary()
    assert summary["family"] == family and set(summary["config_sources"]) == set(summary["config"])
    if family != "cnn" and fmt == "ptychopinn-bundle":
        assert any("legacy load_torch_bundle" in note for note in model.notes)


def test_cnn_real_imag_head_is_resolved_from_the_metadata(arch_dir: Path):
    model = open_checkpoint(arch_dir / "cnn_realimag_gs2" / "wts.h5.zip")
    assert model.cnn_config.cnn_output_mode == "real_imag"
    assert model.config_sources["cnn_output_mode"] == "torch_scaling_metadata.pt model_config"


def test_runner_opens_from_the_folder_and_the_pt_alike(arch_dir: Path):
    folder = open_checkpoint(arch_dir / "ffno_runner" / "runs" / "pinn_ffno")
    weights = open_checkpoint(arch_dir / "ffno_runner" / "runs" / "pinn_ffno" / "model.pt")
    assert folder.sha256 == weights.sha256 and folder.config == weights.config
    assert folder.config_source == "config.json torch_runner_config"


@pytest.mark.parametrize("name", list(FIXTURES))
def test_run_with_ptychopinn_groups_reproduces_patches_and_workflow_canvas(
    arch_dir: Path, shared_dataset_path: Path, name: str, tmp_path: Path
):
    checkpoint, _, fmt, dataset = FIXTURES[name]
    ref = _reference(arch_dir, name)
    groups = tmp_path / "groups.npy"
    np.save(groups, ref["groups"])
    data = arch_dir / name / dataset if dataset else shared_dataset_path
    crop = RUNNER_CROP if fmt == "study-runner" else 20
    out = tmp_path / "run"
    assert main(["run", str(arch_dir / name / checkpoint), str(data), "-o", str(out), "--groups", str(groups),
                 "--stitch", "ptychopinn-bridge", "--crop", str(crop), "--device", "cpu", "--batch-size", "16"]) == 0
    with h5py.File(out / "reconstruction.h5", "r") as h5:
        patches = h5["patches"][()]
        canvas = h5["canvas"][()]
    assert _max_rel(patches, ref["pred_patches"]) <= 1e-4
    assert canvas.shape == ref["canvas"].shape
    assert _max_rel(canvas, ref["canvas"]) <= 1e-4
