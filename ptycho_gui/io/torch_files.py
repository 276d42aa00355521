"""Reading torch-saved and plain-pickle data safely, each failure a one-line refusal naming the file.

Shared by the checkpoint format modules (``torch_bundle``, ``lightning_ckpt``, ``study_run``).
"""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path

from ptycho_gui.errors import InvalidInputError
from ptycho_gui.io.safe import (
    MAX_PICKLE_BYTES,
    MAX_ZIP_MEMBER_BYTES,
    UnsafeContentError,
    check_nested_zip,
    load_plain_pickle,
    read_zip_member,
)
from ptycho_gui.io.tensor_checks import check_state_dict, load_torch

ZIP_LOCAL_HEADER = b"PK\x03\x04"
PICKLE_PROTO = b"\x80"
SNIFF_BYTES = 16 << 20
"""How much of a torch file's main pickle is scanned for its top-level key names."""


def torch_load(path: Path, source, what: str):
    """Every torch load goes through the shared vetted loader (budgets, weights-only, tensor checks)."""
    return load_torch(path, source, what)


def first_line(text: str, limit: int = 160) -> str:
    """The first line of ``text``, shortened to ``limit`` characters."""
    line = text.strip().splitlines()[0] if text.strip() else "no detail"
    return line if len(line) <= limit else line[: limit - 1] + "…"


def plain_member(path: Path, archive: zipfile.ZipFile, name: str):
    """A plain-data pickle member (no globals, size-capped)."""
    try:
        return load_plain_pickle(read_zip_member(archive, name, MAX_PICKLE_BYTES))
    except UnsafeContentError as exc:
        raise InvalidInputError(path, f"{name}: {exc}") from exc


def torch_member(path: Path, archive: zipfile.ZipFile, name: str, max_bytes: int = MAX_ZIP_MEMBER_BYTES):
    """A torch-saved member, loaded weights-only from memory."""
    try:
        data = read_zip_member(archive, name, max_bytes)
        check_nested_zip(data, name)
    except UnsafeContentError as exc:
        raise InvalidInputError(path, f"{name}: {exc}") from exc
    return torch_load(path, data, name)


def as_state_dict(path: Path, candidate, where: str) -> dict:
    """``candidate`` as a name → tensor dict, or a refusal (shared tensor checks)."""
    return check_state_dict(path, candidate, where)


def torch_file_head(path: Path) -> bytes | None:
    """The start of a torch file's main pickle (``data.pkl`` of a torch zip, or a legacy pickle), else None.

    Used to recognise what a torch file holds from the key names in its pickle, without unpickling.
    """
    try:
        with path.open("rb") as handle:
            head = handle.read(4)
        if head[:1] == PICKLE_PROTO:
            with path.open("rb") as handle:
                return handle.read(SNIFF_BYTES)
        if head != ZIP_LOCAL_HEADER or not zipfile.is_zipfile(path):
            return None
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if n == "data.pkl" or n.endswith("/data.pkl")]
            if len(names) != 1:
                return None
            with archive.open(names[0]) as member:
                return member.read(SNIFF_BYTES)
    except (OSError, zipfile.BadZipFile, zlib.error, EOFError, ValueError):
        return None


def scalar(value):
    """A JSON-able scalar (str, int, float, bool, None); anything else as its text."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    return str(value)


def is_int(value) -> bool:
    """An int that is not a bool."""
    return isinstance(value, int) and not isinstance(value, bool)
