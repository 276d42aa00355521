"""Resolving a torch checkpoint's configuration into one network family's config (contract §1.4–§1.7).

Sources, most authoritative first: ``torch_scaling_metadata.pt`` and a Lightning checkpoint's
``hyper_parameters`` (both: torch ``model_config``/``data_config`` dicts), the study runner's
``config.json``, and — for metadata-free bundles — ``params.dill`` plus what the tensor names prove.
Every resolved field records where it came from; fields a source lacks are named, never silently assumed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from ptycho_gui.errors import InvalidInputError, UnsupportedModelError
from ptycho_gui.io.config_bounds import CNN_BOUNDS, FNO_BOUNDS, UNO_BOUNDS, check_ranges
from ptycho_gui.io.torch_files import is_int as _is_int
from ptycho_gui.io.torch_files import scalar as _scalar
from ptycho_gui.models import NETWORKS
from ptycho_gui.models.cnn import CnnConfig
from ptycho_gui.models.fno import FnoConfig
from ptycho_gui.models.uno import FAMILY as UNO_FAMILY
from ptycho_gui.models.uno import UnoConfig

SOURCE_METADATA = "torch_scaling_metadata.pt"
SOURCE_HPARAMS = "hyper_parameters"
SOURCE_PARAMS = "params.dill + state_dict"
SOURCE_RUNNER = "config.json torch_runner_config"

_PREFIX = "model.autoencoder."
_FIRST_CONV = _PREFIX + "encoder.blocks.0.conv1.weight"
_ENCODER_CONV = re.compile(re.escape(_PREFIX) + r"encoder\.blocks\.(\d+)\.conv1\.weight$")
_N_FROM_ENCODER_DEPTH = {3: 64, 4: 128, 5: 256}
_FIRST_WIDTH_MULTIPLIER = {64: 32, 128: 16, 256: 8}
PARITY_UNRECORDED = "the weights hold log_scale_delta but the bundle does not record parity_scale_mode"

_CONFIG_FIELD_KINDS = {"bool": bool, "int": int, "str": str}
_NOT_IN_MODEL_CONFIG = ("N", "C", "parity_scale_mode")
_FORWARD_FIELDS = ("amp_activation", "cnn_output_mode", "probe_big", "object_big")
"""Fields that change the output without changing any tensor shape: unverifiable by loading."""

GENERATOR_FIELDS: dict[str, tuple[str, type, object]] = {
    "fno_width": ("width", int, 32),
    "fno_modes": ("modes", int, 12),
    "fno_blocks": ("blocks", int, 4),
    "fno_cnn_blocks": ("cnn_blocks", int, 2),
    "fno_input_transform": ("input_transform", str, "none"),
    "generator_output_mode": ("output_mode", str, "real_imag"),
}
"""PtychoPINN config field → (FnoConfig field, type, PtychoPINN default) for the FNO family."""
PHYSICS_FIELDS = ("object_big", "probe_big")
"""Forward-model switches every generator's training used (the cnn's are in its CnnConfig)."""
_GENERATOR_FORWARD_FIELDS = ("fno_input_transform", "generator_output_mode")
"""Generator fields that can change the output without changing any tensor name or shape."""


@dataclass
class Resolved:
    """What config resolution found, before the network is built and loaded."""

    family: str
    network_config: Any
    config: dict
    source: str
    unverified: list[str]
    notes: list[str]
    training_neighbors: int | None = None
    sources: dict[str, str] = field(default_factory=dict)


def legacy_loader_note(family: str) -> str:
    """What PtychoPINN's own legacy loader would do with a bundle of this family (README surprise 1)."""
    return (
        f"PtychoPINN's legacy load_torch_bundle ignores architecture and would return an untrained default "
        f"cnn for this {family} bundle; this app builds the {family} generator itself"
    )


def refuse_unsupported_model(path: Path, architecture, mode) -> str:
    """The architecture name when this app implements it and the mode is Unsupervised; else a refusal."""
    if not isinstance(architecture, str) or architecture not in NETWORKS:
        raise UnsupportedModelError(
            path, f"architecture {architecture!r} is not supported (supported: {', '.join(NETWORKS)})"
        )
    if mode != "Unsupervised":
        raise UnsupportedModelError(path, f"mode {mode!r} is not supported (only Unsupervised PINN models)")
    return architecture


