"""TensorFlow PtychoPINN bundles without TensorFlow: parity with TF's own outputs, eras, merge semantics,
the engine path, and one-line refusals that never run code from the file."""

from __future__ import annotations

import json
import os
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import SHARED_FIXTURES
from tf_bundle_factory import build_tf_bundle

from ptycho_gui.cli import main
from ptycho_gui.engine.forward import forward_arrays
from ptycho_gui.engine.run import InferenceRun
from ptycho_gui.io import tf_bundle
from ptycho_gui.io.checkpoints import open_checkpoint
from ptycho_gui.io.datasets import open_dataset
from ptycho_gui.types import RunSettings

TF_FIXTURES = SHARED_FIXTURES / "ptychopinn-tf"
FIXTURE_ERAS = {"head_gs1_sigmoid_s1": "current", "head_gs2_swish_s1": "current",
                "legacy_2025-11_gs1_sigmoid_s1": "legacy"}


def _tf_fixture(name: str) -> Path:
    folder = TF_FIXTURES / name
    if not folder.is_dir():
        if os.environ.get("CI"):
            raise RuntimeError(f"shared fixtures missing in CI: {folder}")
        pytest.skip(f"shared PtychoPINN TF fixtures not present at {folder}")
    return folder


def _norm_errors(mine: np.ndarray, ref: np.ndarray) -> tuple[float, float]:
    """(max|Δ|/max|ref|, relative L2), the contract's norm-wise parity measures."""
    delta = mine.astype(np.complex128) - ref
    return float(np.abs(delta).max() / np.abs(ref).max()), float(np.linalg.norm(delta) / np.linalg.norm(ref))


@pytest.mark.parametrize("name", sorted(FIXTURE_ERAS))
def test_forward_command_equals_tensorflow_obj_and_output(name: str, tmp_path: Path, capsys):
    folder = _tf_fixture(name)
    ref = np.load(folder / "reference.npz")
    inputs = tmp_path / "inputs.npz"
    np.savez(inputs, inputs=ref["X"].transpose(0, 3, 1, 2), offsets=ref["offsets"][:, 0].transpose(0, 2, 1))
    out = tmp_path / "out.npz"
    assert main(["forward", str(folder / "wts.h5.zip"), str(inputs), "-o", str(out), "--batch-size", "3"]) == 0
    result = np.load(out)
    assert result["patches"].dtype == np.complex64 and result["output"].dtype == np.complex64
    for mine, key in ((result["patches"], "obj"), (result["output"], "out")):
        reference = ref[key].transpose(0, 3, 1, 2)
        assert mine.shape == reference.shape
        max_rel, l2 = _norm_errors(mine, reference)
        assert max_rel <= 1e-4 and l2 <= 1e-5, (key, max_rel, l2)


