"""Recognise what a file is from its content, not its name: a checkpoint or a scan dataset."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Literal

from ptycho_gui.errors import InvalidInputError
from ptycho_gui.io.datasets import has_hdf5_signature
from ptycho_gui.io.truncated_files import short_file_problem, truncated_zip_problem

FileKind = Literal["checkpoint", "dataset"]
PICKLE_PROTOCOL_OPCODE = b"\x80"
ZIP_LOCAL_HEADER = b"PK\x03\x04"


def detect_kind(path: str | Path) -> FileKind:
    """'checkpoint' for PtychoPINN bundles, torch/Lightning files and run folders, 'dataset' for NPZ/HDF5 scans."""
    path = Path(path)
    if path.is_dir() and _is_checkpoint_folder(path):
        return "checkpoint"
    if not path.is_file():
        raise InvalidInputError(path, "no such file" if not path.exists() else "not a regular file")
    try:
        with path.open("rb") as handle:
            first = handle.read(4)
            if has_hdf5_signature(handle):
                return "dataset"
    except OSError as exc:
        raise InvalidInputError(path, f"cannot be read ({exc.strerror or exc})") from exc
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as archive:
                names = archive.namelist()
        except zipfile.BadZipFile as exc:
            raise InvalidInputError(path, f"damaged zip archive ({exc})") from exc
        return _zip_kind(path, names)
    if first == ZIP_LOCAL_HEADER:
        raise InvalidInputError(path, truncated_zip_problem(path))
    if first[:1] == PICKLE_PROTOCOL_OPCODE:
        return "checkpoint"
    short = short_file_problem(path, first)
    if short is not None:
        raise InvalidInputError(path, short)
    raise InvalidInputError(path, "neither a checkpoint (PtychoPINN bundle, torch/Lightning file) nor a dataset (NPZ, HDF5)")


def _is_checkpoint_folder(path: Path) -> bool:
    """A folder some checkpoint format opens (a study-runner run: model.pt beside config.json)."""
    from ptycho_gui.io.checkpoints import FORMATS

    return any(fmt.sniff(path) for fmt in FORMATS)


def _zip_kind(path: Path, names: list[str]) -> FileKind:
    basenames = {name.rsplit("/", 1)[-1] for name in names}
    if basenames & {"manifest.dill", "model.keras", "custom_objects.dill", "saved_model.pb", "keras_metadata.pb", "data.pkl"}:
        return "checkpoint"
    if names and all(name.endswith(".npy") for name in names):
        return "dataset"
    raise InvalidInputError(path, "zip archive that is neither a PtychoPINN bundle, a torch checkpoint nor an NPZ dataset")
