"""Opening checkpoints by content: real bundle and .ckpt, strict refusals, unsafe and corrupt files."""

from __future__ import annotations

import copy
import hashlib
import io
import json
import os
import pickle
import random
import re
import zipfile
from pathlib import Path

import pytest
import torch

from ptycho_gui.errors import InvalidInputError, UnsupportedModelError
from ptycho_gui.io.checkpoints import (
    FORMAT_BUNDLE,
    FORMAT_CKPT,
    SOURCE_HPARAMS,
    SOURCE_METADATA,
    SOURCE_PARAMS,
    open_checkpoint,
)

torch.set_num_threads(1)

MODEL_PTH = "diffraction_to_obj/model.pth"
METADATA = "torch_scaling_metadata.pt"
FIRST_CONV = "model.autoencoder.encoder.blocks.0.conv1.weight"
HEAD_BIAS = "model.autoencoder.decoder_phase.phase.conv2.bias"


class _Payload:
    """Pickles to ``os.system('touch <marker>')``: proves a loader never executes a pickle."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.fixture(scope="module")
def bundle_members(bundle_path) -> dict[str, bytes]:
    with zipfile.ZipFile(bundle_path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


@pytest.fixture(scope="module")
def bundle_state(bundle_members) -> dict:
    return torch.load(io.BytesIO(bundle_members[MODEL_PTH]), weights_only=True)


@pytest.fixture(scope="module")
def bundle_metadata(bundle_members) -> dict:
    return torch.load(io.BytesIO(bundle_members[METADATA]), weights_only=True)


@pytest.fixture(scope="module")
def ckpt_payload(ckpt_path) -> dict:
    payload = torch.load(ckpt_path, weights_only=True, map_location="cpu")
    keep = ("epoch", "global_step", "pytorch-lightning_version", "state_dict", "hyper_parameters")
    return {k: payload[k] for k in keep}


def _write_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def _torch_bytes(obj) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def _bundle_with(tmp_path: Path, members: dict[str, bytes], replacements: dict[str, bytes | None]) -> Path:
    """A copy of the bundle with members replaced (bytes) or removed (None)."""
    rewritten = dict(members)
    for name, data in replacements.items():
        if data is None:
            rewritten.pop(name)
        else:
            rewritten[name] = data
    return _write_zip(tmp_path / "wts.h5.zip", rewritten)


def _state_variants(state: dict) -> dict[str, tuple[dict, str]]:
    removed = {k: v for k, v in state.items() if k != HEAD_BIAS}
    extra = {**state, "model.autoencoder.decoder_amp.extra.weight": torch.zeros(3)}
    reshaped = {**state, FIRST_CONV: torch.zeros(7, 1, 3, 3)}
    expected = tuple(state[FIRST_CONV].shape)
    return {
        "removed": (removed, f"missing tensor {HEAD_BIAS}"),
        "extra": (extra, "unexpected tensor model.autoencoder.decoder_amp.extra.weight"),
        "reshaped": (reshaped, f"tensor {FIRST_CONV} has shape (7, 1, 3, 3) but the network expects {expected}"),
    }


def _assert_one_line(exc: pytest.ExceptionInfo) -> None:
    assert "\n" not in str(exc.value) and "Traceback" not in str(exc.value)


def test_bundle_loads_strictly_with_its_metadata_config(bundle_path):
    loaded = open_checkpoint(bundle_path)
    assert loaded.format == FORMAT_BUNDLE
    assert (loaded.N, loaded.gridsize, loaded.C) == (64, 2, 4)
    assert loaded.family == "cnn"
    assert loaded.config_source == SOURCE_METADATA
    assert loaded.unverified == []
    assert loaded.normalization == "bridge"
    assert loaded.training_neighbors == 4
    cfg = loaded.cnn_config
    assert (cfg.n_filters_scale, cfg.cbam_encoder, cfg.amp_activation, cfg.object_big, cfg.probe_big) == (
        1, True, "swish", True, True,
    )
    assert loaded.sha256 == hashlib.sha256(bundle_path.read_bytes()).hexdigest()
    assert not loaded.network.training
    assert any("SiLU" in note for note in loaded.notes)
    assert any("bridge" in note for note in loaded.notes)


def test_bundle_network_holds_the_bundle_weights(bundle_path, bundle_state):
    network = open_checkpoint(bundle_path).network
    loaded = network.state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in bundle_state.items())


def test_summary_is_json_and_omits_the_network(bundle_path, bundle_state):
    summary = open_checkpoint(bundle_path).summary()
    text = json.dumps(summary)
    assert "network" not in summary
    assert json.loads(text)["config"]["intensity_scale"] == pytest.approx(1000.0)
    assert (summary["tensors"], summary["numbers"]) == (len(bundle_state), sum(v.numel() for v in bundle_state.values()))
    assert summary["tensors"] == 63
    assert summary["format"] == FORMAT_BUNDLE and summary["normalization"] == "bridge"


def test_lightning_checkpoint_loads_strictly_from_hyper_parameters(ckpt_path, ckpt_payload):
    loaded = open_checkpoint(ckpt_path)
    assert loaded.format == FORMAT_CKPT
    assert (loaded.N, loaded.gridsize, loaded.C) == (64, 2, 4)
    assert loaded.config_source == SOURCE_HPARAMS
    assert loaded.config["epoch"] == 3
    assert loaded.normalization == "bridge"
    assert loaded.training_neighbors == 4
    loaded_state = loaded.network.state_dict()
    assert all(torch.equal(loaded_state[k], v) for k, v in ckpt_payload["state_dict"].items())


def test_ckpt_beside_mmap_configs_uses_mmap_normalization(tmp_path, ckpt_path):
    run = tmp_path / "version_0"
    (run / "checkpoints").mkdir(parents=True)
    (run / "configs").mkdir()
    for name in ("data_config.json", "model_config.json", "training_config.json"):
        (run / "configs" / name).write_text("{}")
    link = run / "checkpoints" / "last.ckpt"
    link.symlink_to(ckpt_path.resolve())
    loaded = open_checkpoint(link)
    assert loaded.normalization == "mmap"
    assert any("mmap" in note and "configs" in note for note in loaded.notes)


def test_ckpt_in_checkpoints_folder_without_configs_stays_bridge(tmp_path, ckpt_path):
    (tmp_path / "checkpoints").mkdir()
    link = tmp_path / "checkpoints" / "last.ckpt"
    link.symlink_to(ckpt_path.resolve())
    assert open_checkpoint(link).normalization == "bridge"


def test_metadata_free_bundle_resolves_from_params_and_flags_unverified(tmp_path, bundle_members, bundle_path):
    path = _bundle_with(tmp_path, bundle_members, {METADATA: None})
    loaded = open_checkpoint(path)
    assert loaded.config_source == SOURCE_PARAMS
    assert {"cnn_output_mode", "amp_activation"} <= set(loaded.unverified)
    assert loaded.cnn_config == open_checkpoint(bundle_path).cnn_config
    assert any("metadata-free" in note for note in loaded.notes)


@pytest.mark.parametrize("variant", ["removed", "extra", "reshaped"])
def test_bundle_with_wrong_tensor_is_refused_naming_it(tmp_path, bundle_members, bundle_state, variant):
    state, message = _state_variants(bundle_state)[variant]
    path = _bundle_with(tmp_path, bundle_members, {MODEL_PTH: _torch_bytes(state)})
    with pytest.raises(InvalidInputError, match=re.escape(message)) as exc:
        open_checkpoint(path)
    assert not isinstance(exc.value, UnsupportedModelError)
    _assert_one_line(exc)


@pytest.mark.parametrize("variant", ["removed", "extra", "reshaped"])
def test_ckpt_with_wrong_tensor_is_refused_naming_it(tmp_path, ckpt_payload, variant):
    state, message = _state_variants(ckpt_payload["state_dict"])[variant]
    path = tmp_path / "last.ckpt"
    torch.save({**ckpt_payload, "state_dict": state}, path)
    with pytest.raises(InvalidInputError, match=re.escape(message)) as exc:
        open_checkpoint(path)
    _assert_one_line(exc)


def _metadata_with(metadata: dict, section: str, **changes) -> bytes:
    changed = copy.deepcopy(metadata)
    changed[section].update(changes)
    return _torch_bytes(changed)


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"architecture": "hybrid_resnet"}, "architecture 'hybrid_resnet' is not supported"),
        ({"architecture": "vit"}, "architecture 'vit' is not supported"),
        ({"mode": "Supervised"}, "mode 'Supervised'"),
        ({"physics_forward_mode": "rectangular_scaled"}, "rectangular_scaled"),
        ({"use_shared_decoder": True}, "use_shared_decoder"),
        ({"object_big": False}, "object_big=False"),
        ({"intensity_scale_trainable": True}, "intensity_scale_trainable"),
    ],
)
def test_unsupported_bundle_models_are_refused_by_name(tmp_path, bundle_members, bundle_metadata, changes, message):
    data = _metadata_with(bundle_metadata, "model_config", **changes)
    path = _bundle_with(tmp_path, bundle_members, {METADATA: data})
    with pytest.raises(UnsupportedModelError, match=message) as exc:
        open_checkpoint(path)
    _assert_one_line(exc)


def test_ci_bundle_is_refused(tmp_path, bundle_members, bundle_metadata):
    metadata = {**bundle_metadata, "ci_statistics": {"rms_input_scale": [1.0], "mean_measured_intensity": [2.0]}}
    path = _bundle_with(tmp_path, bundle_members, {METADATA: _torch_bytes(metadata)})
    with pytest.raises(UnsupportedModelError, match="ci_statistics"):
        open_checkpoint(path)


def test_ckpt_unknown_architecture_is_refused_by_name(tmp_path, ckpt_payload):
    hparams = copy.deepcopy(ckpt_payload["hyper_parameters"])
    hparams["model_config"]["architecture"] = "hybrid"
    path = tmp_path / "hybrid.ckpt"
    torch.save({**ckpt_payload, "hyper_parameters": hparams}, path)
    with pytest.raises(UnsupportedModelError, match="architecture 'hybrid' is not supported"):
        open_checkpoint(path)


def test_zip_with_global_pickle_is_refused_and_never_runs(tmp_path, bundle_members):
    marker = tmp_path / "pwned"
    path = _bundle_with(tmp_path, bundle_members, {"manifest.dill": pickle.dumps(_Payload(marker))})
    with pytest.raises(InvalidInputError, match="manifest.dill: refused pickle global") as exc:
        open_checkpoint(path)
    _assert_one_line(exc)
    assert not marker.exists()


def test_params_with_global_pickle_is_refused_and_never_runs(tmp_path, bundle_members):
    marker = tmp_path / "pwned"
    payload = pickle.dumps({"N": 64, "hook": _Payload(marker)})
    path = _bundle_with(tmp_path, bundle_members, {"diffraction_to_obj/params.dill": payload})
    with pytest.raises(InvalidInputError, match="params.dill: refused pickle global"):
        open_checkpoint(path)
    assert not marker.exists()


def test_torch_file_with_global_is_refused_naming_it_and_never_runs(tmp_path, ckpt_payload):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.ckpt"
    torch.save({**ckpt_payload, "hook": _Payload(marker)}, path)
    with pytest.raises(InvalidInputError, match=r"asks for (posix|os)\.system") as exc:
        open_checkpoint(path)
    _assert_one_line(exc)
    assert not marker.exists()


def test_broken_tensorflow_bundle_is_refused_without_unpickling(tmp_path):
    marker = tmp_path / "pwned"
    members = {
        "manifest.dill": pickle.dumps({"models": ["diffraction_to_obj"], "version": "2.0"}),
        "diffraction_to_obj/model.keras": b"PK-not-really",
        "diffraction_to_obj/custom_objects.dill": pickle.dumps(_Payload(marker)),
        "diffraction_to_obj/params.dill": pickle.dumps({"N": 64}),
    }
    path = _write_zip(tmp_path / "tf_bundle.zip", members)
    with pytest.raises(InvalidInputError, match="model.keras is not a readable Keras zip") as exc:
        open_checkpoint(path)
    _assert_one_line(exc)
    assert not marker.exists()


@pytest.mark.parametrize(
    "content", [random.Random(0).randbytes(4096), b"", b"\x80\x04not a pickle at all"], ids=["random", "empty", "bad-pickle"]
)
def test_non_checkpoint_bytes_are_refused_cleanly(tmp_path, content):
    path = tmp_path / "model.ckpt"
    path.write_bytes(content)
    with pytest.raises(InvalidInputError) as exc:
        open_checkpoint(path)
    _assert_one_line(exc)


@pytest.mark.parametrize("name", ["wts.h5.zip", "last.ckpt"])
def test_truncated_checkpoints_are_refused_cleanly(tmp_path, bundle_path, name):
    source = bundle_path.parent / name
    path = tmp_path / name
    with source.open("rb") as handle:
        path.write_bytes(handle.read(source.stat().st_size // 2))
    with pytest.raises(InvalidInputError, match="truncated or damaged checkpoint") as exc:
        open_checkpoint(path)
    _assert_one_line(exc)


def test_bundle_with_corrupt_member_is_refused_cleanly(tmp_path, bundle_path):
    data = bytearray(bundle_path.read_bytes())
    with zipfile.ZipFile(bundle_path) as archive:
        info = archive.getinfo(MODEL_PTH)
    start = info.header_offset + 30 + len(info.filename) + len(info.extra) + 1000
    data[start : start + 64] = bytes(64)
    path = tmp_path / "wts.h5.zip"
    path.write_bytes(bytes(data))
    with pytest.raises(InvalidInputError, match="corrupt zip archive") as exc:
        open_checkpoint(path)
    _assert_one_line(exc)


def test_zip_without_manifest_is_refused(tmp_path):
    path = _write_zip(tmp_path / "other.zip", {"readme.txt": b"hello"})
    with pytest.raises(InvalidInputError, match="not a PtychoPINN bundle"):
        open_checkpoint(path)


def test_bare_state_dict_is_refused_as_configless(tmp_path, bundle_members):
    path = tmp_path / "model.pth"
    path.write_bytes(bundle_members[MODEL_PTH])
    with pytest.raises(InvalidInputError, match="no configuration"):
        open_checkpoint(path)


def test_missing_file_and_directory_are_refused(tmp_path):
    with pytest.raises(InvalidInputError, match="not found"):
        open_checkpoint(tmp_path / "nope.zip")
    with pytest.raises(InvalidInputError, match="not a file"):
        open_checkpoint(tmp_path)


def test_ptychopinn_own_bundle_and_ckpt_resolve_their_configs(shared_bundle_path, shared_ckpt_path):
    """Parity: files written by PtychoPINN itself resolve to the configuration they were trained with."""
    bundle = open_checkpoint(shared_bundle_path)
    cfg = bundle.cnn_config
    assert (bundle.config_source, bundle.unverified, bundle.training_neighbors) == (SOURCE_METADATA, [], 6)
    assert (cfg.N, cfg.C, cfg.n_filters_scale, cfg.cbam_encoder, cfg.amp_activation) == (64, 4, 2, True, "swish")
    assert bundle.summary()["config"]["intensity_scale"] == pytest.approx(988.2117919921875)
    assert (bundle.summary()["tensors"], bundle.summary()["numbers"]) == (63, 2_351_734)
    ckpt = open_checkpoint(shared_ckpt_path)
    assert (ckpt.config_source, ckpt.config["epoch"], ckpt.training_neighbors) == (SOURCE_HPARAMS, 142, 6)
    assert ckpt.cnn_config == cfg