@pytest.mark.parametrize("name", sorted(FIXTURE_ERAS))
def test_info_reports_format_family_and_detected_era(name: str, capsys):
    folder = _tf_fixture(name)
    assert main(["info", str(folder / "wts.h5.zip"), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["format"] == "ptychopinn-tf-bundle"
    assert info["family"] == "tf-diffraction_to_obj"
    assert info["era"] == FIXTURE_ERAS[name]
    assert info["config"]["combine_rule"] == ("A + iφ" if FIXTURE_ERAS[name] == "legacy" else "A·exp(iφ)")
    assert set(info["config"]) <= set(info["config_sources"])
    assert info["config_sources"]["intensity_scale"] == "model.h5 attribute"


VARIANTS = [
    {},
    {"gridsize": 2, "amp_activation": "swish"},
    {"gridsize": 2, "era": "legacy"},
    {"gridsize": 2, "object_big": False, "amp_activation": "relu"},
    {"gridsize": 2, "probe_big": False, "amp_activation": "softplus"},
    {"gridsize": 2, "pad_object": False},
    {"N": 128},
    {"gridsize": 3},
]


@pytest.mark.parametrize("options", VARIANTS, ids=lambda o: "-".join(f"{k}={v}" for k, v in o.items()) or "default")
def test_generated_bundle_loads_every_weight_by_class_order(options: dict, tmp_path: Path):
    parts = build_tf_bundle(**options)
    model = open_checkpoint(parts.write(tmp_path / "wts.h5.zip"))
    gridsize = options.get("gridsize", 1)
    assert (model.family, model.gridsize, model.C) == ("tf-diffraction_to_obj", gridsize, gridsize ** 2)
    assert model.era == options.get("era", "current")
    assert model.output_channels == 1
    state = model.network.state_dict()
    assert len(state) == 2 * len(parts.weights)
    config_order = [entry["name"] for entry in parts.config["config"]["layers"] if entry["class_name"] == "Conv2D"]
    assert config_order == list(parts.weights)
    assert config_order != sorted(config_order)
    for k, arrays in enumerate(parts.weights.values()):
        np.testing.assert_array_equal(state[f"convs.conv{k}.weight"].numpy(), arrays["0"].transpose(3, 2, 0, 1))
        np.testing.assert_array_equal(state[f"convs.conv{k}.bias"].numpy(), arrays["1"])
    rng = np.random.default_rng(1)
    inputs = rng.random((3, model.C, model.N, model.N)).astype(np.float32)
    offsets = rng.uniform(-3, 3, (3, model.C, 2)).astype(np.float32)
    result = forward_arrays(model, inputs, None, offsets - offsets.mean(axis=1, keepdims=True))
    cout = model.C if options.get("object_big", True) else 1
    assert result["patches"].shape == (3, cout, model.N, model.N)
    assert result["output"].shape == (3, 1, model.N, model.N)
    assert np.isfinite(result["output"]).all()


def test_gridsize1_output_is_obj_over_1001_in_the_centre_and_x1000_outside(tmp_path: Path):
    model = open_checkpoint(build_tf_bundle().write(tmp_path / "wts.h5.zip"))
    x = torch.rand(2, 1, 64, 64) * 500
    with torch.no_grad():
        out = model.network(x, torch.zeros(2, 1, 2))
        shown = model.predict(x, torch.zeros(2, 1, 2))
    centre = (slice(None), slice(None), slice(16, 48), slice(16, 48))
    torch.testing.assert_close(out.output[centre], out.obj[centre] / 1.001, rtol=1e-6, atol=0)
    border = torch.ones(64, 64, dtype=torch.bool)
    border[16:48, 16:48] = False
    torch.testing.assert_close(out.output[..., border], out.obj[..., border] / 0.001, rtol=1e-6, atol=0)
    assert torch.equal(shown[centre], out.output[centre])
    assert not shown[..., border].any()


def test_gridsize2_merge_translates_each_channel_by_minus_its_offset(tmp_path: Path):
    model = open_checkpoint(build_tf_bundle(gridsize=2).write(tmp_path / "wts.h5.zip"))
    x = torch.rand(1, 4, 64, 64) * 500
    offsets = torch.tensor([[[-3.0, -2.0], [3.0, -2.0], [-3.0, 2.0], [3.0, 2.0]]])
    with torch.no_grad():
        out = model.network(x, offsets)
    obj = out.obj[0].numpy()
    mask = np.zeros((64, 64))
    mask[16:48, 16:48] = 1
    num, den = np.zeros((64, 64), complex), np.zeros((64, 64))
    for c, (dx, dy) in enumerate(offsets[0].numpy().astype(int)):
        num += _shift(obj[c], -dx, -dy)
        den += _shift(mask, -dx, -dy)
    expected = num / (den + 0.001)
    np.testing.assert_allclose(out.output[0, 0].numpy(), expected, rtol=1e-5, atol=1e-5 * np.abs(expected).max())


def _shift(image: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """Content moved by (+dx, +dy) pixels with zero fill."""
    out = np.zeros_like(image)
    h, w = image.shape
    out[max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = image[max(-dy, 0):h - max(dy, 0),
                                                                      max(-dx, 0):w - max(dx, 0)]
    return out


def test_legacy_era_combines_amplitude_plus_i_phase(tmp_path: Path):
    current = open_checkpoint(build_tf_bundle(seed=3).write(tmp_path / "current.zip"))
    legacy = open_checkpoint(build_tf_bundle(seed=3, era="legacy").write(tmp_path / "legacy.zip"))
    assert (current.era, legacy.era) == ("current", "legacy")
    assert any("A + iφ" in note for note in legacy.notes)
    x = torch.rand(2, 1, 64, 64) * 500
    with torch.no_grad():
        polar = current.network(x, torch.zeros(2, 1, 2)).obj
        additive = legacy.network(x, torch.zeros(2, 1, 2)).obj
    amplitude, phase = additive.real, additive.imag
    torch.testing.assert_close(polar, torch.polar(amplitude, phase), rtol=1e-5, atol=1e-5)


def test_engine_stitches_merged_patches_at_group_centres(tmp_path: Path):
    model = open_checkpoint(build_tf_bundle(gridsize=2).write(tmp_path / "wts.h5.zip"))
    rng = np.random.default_rng(0)
    scan = tmp_path / "scan.npz"
    np.savez(scan, xcoords=rng.uniform(40, 60, 12), ycoords=rng.uniform(40, 60, 12),
             diff3d=rng.random((12, 64, 64)).astype(np.float32))
    run = InferenceRun(model, open_dataset(scan), RunSettings(device="cpu", batch_size=5))
    output = run.execute()
    members = run.member_positions
    np.testing.assert_allclose(run.positions, members.mean(axis=1, keepdims=True))
    assert output.patches.patches.shape == (run.n_groups, 1, 64, 64) and output.patches.filled.all()
    assert run.network_input_scale == pytest.approx(run.input_scale * 988.2117)
    result = run.compute_batch(1)
    rows = run.batch_group_indices(1)
    x = torch.from_numpy(run.read_inputs(rows)) * run.network_input_scale
    offsets = torch.from_numpy((members[rows].mean(axis=1, keepdims=True) - members[rows]).astype(np.float32))
    with torch.no_grad():
        expected = model.predict(x, offsets).numpy()
    np.testing.assert_array_equal(result.patches, expected)
    assert output.canvas.image.shape[0] > 0 and np.isfinite(output.canvas.image).all()


# ---------------------------------------------------------------------------------------------
# Refusals: one line, exit 3, and nothing from the file ever runs


class _Payload:
    """Pickles to a call that would create ``marker`` if anything ever unpickled it for real."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (exec, (f"open({str(self.marker)!r}, 'w').close()",))


def _lambda(parts):
    layer = parts.layer("amp")
    layer["class_name"] = "Lambda"
    layer["config"]["function"] = {"class_name": "__lambda__", "config": {"code": "ZXhpdA=="}}


def _unknown(parts):
    parts.layer("amp")["class_name"] = "FancyAttention"


def _savedmodel(parts):
    parts.members.update({"diffraction_to_obj/model.keras": None, "diffraction_to_obj/saved_model.pb": b"\x08\x01",
                          "diffraction_to_obj/keras_metadata.pb": b"{}",
                          "diffraction_to_obj/variables/variables.index": b"\x00"})


def _keras2(parts):
    parts.metadata["keras_version"] = "2.15.0"


def _missing_tensor(parts):
    del next(iter(parts.weights.values()))["1"]


def _misshaped_tensor(parts):
    arrays = list(parts.weights.values())[3]
    arrays["0"] = arrays["0"][:, :, :-1]


def _extra_tensor(parts):
    next(iter(parts.weights.values()))["2"] = np.zeros(3, np.float32)


def _no_scale(parts):
    parts.intensity_scale = None
    parts.params.pop("intensity_scale")


REFUSALS = {
    "lambda": (_lambda, "Lambda layer 'amp'"),
    "unknown-class": (_unknown, "unknown layer class 'FancyAttention'"),
    "savedmodel": (_savedmodel, "SavedModel-era"),
    "keras2": (_keras2, "Keras 2.15.0"),
    "missing-tensor": (_missing_tensor, "missing tensor layers/conv2d/vars/1"),
    "misshaped-tensor": (_misshaped_tensor, "expected float32"),
    "extra-tensor": (_extra_tensor, "unused tensors"),
    "no-intensity-scale": (_no_scale, "no intensity_scale"),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_refusals_exit_3_with_one_line_and_run_no_code(case: str, tmp_path: Path, capsys):
    mutate, expected = REFUSALS[case]
    marker = tmp_path / "code-ran"
    parts = build_tf_bundle(gridsize=2)
    parts.params["probe"] = _Payload(marker)
    parts.members["diffraction_to_obj/custom_objects.dill"] = pickle.dumps({"x": _Payload(marker)})
    mutate(parts)
    path = parts.write(tmp_path / "wts.h5.zip")
    for command in (["info", str(path)], ["forward", str(path), str(tmp_path / "none.npz"), "-o", "x.npz"]):
        assert main(command) == 3
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and expected in err and str(path) in err, err
    assert not marker.exists()


def test_oversized_member_is_refused_before_it_is_read(tmp_path: Path, monkeypatch, capsys):
    path = build_tf_bundle().write(tmp_path / "wts.h5.zip")
    monkeypatch.setattr(tf_bundle, "MAX_CONFIG_BYTES", 1000)
    assert main(["info", str(path)]) == 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'config.json' is " in err and "(cap 1000)" in err


def test_mismatched_layer_name_in_weights_is_refused(tmp_path: Path, capsys):
    parts = build_tf_bundle()
    names = list(parts.weights)
    parts.weights = {("conv2d_x" if i == 2 else n): a for i, (n, a) in enumerate(parts.weights.items())}
    path = parts.write(tmp_path / "wts.h5.zip")
    assert main(["info", str(path)]) == 3
    assert f"expects {names[2]!r}" in capsys.readouterr().err


def test_good_bundle_with_code_in_its_pickles_opens_without_running_it(tmp_path: Path):
    marker = tmp_path / "code-ran"
    parts = build_tf_bundle()
    parts.params["probe"] = _Payload(marker)
    parts.members["diffraction_to_obj/custom_objects.dill"] = pickle.dumps({"x": _Payload(marker)})
    model = open_checkpoint(parts.write(tmp_path / "wts.h5.zip"))
    assert model.config["params.N"] == 64
    assert not marker.exists()


def test_bare_savedmodel_zip_is_recognised_and_refused_by_era(tmp_path: Path, capsys):
    path = tmp_path / "wts.h5.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("diffraction_to_obj/saved_model.pb", b"\x08\x01")
        archive.writestr("diffraction_to_obj/variables/variables.index", b"\x00")
    assert main(["info", str(path)]) == 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "SavedModel-era" in err
