"""FNO-family and UNO bundles generated here (no shared fixtures): every option PtychoPINN's configs
allow opens, runs as the network it describes, and every malformed bundle is refused with one line."""

from __future__ import annotations

import io
import json
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from ptycho_gui.cli import main
from ptycho_gui.errors import InvalidInputError, UnsupportedModelError
from ptycho_gui.io.checkpoints import open_checkpoint
from ptycho_gui.models import FnoConfig, UnoConfig, build_fno, build_uno

torch.set_num_threads(1)
N = 32


def _randomize(network: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        seen = set()
        for tensor in network.state_dict(keep_vars=True).values():
            if id(tensor) in seen:
                continue
            seen.add(id(tensor))
            values = torch.randn(tensor.shape, generator=generator, dtype=tensor.dtype) * 0.2
            tensor.copy_(values)
    return network


def _configs(cfg: FnoConfig | UnoConfig, family: str, **model_overrides) -> dict:
    gridsize = round(cfg.C**0.5)
    model_config = {
        "mode": "Unsupervised", "architecture": family, "generator_output_mode": cfg.output_mode,
        "physics_forward_mode": "amplitude", "intensity_scale_trainable": False, "num_datasets": 1,
        "learned_input_channels": 1, "C_model": cfg.C, "cnn_output_mode": "amp_phase",
    }
    if isinstance(cfg, FnoConfig):
        model_config.update(fno_width=cfg.width, fno_modes=cfg.modes, fno_blocks=cfg.blocks,
                            fno_cnn_blocks=cfg.cnn_blocks, fno_input_transform=cfg.input_transform)
    model_config.update(model_overrides)
    data_config = {"N": cfg.N, "C": cfg.C, "K": 6, "grid_size": (gridsize, gridsize), "nphotons": 1e9}
    return {"schema_version": "ci-entrypoints-v1", "data_config": data_config, "model_config": model_config,
            "training_config": {"n_groups": 10}, "inference_config": {}, "ci_statistics": None}


def _torch_bytes(obj) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def write_generator_bundle(path: Path, network: torch.nn.Module, metadata: dict, state: dict | None = None) -> Path:
    """A bundle laid out as PtychoPINN's save_torch_bundle writes it (contract §1.2)."""
    params = {"N": metadata["data_config"]["N"], "gridsize": metadata["data_config"]["grid_size"][0],
              "architecture": metadata["model_config"]["architecture"], "intensity_scale": 988.0}
    members = {
        "manifest.dill": pickle.dumps({"models": ["diffraction_to_obj", "autoencoder"], "version": "2.0-pytorch"}),
        "diffraction_to_obj/model.pth": _torch_bytes(network.state_dict() if state is None else state),
        "diffraction_to_obj/params.dill": pickle.dumps(params, protocol=4),
        "autoencoder/model.pth": _torch_bytes({"_sentinel": "autoencoder"}),
        "autoencoder/params.dill": pickle.dumps(params, protocol=4),
        "torch_scaling_metadata.pt": _torch_bytes(metadata),
    }
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


VARIANTS = {
    "fno-gs1": FnoConfig("fno", N, 1, width=8, modes=6, blocks=2, cnn_blocks=1),
    "fno-gs2-amp_phase": FnoConfig("fno", N, 4, width=8, modes=5, blocks=1, cnn_blocks=2, output_mode="amp_phase"),
    "fno-logits-sqrt": FnoConfig("fno", N, 1, width=8, modes=4, blocks=1, cnn_blocks=0,
                                 output_mode="amp_phase_logits", input_transform="sqrt"),
    "fno_vanilla-gs3": FnoConfig("fno_vanilla", N, 9, width=12, modes=7, blocks=3, input_transform="log1p"),
    "ffno-gs1": FnoConfig("ffno", N, 1, width=8, modes=6, blocks=3, cnn_blocks=0),
    "ffno-gs2-instancenorm": FnoConfig("ffno", N, 4, width=8, modes=20, blocks=2, cnn_blocks=1,
                                       input_transform="instancenorm", output_mode="amp_phase"),
}


@pytest.fixture(scope="module")
def bundles(tmp_path_factory) -> dict[str, tuple[Path, torch.nn.Module]]:
    folder = tmp_path_factory.mktemp("generated")
    made = {}
    for i, (name, cfg) in enumerate(VARIANTS.items()):
        network = _randomize(build_fno(cfg), seed=i)
        made[name] = (write_generator_bundle(folder / f"{name}.zip", network, _configs(cfg, cfg.family)), network)
    return made


def _inputs(C: int, batch: int = 3, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).gamma(2.0, 1.0, size=(batch, C, N, N)).astype(np.float32)


@pytest.mark.parametrize("name", list(VARIANTS))
def test_generated_bundle_opens_as_the_network_it_describes(bundles, name: str, tmp_path: Path):
    path, network = bundles[name]
    cfg = VARIANTS[name]
    model = open_checkpoint(path)
    assert (model.family, model.N, model.C) == (cfg.family, N, cfg.C)
    assert model.config["generator_output_mode"] == cfg.output_mode and model.config["fno_modes"] == cfg.modes
    x = _inputs(cfg.C)
    inputs = tmp_path / "in.npz"
    np.savez(inputs, inputs=x, input_scale=np.float32(0.5))
    out = tmp_path / "out.npz"
    assert main(["forward", str(path), str(inputs), "-o", str(out), "--batch-size", "2", "--device", "cpu"]) == 0
    with torch.inference_mode():
        expected = network(torch.from_numpy(x * np.float32(0.5))).numpy()
    with np.load(out) as result:
        assert result["patches"].dtype == np.complex64
        patches = result["patches"]
    assert patches.shape == expected.shape
    assert np.abs(patches - expected).max() <= 1e-5 * np.abs(expected).max()


def test_fallback_spectral_layer_keeps_only_the_first_mode_rows():
    """A single non-zero weight at row mode 1 acts on frequency row +1 only, never on row −1."""
    cfg = FnoConfig("fno_vanilla", N, 1, width=1, modes=3, blocks=1)
    layer = build_fno(cfg).model.generator.blocks[0].spectral
    with torch.no_grad():
        layer.weights.zero_()
        layer.weights[0, 0, 1, 0] = 1.0
    rows = torch.arange(N, dtype=torch.float32)[:, None].expand(N, N)
    plus = torch.cos(2 * torch.pi * rows / N)[None, None]
    minus_only = torch.sin(2 * torch.pi * rows / N)[None, None]
    out_plus = layer(plus)
    out_sin = layer(minus_only)
    # cos = (e^{+i} + e^{-i})/2: only the +1 row survives, giving half the amplitude as a complex exponential's real part
    assert torch.allclose(out_plus, 0.5 * plus, atol=1e-5)
    assert torch.allclose(out_sin, 0.5 * minus_only, atol=1e-5)


def test_ffno_shared_weights_alias_across_blocks(bundles):
    model = open_checkpoint(bundles["ffno-gs1"][0])
    state = model.network.state_dict(keep_vars=True)
    shared = state["model.generator.ffno_stack.shared_spectral.weights_x"]
    assert state["model.autoencoder.blocks.2.shared_spectral.weights_x"] is shared
    summary = model.summary()
    assert summary["tensors"] > summary["distinct_tensors"]


def _refusal(capsys, path: Path, tmp_path: Path) -> str:
    inputs = tmp_path / "in.npz"
    np.savez(inputs, inputs=_inputs(1))
    assert main(["forward", str(path), str(inputs), "-o", str(tmp_path / "out.npz")]) == 3
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "out.npz").exists()
    return err


