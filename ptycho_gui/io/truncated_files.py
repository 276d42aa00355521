"""Saying what a cut-short file was meant to be: a truncated checkpoint, dataset or archive, never "unknown".

A zip archive cut anywhere before its end loses its central directory, so ``zipfile`` refuses it; the
first local file header (at offset 0) still names the first member, which tells a PtychoPINN bundle or
torch checkpoint from an NPZ dataset. A file shorter than any signature is called empty or too short.
"""

from __future__ import annotations

import struct
from pathlib import Path

ZIP_LOCAL_HEADER = b"PK\x03\x04"
LOCAL_HEADER = struct.Struct("<4s5H3L2H")
"""signature, version, flags, method, time, date, crc, compressed size, size, name length, extra length."""
CHECKPOINT_MEMBERS = ("manifest.dill", "model.keras", "custom_objects.dill", "saved_model.pb",
                      "keras_metadata.pb", "data.pkl", "params.dill", "model.pth", "torch_scaling_metadata.pt",
                      ".format_version", "byteorder", "version")
"""Member names (last path part) that only PtychoPINN bundles and torch checkpoints hold."""
SIGNATURES = (ZIP_LOCAL_HEADER, b"\x89HDF\r\n\x1a\n", b"\x80")
"""The first bytes of a zip archive, an HDF5 file and a pickle (a torch file of the legacy format)."""


def first_zip_member(path: Path) -> str | None:
    """The name in the zip local file header at offset 0, or None when there is none to read."""
    with path.open("rb") as handle:
        header = handle.read(LOCAL_HEADER.size)
        if len(header) < LOCAL_HEADER.size or header[:4] != ZIP_LOCAL_HEADER:
            return None
        name_length = LOCAL_HEADER.unpack(header)[9]
        name = handle.read(name_length)
    return name.decode("utf-8", "replace") if len(name) == name_length and name else None


def member_kind(name: str) -> str | None:
    """'checkpoint' or 'dataset' from one zip member's name; None when the name does not tell."""
    base = name.rsplit("/", 1)[-1]
    if base in CHECKPOINT_MEMBERS or name.split("/")[1:2] == ["data"]:
        return "checkpoint"
    if base.endswith(".npy"):
        return "dataset"
    return None


def truncated_zip_problem(path: Path) -> str:
    """Why a file that starts like a zip archive has no central directory, naming what it was meant to be."""
    size = path.stat().st_size
    name = first_zip_member(path)
    kind = member_kind(name) if name is not None else None
    what = {"checkpoint": "checkpoint", "dataset": "NPZ dataset"}.get(kind, "zip archive")
    first = f", first member {name!r}" if name is not None else ""
    return f"truncated or damaged {what} (zip archive of {size:,} bytes without its central directory{first})"


def short_file_problem(path: Path, head: bytes) -> str | None:
    """'empty file' or 'truncated file' when ``head`` (the whole file) is too short to carry a signature."""
    if not head:
        return "empty file (0 bytes)"
    if len(head) < len(ZIP_LOCAL_HEADER) and any(sig.startswith(head) for sig in SIGNATURES):
        return f"truncated file ({len(head)} bytes: the start of a checkpoint or dataset signature, nothing more)"
    return None
