"""Build a family's network and load a checkpoint's tensors into it strictly.

Every tensor is checked against the network before anything is allocated (the network is first
built on torch's ``meta`` device, which holds shapes only, after its config passed the family's
sane ranges and with its size capped); then the real network is built and
loaded with ``strict=True``. Names the network registers twice (PtychoPINN's generator aliases)
must hold identical tensors in the file, so nothing is silently overwritten.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ptycho_gui.errors import InvalidInputError, UnsupportedModelError
from ptycho_gui.io.config_bounds import FAMILY_BOUNDS, check_ranges, meta_state_dict
from ptycho_gui.io.loaded_model import LoadedModel
from ptycho_gui.io.torch_config import Resolved
from ptycho_gui.io.torch_files import first_line
from ptycho_gui.models import NETWORKS
from ptycho_gui.models.uno import MissingExtraError

LIST_LIMIT = 4


def load_network(path: Path, family: str, config: Any, state_dict: Mapping[str, torch.Tensor]) -> nn.Module:
    """The ``family`` network for ``config`` holding exactly ``state_dict``; any mismatch names its tensors."""
    build = NETWORKS.get(family)
    if build is None:
        raise UnsupportedModelError(path, f"architecture {family!r} is not supported (supported: {', '.join(NETWORKS)})")
    if dataclasses.is_dataclass(config):
        check_ranges(path, dataclasses.asdict(config), FAMILY_BOUNDS.get(family, {}), "config")
    try:
        expected = meta_state_dict(path, lambda: build(config))
    except MissingExtraError as exc:
        raise UnsupportedModelError(path, str(exc)) from exc
    problems = state_dict_problems(expected, state_dict)
    if problems:
        raise InvalidInputError(path, "; ".join(problems))
    network = build(config)
    problems = alias_problems(network, state_dict)
    if problems:
        raise InvalidInputError(path, "; ".join(problems))
    try:
        network.load_state_dict(state_dict, strict=True)
    except RuntimeError as exc:
        raise InvalidInputError(path, f"weights do not load ({first_line(str(exc))})") from exc
    return network


def loaded_model(path: Path, sha256: str, fmt: str, resolved: Resolved, state_dict: dict,
                 normalization: str) -> LoadedModel:
    """The LoadedModel of a resolved torch checkpoint: its network built and strictly loaded."""
    network = load_network(path, resolved.family, resolved.network_config, state_dict)
    cfg = resolved.network_config
    return LoadedModel(
        path=path,
        sha256=sha256,
        format=fmt,
        family=resolved.family,
        N=cfg.N,
        gridsize=cfg.gridsize,
        C=cfg.C,
        config=resolved.config,
        config_source=resolved.source,
        unverified=resolved.unverified,
        notes=resolved.notes,
        normalization=normalization,
        training_neighbors=resolved.training_neighbors,
        network=network,
        cnn_config=cfg if resolved.family == "cnn" else None,
        config_sources=resolved.sources,
    )


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
        elif got.is_complex() != want.is_complex() or got.is_floating_point() != want.is_floating_point():
            problems.append(f"tensor {key} has dtype {got.dtype} but the network expects {want.dtype}")
        elif (got.is_floating_point() or got.is_complex()) and not bool(torch.isfinite(got).all()):
            problems.append(f"tensor {key} holds NaN or infinite values")
    return problems


def alias_problems(network: nn.Module, given: Mapping[str, torch.Tensor]) -> list[str]:
    """Names the network shares between modules whose tensors differ in the file."""
    groups: dict[int, list[str]] = {}
    for name, tensor in network.state_dict(keep_vars=True).items():
        groups.setdefault(id(tensor), []).append(name)
    problems = []
    for names in groups.values():
        first = given[names[0]]
        differing = [n for n in names[1:] if not torch.equal(given[n], first)]
        if differing:
            problems.append(
                f"tensor {differing[0]} must be the same tensor as {names[0]} (one shared weight in "
                "PtychoPINN's network) but holds different values"
            )
    return problems


def distinct_tensors(network: nn.Module) -> list[torch.Tensor]:
    """The network's state tensors, each shared tensor once."""
    seen: dict[int, torch.Tensor] = {}
    for tensor in network.state_dict(keep_vars=True).values():
        seen.setdefault(id(tensor), tensor)
    return list(seen.values())


def _names(noun: str, keys: list[str]) -> str:
    shown = ", ".join(keys[:LIST_LIMIT])
    more = f" (+{len(keys) - LIST_LIMIT} more)" if len(keys) > LIST_LIMIT else ""
    return f"{noun}{'s' if len(keys) > 1 else ''} {shown}{more}"