def _variant_state(bundles, name: str) -> tuple[dict, dict, FnoConfig]:
    network = bundles[name][1]
    cfg = VARIANTS[name]
    return dict(network.state_dict()), _configs(cfg, cfg.family), cfg


def test_missing_tensor_is_refused_naming_it(bundles, tmp_path: Path, capsys):
    state, metadata, _ = _variant_state(bundles, "fno-gs1")
    state.pop("model.autoencoder.output_proj.bias")
    path = write_generator_bundle(tmp_path / "b.zip", None, metadata, state)
    assert "missing tensor model.autoencoder.output_proj.bias" in _refusal(capsys, path, tmp_path)


def test_misshaped_tensor_is_refused_naming_it(bundles, tmp_path: Path, capsys):
    state, metadata, _ = _variant_state(bundles, "fno-gs1")
    key = "model.generator.fno_blocks.0.spectral.weights"
    state[key] = torch.zeros(8, 8, 5, 5, dtype=torch.complex64)
    path = write_generator_bundle(tmp_path / "b.zip", None, metadata, state)
    assert f"tensor {key} has shape (8, 8, 5, 5) but the network expects (8, 8, 6, 6)" in _refusal(capsys, path, tmp_path)


def test_real_tensor_where_spectral_weights_are_complex_is_refused(bundles, tmp_path: Path, capsys):
    state, metadata, _ = _variant_state(bundles, "fno-gs1")
    key = "model.generator.fno_blocks.1.spectral.weights"
    state[key] = state[key].real.clone()
    path = write_generator_bundle(tmp_path / "b.zip", None, metadata, state)
    assert f"tensor {key} has dtype torch.float32" in _refusal(capsys, path, tmp_path)


