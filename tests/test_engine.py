"""The inference engine end to end on PtychoPINN's own groups: patches and canvases match its outputs;
batches on demand, cancellation, bounded memory and device choice behave as documented."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from ptycho_gui.engine.device import available_devices, resolve_device
from ptycho_gui.engine.patch_store import PatchStore
from ptycho_gui.engine.run import InferenceRun
from ptycho_gui.errors import IncompatibleInputsError
from ptycho_gui.io.checkpoints import open_checkpoint
from ptycho_gui.io.datasets import open_dataset
from ptycho_gui.types import RunSettings


@pytest.fixture(scope="module")
def model(bundle_path: Path):
    return open_checkpoint(bundle_path)


@pytest.fixture(scope="module")
def dataset(dataset_path: Path):
    return open_dataset(dataset_path)


@pytest.fixture(scope="module")
def shared_model(shared_bundle_path: Path):
    """PtychoPINN's own bundle: the parity tests compare with outputs PtychoPINN computed from it."""
    return open_checkpoint(shared_bundle_path)


@pytest.fixture(scope="module")
def shared_dataset(shared_dataset_path: Path):
    return open_dataset(shared_dataset_path)


def _groups_file(tmp_path: Path, groups: np.ndarray) -> str:
    path = tmp_path / "groups.npy"
    np.save(path, groups)
    return str(path)


def _max_rel_diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).max() / np.abs(b).max())


def test_engine_reproduces_ptychopinn_workflow_patches_and_bridge_canvas(shared_model, shared_dataset, workflow_reference,
                                                                        tmp_path):
    settings = RunSettings(device="cpu", batch_size=16, groups_file=_groups_file(tmp_path, workflow_reference["groups"]),
                           stitch="ptychopinn-bridge", normalization="bridge", keep_patches=True)
    run = InferenceRun(shared_model, shared_dataset, settings)
    output = run.execute()
    patches = output.patches.get(np.arange(run.n_groups))
    assert _max_rel_diff(patches, workflow_reference["pred_patches"]) <= 1e-4
    assert output.canvas.image.shape == workflow_reference["canvas"].shape
    assert _max_rel_diff(output.canvas.image, workflow_reference["canvas"]) <= 1e-4


def test_engine_reproduces_ptychopinn_cli_canvas(shared_model, shared_dataset, cli_reference, tmp_path):
    settings = RunSettings(device="cpu", batch_size=32, groups_file=_groups_file(tmp_path, cli_reference["groups"]),
                           stitch="ptychopinn-cli", normalization="bridge", keep_patches=False)
    run = InferenceRun(shared_model, shared_dataset, settings)
    output = run.execute()
    assert output.canvas.mirrored
    assert output.canvas.image.shape == cli_reference["canvas"].shape
    assert _max_rel_diff(output.canvas.image, cli_reference["canvas"]) <= 1e-4


def test_compute_batch_on_demand_equals_the_streamed_batch(model, dataset):
    run = InferenceRun(model, dataset, RunSettings(device="cpu", batch_size=16))
    streamed = next(iter(run.iter_batches(indices=[2])))
    again = run.compute_batch(2)
    np.testing.assert_array_equal(again.patches, streamed.patches)
    np.testing.assert_array_equal(again.group_indices, np.arange(32, 48))
    assert again.stats.input_scale == run.input_scale and again.seconds > 0
    np.testing.assert_array_equal(again.positions[..., 0], dataset.xcoords[again.groups])


def test_cancel_between_batches(model, dataset):
    run = InferenceRun(model, dataset, RunSettings(device="cpu", batch_size=16, keep_patches=False))
    seen: list[int] = []
    output = run.execute(on_batch=lambda r: seen.append(r.index), should_stop=lambda: len(seen) >= 2)
    assert seen == [0, 1] and output.n_batches_done == 2 and output.cancelled
    assert output.patches is None
    assert np.isnan(output.history.as_arrays()["global_mean"][2:]).all()


def test_grouping_is_seeded_and_reported(model, dataset):
    a = InferenceRun(model, dataset, RunSettings(device="cpu", seed=3))
    b = InferenceRun(model, dataset, RunSettings(device="cpu", seed=3))
    c = InferenceRun(model, dataset, RunSettings(device="cpu", seed=4))
    np.testing.assert_array_equal(a.groups, b.groups)
    assert not np.array_equal(a.groups, c.groups)
    assert a.neighbors == model.training_neighbors == 4  # the K of the generated bundle's data_config
    assert "bridge" in a.normalization_description


def test_normalization_conventions_differ_by_two(model, dataset):
    bridge = InferenceRun(model, dataset, RunSettings(device="cpu", normalization="bridge"))
    mmap = InferenceRun(model, dataset, RunSettings(device="cpu", normalization="mmap"))
    explicit = InferenceRun(model, dataset, RunSettings(device="cpu", normalization="1.5"))
    assert mmap.input_scale == pytest.approx(2 * bridge.input_scale)
    assert explicit.input_scale == 1.5


def test_patch_store_spills_to_disk_past_its_budget():
    store = PatchStore(n_groups=10, C=4, N=64, memory_budget=1024)
    assert store.on_disk
    batch = (np.random.default_rng(0).normal(size=(5, 4, 64, 64)) + 0j).astype(np.complex64)
    store.put(np.arange(5, 10), batch)
    np.testing.assert_array_equal(store.get(np.arange(5, 10)), batch)
    with pytest.raises(KeyError):
        store.get(np.arange(0, 5))
    store.close()


def test_incompatible_pattern_size_is_refused(model, tmp_path):
    path = tmp_path / "n32.npz"
    rng = np.random.default_rng(0)
    np.savez(path, diff3d=rng.random((8, 32, 32), dtype=np.float32), xcoords=rng.random(8) * 10,
             ycoords=rng.random(8) * 10)
    with pytest.raises(IncompatibleInputsError, match="64×64"):
        InferenceRun(model, open_dataset(path), RunSettings(device="cpu"))


def test_device_choice():
    assert resolve_device("cpu") == torch.device("cpu")
    assert available_devices()[0] == "auto" and "cpu" in available_devices()
    if not torch.cuda.is_available():
        assert resolve_device("auto") in (torch.device("cpu"), torch.device("mps"))
        with pytest.raises(ValueError, match="CUDA is not available"):
            resolve_device("cuda:0")
    with pytest.raises(ValueError, match="unknown device"):
        resolve_device("tpu-ish")
