"""A Lightning checkpoint (``.ckpt``): a torch file holding ``state_dict`` and ``hyper_parameters``.

Recognised from the key names in its pickle (read, never unpickled, until ``torch.load``'s
weights-only loader runs). ``hyper_parameters`` hold PtychoPINN's torch configs (authoritative).
A checkpoint in ``<run>/checkpoints/`` beside ``<run>/configs/*.json`` comes from the memory-mapped
training path, whose inputs are normalized to N² rather than (N/2)².
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from ptycho_gui.errors import InvalidInputError, UnsupportedModelError
from ptycho_gui.io.loaded_model import LoadedModel
from ptycho_gui.io.network_loading import loaded_model
from ptycho_gui.io.torch_config import (
    SOURCE_HPARAMS,
    resolve_torch_configs,
    set_training_neighbors,
)
from ptycho_gui.io.torch_files import (
    as_state_dict,
    is_int,
    scalar,
    torch_file_head,
    torch_load,
)

FORMAT = "lightning-ckpt"
MMAP_CONFIG_FILES = ("data_config.json", "model_config.json")
_MARKERS = (b"hyper_parameters", b"state_dict")


def sniff_lightning_ckpt(path: Path) -> bool:
    """A torch file whose pickle names both ``state_dict`` and ``hyper_parameters``."""
    head = torch_file_head(path) if path.is_file() else None
    return head is not None and all(marker in head for marker in _MARKERS)


def open_lightning_ckpt(path: Path, sha256: str) -> LoadedModel:
    """Load the checkpoint weights-only, resolve its hyper_parameters and load its network strictly."""
    payload = torch_load(path, path, "checkpoint")
    if not isinstance(payload, Mapping) or "state_dict" not in payload or "hyper_parameters" not in payload:
        raise InvalidInputError(path, "torch file is not a Lightning checkpoint (no state_dict / hyper_parameters)")
    state_dict = as_state_dict(path, payload["state_dict"], "state_dict")
    hparams = payload["hyper_parameters"]
    if not isinstance(hparams, Mapping):
        raise InvalidInputError(path, "hyper_parameters is not a dict")
    if payload.get("ci_statistics") is not None:
        raise UnsupportedModelError(
            path, "CI checkpoint (ci_statistics: intensity inputs with a frozen input scale) is not supported"
        )
    parity = hparams.get("parity_scale_mode", "off")
    resolved = resolve_torch_configs(path, hparams, "hyper_parameters", parity, SOURCE_HPARAMS)
    set_training_neighbors(resolved, resolved.config["K"], "data_config K")
    generator_output = hparams.get("generator_output", "amp_phase")
    if resolved.family == "cnn":
        if resolved.network_config.cnn_output_mode == "amp_phase" and generator_output != "amp_phase":
            raise UnsupportedModelError(
                path,
                f"hyper_parameters generator_output {generator_output!r} with an amp_phase cnn head "
                "(PtychoPINN would combine amplitude and phase as real and imaginary parts)",
            )
    elif generator_output != resolved.config["generator_output_mode"]:
        resolved.notes.append(
            f"hyper_parameters generator_output {generator_output!r} differs from model_config "
            f"generator_output_mode {resolved.config['generator_output_mode']!r}; PtychoPINN uses the latter"
        )
    for key in ("epoch", "global_step", "pytorch-lightning_version"):
        resolved.config[key.replace("-", "_")] = scalar(payload.get(key))
        resolved.sources[key.replace("-", "_")] = "checkpoint"
    if is_int(payload.get("epoch")):
        resolved.notes.append(f"Lightning checkpoint saved at epoch {payload['epoch']}")
    normalization, note = _normalization(path)
    resolved.notes.append(note)
    return loaded_model(path, sha256, FORMAT, resolved, state_dict, normalization)


def _normalization(path: Path) -> tuple[str, str]:
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