def test_unknown_architecture_is_refused_by_name(bundles, tmp_path: Path, capsys):
    state, metadata, _ = _variant_state(bundles, "fno-gs1")
    metadata["model_config"]["architecture"] = "hybrid_resnet"
    path = write_generator_bundle(tmp_path / "b.zip", None, metadata, state)
    assert "architecture 'hybrid_resnet' is not supported" in _refusal(capsys, path, tmp_path)


def test_config_that_disagrees_with_the_weights_is_refused(bundles, tmp_path: Path, capsys):
    state, metadata, _ = _variant_state(bundles, "fno-gs1")
    metadata["model_config"]["fno_cnn_blocks"] = 2
    path = write_generator_bundle(tmp_path / "b.zip", None, metadata, state)
    assert "missing tensors model.generator.cnn_refiner.1.0.weight" in _refusal(capsys, path, tmp_path)


def test_ffno_aliases_with_different_values_are_refused(bundles, tmp_path: Path, capsys):
    state, metadata, _ = _variant_state(bundles, "ffno-gs1")
    key = "model.autoencoder.blocks.1.shared_spectral.weights_y"
    state[key] = state[key].clone() + 1
    path = write_generator_bundle(tmp_path / "b.zip", None, metadata, state)
    assert "must be the same tensor as" in _refusal(capsys, path, tmp_path)


def test_unknown_input_transform_is_refused(bundles, tmp_path: Path):
    state, metadata, _ = _variant_state(bundles, "fno-gs1")
    metadata["model_config"]["fno_input_transform"] = "learned"
    path = write_generator_bundle(tmp_path / "b.zip", None, metadata, state)
    with pytest.raises(UnsupportedModelError, match="fno_input_transform='learned'"):
        open_checkpoint(path)


