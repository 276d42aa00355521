"""Open a PtychoPINN checkpoint, recognised by its content, as a strictly loaded network.

Supported: PtychoPINN torch bundles (``wts.h5.zip``, a zip holding ``manifest.dill``) and
Lightning ``.ckpt`` files (a torch file with ``state_dict`` and ``hyper_parameters``), both for the
default ``cnn`` generator. Nothing is ever unpickled beyond plain data (``load_plain_pickle``) or
torch's weights-only loader; every expected failure is an ``InvalidInputError`` or, for a
well-formed checkpoint of a network this app does not implement, an ``UnsupportedModelError``.
Config resolution follows contract §1.7; loading is always ``strict=True``.
"""

from __future__ import annotations

import hashlib
import math
import re
import zipfile
import zlib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import torch

from ptycho_gui.errors import InvalidInputError, UnsupportedModelError
from ptycho_gui.io.config_bounds import CNN_BOUNDS, check_ranges, meta_state_dict
from ptycho_gui.io.safe import (
    MAX_PICKLE_BYTES,
    MAX_ZIP_MEMBER_BYTES,
    UnsafeContentError,
    check_nested_zip,
    check_zip_members,
    load_plain_pickle,
    read_zip_member,
)
from ptycho_gui.io.tensor_checks import check_state_dict, load_torch
from ptycho_gui.models.cnn import CnnConfig, PtychoPinnCnn, build_cnn

FORMAT_BUNDLE = "ptychopinn-bundle"
FORMAT_CKPT = "lightning-ckpt"
SOURCE_METADATA = "torch_scaling_metadata.pt"
SOURCE_HPARAMS = "hyper_parameters"
SOURCE_PARAMS = "params.dill + state_dict"

MANIFEST = "manifest.dill"
METADATA = "torch_scaling_metadata.pt"
MODEL_ENTRY = "diffraction_to_obj"
TF_BUNDLE_MARKERS = ("model.keras", "custom_objects.dill")
MMAP_CONFIG_FILES = ("data_config.json", "model_config.json")
MAX_METADATA_BYTES = 16 << 20
ZIP_LOCAL_HEADER = b"PK\x03\x04"

_PREFIX = "model.autoencoder."
_FIRST_CONV = _PREFIX + "encoder.blocks.0.conv1.weight"
_ENCODER_CONV = re.compile(re.escape(_PREFIX) + r"encoder\.blocks\.(\d+)\.conv1\.weight$")
_N_FROM_ENCODER_DEPTH = {3: 64, 4: 128, 5: 256}
_FIRST_WIDTH_MULTIPLIER = {64: 32, 128: 16, 256: 8}
_LIST_LIMIT = 4
_PARITY_UNRECORDED = "the weights hold log_scale_delta but the bundle does not record parity_scale_mode"

_CONFIG_FIELD_KINDS = {"bool": bool, "int": int, "str": str}
_NOT_IN_MODEL_CONFIG = ("N", "C", "parity_scale_mode")
_FORWARD_FIELDS = ("amp_activation", "cnn_output_mode", "probe_big", "object_big")
"""Fields that change the output without changing any tensor shape: unverifiable by loading."""


@dataclass
class LoadedModel:
    """A checkpoint opened and verified: its resolved configuration and its strictly loaded network."""

    path: Path
    sha256: str
    format: str
    architecture: str
    N: int
    gridsize: int
    C: int
    cnn_config: CnnConfig
    config: dict
    config_source: str
    unverified: list[str]
    notes: list[str]
    normalization: str
    training_neighbors: int | None
    network: PtychoPinnCnn = field(repr=False)

    def summary(self) -> dict:
        """Everything but the network, as JSON-able data (for ``ptycho-inspect info`` and the GUI)."""
        state = self.network.state_dict()
        return {
            "path": str(self.path),
            "sha256": self.sha256,
            "format": self.format,
            "architecture": self.architecture,
            "N": self.N,
            "gridsize": self.gridsize,
            "C": self.C,
            "cnn_config": asdict(self.cnn_config),
            "config": dict(self.config),
            "config_source": self.config_source,
            "unverified": list(self.unverified),
            "notes": list(self.notes),
            "normalization": self.normalization,
            "training_neighbors": self.training_neighbors,
            "tensors": len(state),
            "numbers": sum(t.numel() for t in state.values()),
        }


