"""PtychoPINN's study-runner run folder: ``model.pt`` (a bare state dict) beside ``config.json``.

Written by ``scripts/studies/grid_lines_torch_runner.py``: ``config.json`` holds the runner's
``TorchRunnerConfig`` under ``torch_runner_config`` (architecture, N, gridsize, fno_*,
generator_output_mode); ``model.pt`` is the Lightning module's ``state_dict()``. Open the folder
or the ``.pt``; it is recognised by the ``torch_runner_config`` beside a torch state dict. The
runner feeds the bridge-normalized inputs of the workflow (input scale 1).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from ptycho_gui.errors import InvalidInputError, UnsupportedModelError
from ptycho_gui.io.loaded_model import LoadedModel
from ptycho_gui.io.network_loading import loaded_model
from ptycho_gui.io.torch_config import (
    SOURCE_RUNNER,
    refuse_unsupported_model,
    resolve_generator,
)
from ptycho_gui.io.torch_files import (
    as_state_dict,
    is_int,
    scalar,
    torch_file_head,
    torch_load,
)

FORMAT = "study-runner"
WEIGHTS = "model.pt"
CONFIG = "config.json"
RUNNER_KEY = "torch_runner_config"
MAX_CONFIG_BYTES = 4 << 20
DIFFRACTION_ONLY = "diffraction_only"


def weights_file(path: Path) -> Path:
    """The run's weights: ``path`` itself, or ``path/model.pt`` for a run folder."""
    return path / WEIGHTS if path.is_dir() else path


def sniff_study_run(path: Path) -> bool:
    """A torch state-dict file (no ``hyper_parameters``) with a runner ``config.json`` beside it."""
    weights = weights_file(path)
    head = torch_file_head(weights) if weights.is_file() else None
    if head is None or b"hyper_parameters" in head:
        return False
    try:
        return isinstance(_runner_config(weights.parent / CONFIG), Mapping)
    except InvalidInputError:
        return False


def open_study_run(path: Path, sha256: str) -> LoadedModel:
    """Resolve the runner config, load ``model.pt`` weights-only and its network strictly."""
    weights = weights_file(path)
    config_path = weights.parent / CONFIG
    runner = _runner_config(config_path)
    architecture = refuse_unsupported_model(
        weights, runner.get("architecture"),
        "Unsupervised" if runner.get("training_procedure", "pinn") == "pinn" else runner.get("training_procedure"),
    )
    if architecture == "cnn":
        raise UnsupportedModelError(
            weights, "study-runner cnn run: config.json does not record the cnn's n_filters_scale, amp_activation "
            "or probe_big; open the run's Lightning checkpoint (checkpoints/last.ckpt) instead",
        )
    conditioning = runner.get("input_conditioning_mode", DIFFRACTION_ONLY)
    if conditioning != DIFFRACTION_ONLY:
        raise UnsupportedModelError(weights, f"input_conditioning_mode {conditioning!r} (extra input channels) is not supported")
    physics = runner.get("physics_forward_mode", "amplitude")
    if physics != "amplitude":
        raise UnsupportedModelError(weights, f"physics_forward_mode {physics!r} is not supported (only 'amplitude')")
    N, gridsize = runner.get("N"), runner.get("gridsize")
    if not (is_int(N) and is_int(gridsize) and gridsize >= 1):
        raise InvalidInputError(config_path, f"{RUNNER_KEY} has no integer N and gridsize")
    where = f"{CONFIG} {RUNNER_KEY}"
    resolved = resolve_generator(weights, architecture, runner, where, N, gridsize * gridsize, SOURCE_RUNNER)
    resolved.config.update(
        mode="Unsupervised",
        physics_forward_mode=physics,
        torch_loss_mode=scalar(runner.get("torch_loss_mode")),
        seed=scalar(runner.get("seed")),
        epochs=scalar(runner.get("epochs")),
        train_npz=scalar(runner.get("train_npz")),
        reassembly_mode=scalar(runner.get("reassembly_mode")),
    )
    resolved.sources.update(N=where, C=f"{where} gridsize", gridsize=where)
    resolved.notes.append(
        "normalization 'bridge': the study runner feeds the workflow's bridge-normalized inputs (input scale 1)"
    )
    resolved.notes.append(f"study-runner run {weights.parent.name}: config from {CONFIG}, weights from {WEIGHTS}")
    state_dict = as_state_dict(weights, torch_load(weights, weights, WEIGHTS), WEIGHTS)
    return loaded_model(weights, sha256, FORMAT, resolved, state_dict, "bridge")


def _runner_config(config_path: Path) -> Mapping:
    """``config.json``'s ``torch_runner_config`` dict, or an InvalidInputError naming the problem."""
    try:
        if config_path.stat().st_size > MAX_CONFIG_BYTES:
            raise InvalidInputError(config_path, f"larger than {MAX_CONFIG_BYTES} bytes")
        document = json.loads(config_path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise InvalidInputError(config_path, "not found") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInputError(config_path, f"not readable JSON ({exc})") from exc
    runner = document.get(RUNNER_KEY) if isinstance(document, Mapping) else None
    if not isinstance(runner, Mapping):
        raise InvalidInputError(config_path, f"has no {RUNNER_KEY} dict")
    return runner