def test_metadata_free_fno_bundle_resolves_from_params(bundles, tmp_path: Path):
    path, _ = bundles["fno-gs1"]
    with zipfile.ZipFile(path) as archive:
        members = {n: archive.read(n) for n in archive.namelist() if n != "torch_scaling_metadata.pt"}
    cfg = VARIANTS["fno-gs1"]
    params = {"N": N, "gridsize": 1, "architecture": "fno", "fno_width": cfg.width, "fno_modes": cfg.modes,
              "fno_blocks": cfg.blocks, "fno_cnn_blocks": cfg.cnn_blocks, "fno_input_transform": "none",
              "generator_output_mode": "real_imag"}
    members["diffraction_to_obj/params.dill"] = pickle.dumps(params, protocol=4)
    target = tmp_path / "legacy.zip"
    with zipfile.ZipFile(target, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    model = open_checkpoint(target)
    assert model.family == "fno" and model.config_source == "params.dill + state_dict"


@pytest.fixture(scope="module")
def uno_bundle(tmp_path_factory) -> tuple[Path, torch.nn.Module]:
    pytest.importorskip("neuralop")
    cfg = UnoConfig(128, 1)
    network = _randomize(build_uno(cfg), seed=3)
    path = tmp_path_factory.mktemp("uno") / "uno.zip"
    return write_generator_bundle(path, network, _configs(cfg, "neuralop_uno")), network


def test_uno_without_neuraloperator_names_the_extra(uno_bundle, monkeypatch):
    from ptycho_gui.models import uno

    def missing(name: str):
        raise ImportError(f"No module named {name!r}")

    monkeypatch.setattr(uno.importlib, "import_module", missing)
    with pytest.raises(UnsupportedModelError, match=r'pip install "ptycho-gui\[neuralop\]"') as exc:
        open_checkpoint(uno_bundle[0])
    assert "\n" not in str(exc.value)


def test_uno_outside_its_locked_configuration_is_refused(uno_bundle, tmp_path: Path):
    network = uno_bundle[1]
    metadata = _configs(UnoConfig(128, 1), "neuralop_uno")
    metadata["data_config"].update(N=64)
    path = write_generator_bundle(tmp_path / "b.zip", network, metadata)
    with pytest.raises(InvalidInputError, match="neuralop_uno exists only for N=128"):
        open_checkpoint(path)


def _write_runner(folder: Path, network: torch.nn.Module, cfg: FnoConfig, **overrides) -> Path:
    """A study-runner run folder: model.pt (the state dict) beside config.json (torch_runner_config)."""
    folder.mkdir(parents=True)
    torch.save(network.state_dict(), folder / "model.pt")
    runner = {"architecture": cfg.family, "N": cfg.N, "gridsize": round(cfg.C**0.5), "fno_width": cfg.width,
              "fno_modes": cfg.modes, "fno_blocks": cfg.blocks, "fno_cnn_blocks": cfg.cnn_blocks,
              "fno_input_transform": cfg.input_transform, "generator_output_mode": cfg.output_mode,
              "training_procedure": "pinn", "input_conditioning_mode": "diffraction_only",
              "physics_forward_mode": "amplitude", **overrides}
    (folder / "config.json").write_text(json.dumps({"torch_runner_config": runner, "model_label": "test"}))
    return folder


def test_study_runner_run_opens_from_folder_and_pt(bundles, tmp_path: Path):
    cfg = VARIANTS["ffno-gs1"]
    folder = _write_runner(tmp_path / "runs" / "pinn_ffno", bundles["ffno-gs1"][1], cfg)
    by_folder, by_file = open_checkpoint(folder), open_checkpoint(folder / "model.pt")
    assert by_folder.format == by_file.format == "study-runner"
    assert by_folder.family == "ffno" and by_folder.sha256 == by_file.sha256
    assert by_folder.config["fno_blocks"] == cfg.blocks and by_folder.normalization == "bridge"
    x = torch.from_numpy(_inputs(1))
    with torch.inference_mode():
        assert torch.equal(by_folder.predict(x, None), bundles["ffno-gs1"][1](x))


def test_study_runner_cnn_and_conditioned_runs_are_refused(bundles, tmp_path: Path):
    cfg = VARIANTS["fno-gs1"]
    cnn = _write_runner(tmp_path / "cnn", bundles["fno-gs1"][1], cfg, architecture="cnn")
    with pytest.raises(UnsupportedModelError, match="study-runner cnn run"):
        open_checkpoint(cnn)
    probe = _write_runner(tmp_path / "probe", bundles["fno-gs1"][1], cfg, input_conditioning_mode="probe_real_imag")
    with pytest.raises(UnsupportedModelError, match="input_conditioning_mode 'probe_real_imag'"):
        open_checkpoint(probe / "model.pt")


def test_state_dict_without_runner_config_is_refused_as_configless(bundles, tmp_path: Path):
    path = tmp_path / "model.pt"
    torch.save(bundles["fno-gs1"][1].state_dict(), path)
    with pytest.raises(InvalidInputError, match="no configuration"):
        open_checkpoint(path)