@dataclass
class _Resolved:
    """What config resolution found, before the network is built and loaded."""

    cnn_config: CnnConfig
    config: dict
    source: str
    unverified: list[str]
    notes: list[str]
    training_neighbors: int | None


@dataclass
class _Opened:
    """A recognised checkpoint: its format, raw weights, resolved config and input convention."""

    format: str
    state_dict: dict
    resolved: _Resolved
    normalization: str


def open_checkpoint(path: str | Path) -> LoadedModel:
    """Recognise ``path`` by content, resolve its configuration and load its network strictly."""
    path = Path(path)
    digest = _sha256(path)
    opened = _open_zip(path) if zipfile.is_zipfile(path) else _open_torch_pickle(path)
    resolved = opened.resolved
    network = _load_network(path, resolved.cnn_config, opened.state_dict)
    cfg = resolved.cnn_config
    return LoadedModel(
        path=path,
        sha256=digest,
        format=opened.format,
        architecture="cnn",
        N=cfg.N,
        gridsize=cfg.gridsize,
        C=cfg.C,
        cnn_config=cfg,
        config=resolved.config,
        config_source=resolved.source,
        unverified=resolved.unverified,
        notes=resolved.notes,
        normalization=opened.normalization,
        training_neighbors=resolved.training_neighbors,
        network=network,
    )


def _sha256(path: Path) -> str:
    """SHA-256 of the file, streamed; unreadable paths become a one-line InvalidInputError."""
    if not path.exists():
        raise InvalidInputError(path, "file not found")
    if not path.is_file():
        raise InvalidInputError(path, "not a file (give the checkpoint file, e.g. wts.h5.zip or last.ckpt)")
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
    except OSError as exc:
        raise InvalidInputError(path, f"cannot read file ({exc.strerror or exc})") from exc
    return digest.hexdigest()


# ---------------------------------------------------------------------------------------------
# Recognition by content


def _open_zip(path: Path) -> _Opened:
    """A zip is a torch bundle (manifest.dill), a TF bundle (refused) or a torch zip file."""
    try:
        with zipfile.ZipFile(path) as archive:
            check_zip_members(archive)
            names = set(archive.namelist())
            basenames = {name.rsplit("/", 1)[-1] for name in names}
            tf_markers = sorted(basenames.intersection(TF_BUNDLE_MARKERS))
            if tf_markers:
                raise UnsupportedModelError(
                    path,
                    f"TensorFlow PtychoPINN bundle ({', '.join(tf_markers)}) is not supported; "
                    "only PyTorch bundles are (nothing in it was unpickled)",
                )
            if MANIFEST in names:
                state_dict, resolved = _read_bundle(path, archive, names)
                resolved.notes.append(
                    "normalization 'bridge': bundles are written only by PtychoPINN's bridge training path"
                )
                return _Opened(FORMAT_BUNDLE, state_dict, resolved, "bridge")
            is_torch_zip = any(name == "data.pkl" or name.endswith("/data.pkl") for name in names)
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise InvalidInputError(path, f"corrupt zip archive ({_first_line(str(exc))})") from exc
    except UnsafeContentError as exc:
        raise InvalidInputError(path, f"unsafe archive: {exc}") from exc
    except OSError as exc:
        raise InvalidInputError(path, f"cannot read archive ({exc})") from exc
    if not is_torch_zip:
        raise InvalidInputError(path, "zip archive is not a PtychoPINN bundle (no manifest.dill) nor a torch file")
    return _open_torch_file(path)


def _open_torch_pickle(path: Path) -> _Opened:
    """A non-zip file can only be a legacy torch pickle; refuse anything else before unpickling."""
    with path.open("rb") as handle:
        head = handle.read(4)
    if head == ZIP_LOCAL_HEADER:
        raise InvalidInputError(path, "truncated or corrupt zip archive (no central directory)")
    if head[:1] != b"\x80":
        raise InvalidInputError(path, "not a PtychoPINN checkpoint: neither a zip archive nor a torch file")
    return _open_torch_file(path)