def resolve_generator(path: Path, family: str, fields_: Mapping, where: str, N: int, C: int, source: str,
                      num_datasets: int | None = None) -> Resolved:
    """An FNO-family or neuralop_uno config from PtychoPINN's flat config fields (model_config, params, runner)."""
    learned = fields_.get("learned_input_channels", 1)
    if learned != 1:
        raise UnsupportedModelError(path, f"learned_input_channels={learned!r} (extra input channels) is not supported")
    values, sources, absent = {}, {}, []
    if num_datasets is None:
        num_datasets = fields_.get("num_datasets", 1)
        if "num_datasets" not in fields_:
            sources["num_datasets"] = f"PtychoPINN default (absent from {where})"
    for name, (_, kind, default) in GENERATOR_FIELDS.items():
        if name in fields_:
            values[name] = _typed(path, fields_, where, name, kind)
            sources[name] = where
        else:
            values[name] = default
            sources[name] = f"PtychoPINN default (absent from {where})"
            absent.append(name)
    check_ranges(path, {"N": N, "C": C, "num_datasets": num_datasets, **{GENERATOR_FIELDS[name][0]: value
                                                                    for name, value in values.items()}},
                 UNO_BOUNDS if family == UNO_FAMILY else FNO_BOUNDS, "config")
    try:
        if family == UNO_FAMILY:
            cfg = UnoConfig(N=N, C=C, output_mode=values["generator_output_mode"], num_datasets=num_datasets)
            shown = {"generator_output_mode": values["generator_output_mode"]}
        else:
            cfg = FnoConfig(family, N, C, num_datasets=num_datasets,
                            **{GENERATOR_FIELDS[name][0]: value for name, value in values.items()})
            shown = values
    except ValueError as exc:
        raise UnsupportedModelError(path, str(exc)) from exc
    gridsize = math.isqrt(C)
    config = {"architecture": family, "N": N, "C": C, "gridsize": gridsize, **shown, "num_datasets": num_datasets}
    config.update(_physics_fields(path, fields_, where, sources))
    sources = {name: sources.get(name, where) for name in config}
    notes = []
    if family in ("fno", "fno_vanilla"):
        notes.append("spectral layers as PtychoPINN runs them: its fallback layer (first modes rows only), "
                     "never neuraloperator's SpectralConv")
    if family == "ffno":
        notes.append("one factorized spectral operator and one gate shared by all blocks, as PtychoPINN's ffno")
    if family == UNO_FAMILY:
        notes.append("runs on neuraloperator's UNO in PtychoPINN's locked configuration (N=128, gridsize 1)")
    absent_shown = [name for name in absent if name in shown]
    if absent_shown:
        notes.append(f"fields absent from {source}, taken at PtychoPINN defaults: {', '.join(absent_shown)}")
    unverified = [name for name in _GENERATOR_FORWARD_FIELDS if name in absent_shown]
    return Resolved(family, cfg, config, source, unverified, notes, None, sources)


def _params_run_fields(params: Mapping) -> dict:
    """What a metadata-free bundle's params.dill says about the training run (shown, not used to build)."""
    return {
        "mode": "Unsupervised",
        "physics_forward_mode": "amplitude",
        "nphotons": _scalar(params.get("nphotons")),
        "intensity_scale": _scalar(params.get("intensity_scale")),
        "n_groups": _scalar(params.get("n_groups")),
        "train_data_file": _scalar(params.get("train_data_file_path")),
    }


def _physics_fields(path: Path, fields_: Mapping, where: str, sources: dict) -> dict:
    """``object_big`` and ``probe_big``: they change no tensor, only PtychoPINN's physics (merge/extract, probe)."""
    values = {}
    for name in PHYSICS_FIELDS:
        dotted = name.replace("_", ".")
        key = name if name in fields_ else dotted if dotted in fields_ else None
        if key is None:
            values[name] = True
            sources[name] = f"PtychoPINN default (absent from {where})"
        else:
            values[name] = _typed(path, fields_, where, key, bool)
            sources[name] = f"{where} {key}" if key != name else where
    return values


