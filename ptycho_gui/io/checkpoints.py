"""Open a PtychoPINN checkpoint, recognised by its content, as a strictly loaded network.

Every format lives in its own module and is listed once in ``FORMATS``: a name, a ``sniff`` that
recognises the format from content (never the file name), and an ``open`` that reads it. The first
format whose sniff accepts a path opens it. Nothing is ever unpickled beyond plain data
(``io.safe.load_plain_pickle``) or torch's weights-only loader; every expected failure is an
``InvalidInputError`` or, for a well-formed checkpoint of a network this app does not implement,
an ``UnsupportedModelError`` — one line naming the file.
"""

from __future__ import annotations

import hashlib
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import torch

from ptycho_gui.errors import InvalidInputError
from ptycho_gui.io.lightning_ckpt import FORMAT as FORMAT_CKPT
from ptycho_gui.io.lightning_ckpt import open_lightning_ckpt, sniff_lightning_ckpt
from ptycho_gui.io.loaded_model import LoadedModel
from ptycho_gui.io.network_loading import state_dict_problems
from ptycho_gui.io.safe import UnsafeContentError, check_zip_members
from ptycho_gui.io.study_run import open_study_run, sniff_study_run, weights_file
from ptycho_gui.io.tf_bundle import FORMAT_TF, open_tf_bundle, sniff_tf_bundle
from ptycho_gui.io.torch_bundle import FORMAT as FORMAT_BUNDLE
from ptycho_gui.io.torch_bundle import open_torch_bundle, sniff_torch_bundle
from ptycho_gui.io.torch_config import (
    SOURCE_HPARAMS,
    SOURCE_METADATA,
    SOURCE_PARAMS,
    SOURCE_RUNNER,
)
from ptycho_gui.io.torch_files import (
    PICKLE_PROTO,
    ZIP_LOCAL_HEADER,
    first_line,
    torch_load,
)
from ptycho_gui.io.truncated_files import short_file_problem, truncated_zip_problem


@dataclass(frozen=True)
class CheckpointFormat:
    """One checkpoint format: ``sniff(path)`` recognises it by content, ``open(path, sha256)`` reads it."""

    name: str
    sniff: Callable[[Path], bool]
    open: Callable[[Path, str], LoadedModel]


FORMATS: tuple[CheckpointFormat, ...] = (
    CheckpointFormat(FORMAT_TF, sniff_tf_bundle, open_tf_bundle),
    CheckpointFormat(FORMAT_BUNDLE, sniff_torch_bundle, open_torch_bundle),
    CheckpointFormat(FORMAT_CKPT, sniff_lightning_ckpt, open_lightning_ckpt),
    CheckpointFormat("study-runner", sniff_study_run, open_study_run),
)
"""Every checkpoint format, tried in order; the first whose sniff accepts the path opens it."""


def open_checkpoint(path: str | Path) -> LoadedModel:
    """Recognise ``path`` by content, resolve its configuration and load its network strictly."""
    path = Path(path)
    if not path.exists():
        raise InvalidInputError(path, "file not found")
    for fmt in FORMATS:
        if fmt.sniff(path):
            return fmt.open(path, _sha256(weights_file(path)))
    if path.is_dir():
        raise InvalidInputError(
            path, "not a file (give the checkpoint file, e.g. wts.h5.zip or last.ckpt, or a study-runner run folder)"
        )
    _sha256(path)
    raise _unrecognised(path)


def _sha256(path: Path) -> str:
    """SHA-256 of the file, streamed; unreadable paths become a one-line InvalidInputError."""
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


def _unrecognised(path: Path) -> InvalidInputError:
    """Why no format accepted ``path``, as precisely as can be said without running anything."""
    with path.open("rb") as handle:
        head = handle.read(4)
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as archive:
                check_zip_members(archive)
                names = archive.namelist()
        except (zipfile.BadZipFile, OSError) as exc:
            return InvalidInputError(path, f"corrupt zip archive ({first_line(str(exc))})")
        except UnsafeContentError as exc:
            return InvalidInputError(path, f"unsafe archive: {exc}")
        if not any(name == "data.pkl" or name.endswith("/data.pkl") for name in names):
            return InvalidInputError(path, "zip archive is not a PtychoPINN bundle (no manifest.dill) nor a torch file")
        return _torch_file_problem(path)
    if head == ZIP_LOCAL_HEADER:
        return InvalidInputError(path, truncated_zip_problem(path))
    if head[:1] == PICKLE_PROTO:
        return _torch_file_problem(path)
    short = short_file_problem(path, head)
    if short is not None:
        return InvalidInputError(path, short)
    return InvalidInputError(path, "not a PtychoPINN checkpoint: neither a zip archive nor a torch file")


def _torch_file_problem(path: Path) -> InvalidInputError:
    """What a torch file holds when it is no checkpoint (weights-only load, so nothing runs)."""
    try:
        payload = torch_load(path, path, "checkpoint")
    except InvalidInputError as exc:
        return exc
    if not isinstance(payload, Mapping):
        return InvalidInputError(path, f"torch file holds a {type(payload).__name__}, not a checkpoint dict")
    if "state_dict" in payload:
        return InvalidInputError(path, "Lightning checkpoint without hyper_parameters: its configuration is unknown")
    if payload and all(isinstance(v, torch.Tensor) for v in payload.values()):
        return InvalidInputError(
            path,
            "a bare state dict carries no configuration; open the wts.h5.zip bundle, .ckpt or study-runner "
            "run folder (model.pt beside config.json) it came from",
        )
    return InvalidInputError(path, "torch file is not a Lightning checkpoint (no state_dict / hyper_parameters)")


__all__ = [
    "FORMATS",
    "FORMAT_BUNDLE",
    "FORMAT_CKPT",
    "SOURCE_HPARAMS",
    "SOURCE_METADATA",
    "SOURCE_PARAMS",
    "SOURCE_RUNNER",
    "CheckpointFormat",
    "LoadedModel",
    "open_checkpoint",
    "state_dict_problems",
]