def _open_torch_file(path: Path) -> _Opened:
    """A torch file holding a Lightning checkpoint; bare state dicts and other objects are refused."""
    payload = _torch_load(path, path, "checkpoint")
    if not isinstance(payload, Mapping):
        raise InvalidInputError(path, f"torch file holds a {type(payload).__name__}, not a checkpoint dict")
    if "state_dict" in payload and "hyper_parameters" in payload:
        state_dict, resolved = _read_lightning(path, payload)
        normalization, note = _lightning_normalization(path)
        resolved.notes.append(note)
        return _Opened(FORMAT_CKPT, state_dict, resolved, normalization)
    if "state_dict" in payload:
        raise InvalidInputError(path, "Lightning checkpoint without hyper_parameters: its configuration is unknown")
    if payload and all(isinstance(v, torch.Tensor) for v in payload.values()):
        raise InvalidInputError(
            path, "a bare state dict carries no configuration; open the wts.h5.zip bundle or .ckpt it came from"
        )
    raise InvalidInputError(path, "torch file is not a Lightning checkpoint (no state_dict / hyper_parameters)")


def _torch_load(path: Path, source, what: str):
    """Every torch load goes through the shared vetted loader (budgets, weights-only, tensor checks)."""
    return load_torch(path, source, what)


def _first_line(text: str, limit: int = 160) -> str:
    line = text.strip().splitlines()[0] if text.strip() else "no detail"
    return line if len(line) <= limit else line[: limit - 1] + "…"


# ---------------------------------------------------------------------------------------------
# Bundle


def _read_bundle(path: Path, archive: zipfile.ZipFile, names: set[str]):
    """Read a torch bundle: manifest, params and metadata as plain data, weights weights-only."""
    manifest = _plain_member(path, archive, MANIFEST)
    models = manifest.get("models") if isinstance(manifest, dict) else None
    if not isinstance(models, list) or MODEL_ENTRY not in models:
        raise InvalidInputError(path, f"{MANIFEST} does not list the {MODEL_ENTRY!r} model")
    weights_name = f"{MODEL_ENTRY}/model.pth"
    if weights_name not in names:
        raise InvalidInputError(path, f"bundle has no {weights_name}")
    state_dict = _state_dict(path, _torch_member(path, archive, weights_name), weights_name)
    params_name = f"{MODEL_ENTRY}/params.dill"
    params = _plain_member(path, archive, params_name) if params_name in names else None
    if params is not None and not isinstance(params, dict):
        raise InvalidInputError(path, f"{params_name} is not a dict")
    if METADATA in names:
        metadata = _torch_member(path, archive, METADATA, MAX_METADATA_BYTES)
        resolved = _resolve_from_metadata(path, metadata, params or {}, state_dict)
    elif params is not None:
        resolved = _resolve_from_params(path, params, state_dict)
    else:
        raise InvalidInputError(path, f"bundle has neither {METADATA} nor {params_name}: its configuration is unknown")
    resolved.config["bundle_version"] = _scalar(manifest.get("version"))
    return state_dict, resolved


def _plain_member(path: Path, archive: zipfile.ZipFile, name: str):
    """A plain-data pickle member (no globals, size-capped)."""
    try:
        return load_plain_pickle(read_zip_member(archive, name, MAX_PICKLE_BYTES))
    except UnsafeContentError as exc:
        raise InvalidInputError(path, f"{name}: {exc}") from exc


def _torch_member(path: Path, archive: zipfile.ZipFile, name: str, max_bytes: int = MAX_ZIP_MEMBER_BYTES):
    """A torch-saved member, loaded weights-only from memory."""
    try:
        data = read_zip_member(archive, name, max_bytes)
        check_nested_zip(data, name)
    except UnsafeContentError as exc:
        raise InvalidInputError(path, f"{name}: {exc}") from exc
    return _torch_load(path, data, name)