def _generator_from_params(path: Path, family: str, params: dict, state_dict: dict) -> Resolved:
    """A metadata-free FNO-family bundle: params.dill carries every generator field PtychoPINN reads."""
    if "log_scale_delta" in state_dict:
        raise UnsupportedModelError(path, PARITY_UNRECORDED)
    N = _typed(path, params, "params.dill", "N", int)
    gridsize = _typed(path, params, "params.dill", "gridsize", int)
    alpha = state_dict.get("model.forward_model.alpha")
    num_datasets = int(alpha.shape[0]) if alpha is not None and alpha.ndim == 1 else 1
    resolved = resolve_generator(path, family, params, "params.dill", N, gridsize * gridsize, SOURCE_PARAMS, num_datasets)
    resolved.notes.append(
        "metadata-free bundle: configuration from params.dill (PtychoPINN's own strict re-check would "
        "compare it against a cnn and refuse it)"
    )
    resolved.config.update(_params_run_fields(params))
    resolved.sources.update(num_datasets="state_dict model.forward_model.alpha")
    set_training_neighbors(resolved, params.get("neighbor_count"), "params.dill neighbor_count")
    return resolved


def resolve_torch_configs(path: Path, container: Mapping, where: str, parity_mode, source: str) -> Resolved:
    """The network config from PtychoPINN's torch config dicts (metadata §1.4, hyper_parameters §1.6)."""
    model_config, data_config = container.get("model_config"), container.get("data_config")
    if not isinstance(model_config, Mapping) or not isinstance(data_config, Mapping):
        raise InvalidInputError(path, f"{where} lacks model_config/data_config dicts")
    training_config = container.get("training_config")
    training_config = training_config if isinstance(training_config, Mapping) else {}
    architecture = refuse_unsupported_model(path, model_config.get("architecture", "cnn"), model_config.get("mode", "Unsupervised"))
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
    common = {
        "mode": _scalar(model_config.get("mode", "Unsupervised")),
        "physics_forward_mode": _scalar(physics),
        "nphotons": _scalar(data_config.get("nphotons")),
        "K": _scalar(data_config.get("K")),
        "n_groups": _scalar(training_config.get("n_groups")),
        "train_data_file": _scalar(training_config.get("train_data_file")),
    }
    common_sources = {
        "mode": f"{where} model_config", "physics_forward_mode": f"{where} model_config",
        "nphotons": f"{where} data_config", "K": f"{where} data_config",
        "n_groups": f"{where} training_config", "train_data_file": f"{where} training_config",
    }
    if architecture != "cnn":
        if parity_mode != "off":
            raise UnsupportedModelError(path, f"parity_scale_mode {parity_mode!r} with a {architecture} generator is not supported")
        resolved = resolve_generator(path, architecture, model_config, f"{where} model_config", N, C, source)
        resolved.config.update(common)
        resolved.sources.update(common_sources)
        resolved.sources.update(N=f"{where} data_config", C=f"{where} data_config", gridsize=f"{where} data_config grid_size")
        return resolved
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
    config.update(common)
    sources = {name: f"{where} model_config" for name in config}
    sources.update(common_sources)
    sources.update({name: f"PtychoPINN default (absent from {where})" for name in absent})
    sources.update(N=f"{where} data_config", C=f"{where} data_config", gridsize=f"{where} data_config grid_size")
    if parity_mode != "off":
        sources["parity_scale_mode"] = where
    return Resolved("cnn", cfg, config, source, unverified, notes, None, sources)


def set_training_neighbors(resolved: Resolved, value, origin: str) -> None:
    """Record the training K (grouping neighbour count) when the source gives an integer."""
    if _is_int(value):
        resolved.training_neighbors = value
        resolved.notes.append(f"trained with groups drawn from {value} nearest neighbours ({origin})")


def resolve_from_params(path: Path, params: dict, state_dict: dict) -> Resolved:
    """Contract §1.7, metadata-free bundle: params.dill plus what the tensor names prove."""
    architecture = refuse_unsupported_model(
        path, params.get("architecture", "cnn"),
        "Supervised" if params.get("model_type", "pinn") == "supervised" else "Unsupervised",
    )
    if architecture != "cnn":
        return _generator_from_params(path, architecture, params, state_dict)
    if any("decoder_shared" in key for key in state_dict):
        raise UnsupportedModelError(path, "use_shared_decoder (tensors ...decoder_shared.*) is not supported")
    if "log_scale_delta" in state_dict:
        raise UnsupportedModelError(path, PARITY_UNRECORDED)
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
    config.update(_params_run_fields(params))
    sources = {name: "params.dill" for name in config}
    sources.update({name: "state_dict tensor names" for name in introspected})
    sources.update(cnn_output_mode="assumed (PtychoPINN default)", num_datasets="state_dict model.forward_model.alpha")
    resolved = Resolved("cnn", cfg, config, SOURCE_PARAMS, unverified, notes, None, sources)
    set_training_neighbors(resolved, params.get("neighbor_count"), "params.dill neighbor_count")
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