def _resolve_from_metadata(path: Path, metadata, params: dict, state_dict: dict) -> _Resolved:
    """Contract §1.4: the metadata's torch configs are authoritative."""
    if not isinstance(metadata, Mapping):
        raise InvalidInputError(path, f"{METADATA} is not a dict")
    if metadata.get("ci_statistics") is not None:
        raise UnsupportedModelError(
            path, "CI bundle (ci_statistics: intensity inputs with a frozen input scale) is not supported"
        )
    if "log_scale_delta" in state_dict:
        raise UnsupportedModelError(path, _PARITY_UNRECORDED)
    resolved = _resolve_torch_configs(path, metadata, METADATA, "off", SOURCE_METADATA)
    if _is_int(params.get("neighbor_count")):
        _set_training_neighbors(resolved, params["neighbor_count"], "params.dill neighbor_count")
    else:
        _set_training_neighbors(resolved, resolved.config["K"], "data_config K")
    resolved.config["intensity_scale"] = _scalar(params.get("intensity_scale"))
    return resolved


# ---------------------------------------------------------------------------------------------
# Lightning checkpoint


def _read_lightning(path: Path, payload: Mapping):
    """A Lightning checkpoint: its state_dict and its authoritative hyper_parameters."""
    state_dict = _state_dict(path, payload["state_dict"], "state_dict")
    hparams = payload["hyper_parameters"]
    if not isinstance(hparams, Mapping):
        raise InvalidInputError(path, "hyper_parameters is not a dict")
    if payload.get("ci_statistics") is not None:
        raise UnsupportedModelError(
            path, "CI checkpoint (ci_statistics: intensity inputs with a frozen input scale) is not supported"
        )
    parity = hparams.get("parity_scale_mode", "off")
    resolved = _resolve_torch_configs(path, hparams, "hyper_parameters", parity, SOURCE_HPARAMS)
    _set_training_neighbors(resolved, resolved.config["K"], "data_config K")
    generator_output = hparams.get("generator_output", "amp_phase")
    if resolved.cnn_config.cnn_output_mode == "amp_phase" and generator_output != "amp_phase":
        raise UnsupportedModelError(
            path,
            f"hyper_parameters generator_output {generator_output!r} with an amp_phase cnn head "
            "(PtychoPINN would combine amplitude and phase as real and imaginary parts)",
        )
    for key in ("epoch", "global_step", "pytorch-lightning_version"):
        resolved.config[key.replace("-", "_")] = _scalar(payload.get(key))
    if _is_int(payload.get("epoch")):
        resolved.notes.append(f"Lightning checkpoint saved at epoch {payload['epoch']}")
    return state_dict, resolved


def _lightning_normalization(path: Path) -> tuple[str, str]:
    """'mmap' for ``<run>/checkpoints/x.ckpt`` beside ``<run>/configs/*.json``, else 'bridge'."""
    configs = path.parent.parent / "configs"
    if path.parent.name == "checkpoints" and all((configs / name).is_file() for name in MMAP_CONFIG_FILES):
        return "mmap", (
            "normalization 'mmap': the checkpoint sits in <run>/checkpoints/ beside <run>/configs/ "
            "JSON configs, the layout of PtychoPINN's memory-mapped (PtychoDataset) training"
        )
    return "bridge", (
        "normalization 'bridge': a .ckpt without <run>/configs/ JSON configs beside its folder "
        "comes from PtychoPINN's bridge training path"
    )


# ---------------------------------------------------------------------------------------------
# Config resolution


def _resolve_torch_configs(path: Path, container: Mapping, where: str, parity_mode, source: str) -> _Resolved:
    """Build the CnnConfig from PtychoPINN's torch config dicts (metadata §1.4, hyper_parameters §1.6)."""
    model_config, data_config = container.get("model_config"), container.get("data_config")
    if not isinstance(model_config, Mapping) or not isinstance(data_config, Mapping):
        raise InvalidInputError(path, f"{where} lacks model_config/data_config dicts")
    training_config = container.get("training_config")
    training_config = training_config if isinstance(training_config, Mapping) else {}
    architecture = str(model_config.get("architecture", "cnn"))
    _refuse_unsupported_model(path, architecture, model_config.get("mode", "Unsupervised"))
    physics = model_config.get("physics_forward_mode", "amplitude")
    if physics != "amplitude":
        raise UnsupportedModelError(path, f"physics_forward_mode {physics!r} is not supported (only 'amplitude')")
    if model_config.get("intensity_scale_trainable", False) is not False:
        raise UnsupportedModelError(
            path,
            "intensity_scale_trainable=True: PtychoPINN then replaces the input normalization by "
            "intensity_scale, which this app does not reproduce",
        )
    N = _typed(path, data_config, "data_config", "N", int)
    C = _typed(path, data_config, "data_config", "C", int)
    gridsize = _gridsize(path, data_config, C)
    c_model = model_config.get("C_model", C)
    if c_model != C:
        raise UnsupportedModelError(path, f"model_config C_model={c_model!r} differs from data_config C={C}")
    defaults = {f.name: f.default for f in fields(CnnConfig)}
    kwargs, absent = {}, []
    for name, kind in _field_kinds():
        if name in model_config:
            kwargs[name] = _typed(path, model_config, "model_config", name, kind)
        else:
            kwargs[name] = defaults[name]
            absent.append(name)
    cfg = _make_config(path, N=N, C=C, parity_scale_mode=parity_mode, **kwargs)
    unverified = [name for name in _FORWARD_FIELDS if name in absent]
    notes = _config_notes(cfg)
    if absent:
        notes.append(f"fields absent from {source}, taken at PtychoPINN defaults: {', '.join(absent)}")
    config = _config_dict(cfg, gridsize)
    config.update(
        mode=_scalar(model_config.get("mode", "Unsupervised")),
        physics_forward_mode=_scalar(physics),
        nphotons=_scalar(data_config.get("nphotons")),
        K=_scalar(data_config.get("K")),
        n_groups=_scalar(training_config.get("n_groups")),
        train_data_file=_scalar(training_config.get("train_data_file")),
    )
    return _Resolved(cfg, config, source, unverified, notes, None)


def _set_training_neighbors(resolved: _Resolved, value, origin: str) -> None:
    """Record the training K (grouping neighbour count) when the source gives an integer."""
    if _is_int(value):
        resolved.training_neighbors = value
        resolved.notes.append(f"trained with groups drawn from {value} nearest neighbours ({origin})")


def _resolve_from_params(path: Path, params: dict, state_dict: dict) -> _Resolved:
    """Contract §1.7, metadata-free bundle: params.dill plus what the tensor names prove."""
    _refuse_unsupported_model(
        path, str(params.get("architecture", "cnn")),
        "Supervised" if params.get("model_type", "pinn") == "supervised" else "Unsupervised",
    )
    if any("decoder_shared" in key for key in state_dict):
        raise UnsupportedModelError(path, "use_shared_decoder (tensors ...decoder_shared.*) is not supported")
    if "log_scale_delta" in state_dict:
        raise UnsupportedModelError(path, _PARITY_UNRECORDED)
    N = _typed(path, params, "params.dill", "N", int)
    gridsize = _typed(path, params, "params.dill", "gridsize", int)
    introspected = _introspect(path, state_dict, N)
    unverified = ["cnn_output_mode", "amp_activation", "probe_big"]
    notes = [
        "metadata-free bundle: configuration from params.dill and the tensor names; "
        "cnn_output_mode assumed 'amp_phase', amp_activation and probe_big taken from params.dill",
        "PtychoPINN itself loads such a bundle only with scale_contract_version='legacy_v1' and "
        "measurement_domain='normalized_amplitude'",
    ]
    object_big = params.get("object.big", True)
    if "object.big" not in params:
        notes.append("params.dill has no object.big: taken as True (PtychoPINN's torch default)")
    if params.get("intensity_scale.trainable") is True:
        notes.append(
            "params.dill has intensity_scale.trainable=True: PtychoPINN's legacy loader would feed "
            f"x·intensity_scale ({params.get('intensity_scale')}) instead of the normalized input (contract P5); "
            "this app uses the normalized input"
        )
    weights_scale = introspected.pop("n_filters_scale")
    cfg = _make_config(
        path,
        N=N,
        C=gridsize * gridsize,
        n_filters_scale=params.get("n_filters_scale", weights_scale),
        object_big=object_big,
        probe_big=params.get("probe.big", True),
        amp_activation=params.get("amp_activation", "silu"),
        **introspected,
    )
    notes += _config_notes(cfg)
    config = _config_dict(cfg, gridsize)
    config.update(
        mode="Unsupervised",
        physics_forward_mode="amplitude",
        nphotons=_scalar(params.get("nphotons")),
        intensity_scale=_scalar(params.get("intensity_scale")),
        n_groups=_scalar(params.get("n_groups")),
        train_data_file=_scalar(params.get("train_data_file_path")),
    )
    resolved = _Resolved(cfg, config, SOURCE_PARAMS, unverified, notes, None)
    _set_training_neighbors(resolved, params.get("neighbor_count"), "params.dill neighbor_count")
    return resolved


def _introspect(path: Path, state_dict: dict, N: int) -> dict:
    """Architecture switches that the tensor names and shapes prove (contract §1.7)."""
    if _FIRST_CONV not in state_dict:
        raise InvalidInputError(path, f"missing tensor {_FIRST_CONV}")
    depth = len({m.group(1) for key in state_dict if (m := _ENCODER_CONV.match(key))})
    if _N_FROM_ENCODER_DEPTH.get(depth) != N:
        raise InvalidInputError(path, f"params.dill says N={N} but the weights have {depth} encoder blocks")
    first_width = state_dict[_FIRST_CONV].shape[0]
    scale, remainder = divmod(first_width, _FIRST_WIDTH_MULTIPLIER[N])
    if remainder or scale < 1:
        raise InvalidInputError(path, f"tensor {_FIRST_CONV} has {first_width} filters, off the cnn's channel ladder")
    amp_attention = _PREFIX + "decoder_amp.attention_blocks.0."
    spatial_key = amp_attention + "spatial_gate.compress.weight"
    alpha = state_dict.get("model.forward_model.alpha")
    return {
        "n_filters_scale": scale,
        "cbam_encoder": any(".encoder.blocks.0.attention.ChannelGate." in key for key in state_dict),
        "eca_encoder": _PREFIX + "encoder.blocks.0.attention.conv.weight" in state_dict,
        "batch_norm": any(".bn1." in key for key in state_dict),
        "cbam_bottleneck": any(key.startswith(_PREFIX + "bottleneck_cbam.") for key in state_dict),
        "eca_decoder": amp_attention + "conv.weight" in state_dict,
        "spatial_decoder": spatial_key in state_dict,
        "decoder_spatial_kernel": int(state_dict[spatial_key].shape[-1]) if spatial_key in state_dict else 7,
        "cbam_decoder": any(key.startswith(amp_attention + "ChannelGate.") for key in state_dict),
        "num_datasets": int(alpha.shape[0]) if alpha is not None and alpha.ndim == 1 else 1,
    }


def _refuse_unsupported_model(path: Path, architecture: str, mode) -> None:
    if architecture != "cnn":
        raise UnsupportedModelError(
            path, f"architecture {architecture!r} is not supported (only PtychoPINN's default 'cnn' is implemented)"
        )
    if mode != "Unsupervised":
        raise UnsupportedModelError(path, f"mode {mode!r} is not supported (only Unsupervised PINN models)")


def _field_kinds() -> list[tuple[str, type]]:
    """CnnConfig fields read from a torch model_config, with the Python type each must have."""
    return [(f.name, _CONFIG_FIELD_KINDS[f.type]) for f in fields(CnnConfig) if f.name not in _NOT_IN_MODEL_CONFIG]


def _typed(path: Path, container: Mapping, where: str, name: str, kind: type):
    """``container[name]`` checked to be a ``kind`` (bools are not ints)."""
    if name not in container:
        raise InvalidInputError(path, f"{where} has no {name}")
    value = container[name]
    ok = isinstance(value, kind) and (kind is bool or not isinstance(value, bool))
    if not ok:
        raise InvalidInputError(path, f"{where} {name}={value!r} is not a {kind.__name__}")
    return value


def _gridsize(path: Path, data_config: Mapping, C: int) -> int:
    grid = data_config.get("grid_size", (math.isqrt(C),) * 2)
    if not isinstance(grid, (tuple, list)) or len(grid) != 2 or grid[0] != grid[1] or not _is_int(grid[0]):
        raise UnsupportedModelError(path, f"data_config grid_size={grid!r} is not a square grid")
    if grid[0] * grid[0] != C:
        raise InvalidInputError(path, f"data_config C={C} is not grid_size {grid[0]} squared")
    return grid[0]


def _make_config(path: Path, **kwargs) -> CnnConfig:
    """CnnConfig, with its refusals reported as an UnsupportedModelError on this file."""
    check_ranges(path, kwargs, CNN_BOUNDS, "config")
    try:
        return CnnConfig(**kwargs)
    except ValueError as exc:
        raise UnsupportedModelError(path, str(exc)) from exc


def _config_notes(cfg: CnnConfig) -> list[str]:
    notes = []
    if cfg.amp_activation not in ("sigmoid", "silu"):
        notes.append(f"amp_activation {cfg.amp_activation!r} runs as SiLU in PtychoPINN's torch cnn (contract P6)")
    if not cfg.probe_big:
        notes.append("probe_big=False: patches are exactly 0 outside their central N/2 square (contract P10)")
    return notes


def _config_dict(cfg: CnnConfig, gridsize: int) -> dict:
    config = {"architecture": "cnn", "gridsize": gridsize, **asdict(cfg)}
    config["amp_activation_runs_as"] = "sigmoid" if cfg.amp_activation == "sigmoid" else "silu"
    return config


def _scalar(value):
    """A JSON-able scalar (str, int, float, bool, None); anything else as its text."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    return str(value)


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# ---------------------------------------------------------------------------------------------
# Strict loading


def _state_dict(path: Path, candidate, where: str) -> dict:
    """``candidate`` as a name → tensor dict, or a refusal (shared tensor checks)."""
    return check_state_dict(path, candidate, where)


def _load_network(path: Path, cfg: CnnConfig, state_dict: dict) -> PtychoPinnCnn:
    """Build the network and load ``state_dict`` strictly; any mismatch names its tensors."""
    problems = state_dict_problems(meta_state_dict(path, lambda: build_cnn(cfg)), state_dict)
    if problems:
        raise InvalidInputError(path, "; ".join(problems))
    network = build_cnn(cfg)
    try:
        network.load_state_dict(state_dict, strict=True)
    except RuntimeError as exc:
        raise InvalidInputError(path, f"weights do not load ({_first_line(str(exc))})") from exc
    return network


def state_dict_problems(expected: Mapping[str, torch.Tensor], given: Mapping[str, torch.Tensor]) -> list[str]:
    """Missing, unexpected, mis-shaped, mis-typed and non-finite tensors, each named."""
    missing = [k for k in expected if k not in given]
    unexpected = [k for k in given if k not in expected]
    problems = []
    if missing:
        problems.append(f"missing {_names('tensor', missing)}")
    if unexpected:
        problems.append(f"unexpected {_names('tensor', unexpected)}")
    for key, want in expected.items():
        got = given.get(key)
        if got is None:
            continue
        if tuple(got.shape) != tuple(want.shape):
            problems.append(f"tensor {key} has shape {tuple(got.shape)} but the network expects {tuple(want.shape)}")
        elif got.is_complex() or got.is_floating_point() != want.is_floating_point():
            problems.append(f"tensor {key} has dtype {got.dtype} but the network expects {want.dtype}")
        elif got.is_floating_point() and not bool(torch.isfinite(got).all()):
            problems.append(f"tensor {key} holds NaN or infinite values")
    return problems


def _names(noun: str, keys: list[str]) -> str:
    shown = ", ".join(keys[:_LIST_LIMIT])
    more = f" (+{len(keys) - _LIST_LIMIT} more)" if len(keys) > _LIST_LIMIT else ""
    return f"{noun}{'s' if len(keys) > 1 else ''} {shown}{more}"
