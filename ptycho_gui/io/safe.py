"""Safe readers for untrusted files: a pickle reader that refuses every global, and zip checks.

PtychoPINN stores plain-data pickles (``manifest.dill``, ``params.dill``, NPZ ``_metadata``); they
never need a GLOBAL opcode, so refusing all of them blocks code execution without losing data.
"""

from __future__ import annotations

import io
import pickle
import stat
import zipfile
from pathlib import Path

MAX_PICKLE_BYTES = 16 << 20
MAX_ZIP_MEMBERS = 1000
MAX_ZIP_MEMBER_BYTES = 4 << 30
MAX_ZIP_RATIO = 200.0


class UnsafeContentError(ValueError):
    """Raised when a file asks for something a plain-data reader must never do."""


class _NoGlobalsUnpickler(pickle.Unpickler):
    """Unpickler whose ``find_class`` always refuses: only dict/list/str/number/bool/None load."""

    def find_class(self, module: str, name: str):
        raise UnsafeContentError(f"refused pickle global {module}.{name}")


def load_plain_pickle(data: bytes) -> object:
    """Unpickle plain data only (no classes, no functions), with a size cap."""
    if len(data) > MAX_PICKLE_BYTES:
        raise UnsafeContentError(f"pickle of {len(data)} bytes exceeds the {MAX_PICKLE_BYTES}-byte cap")
    try:
        return _NoGlobalsUnpickler(io.BytesIO(data)).load()
    except UnsafeContentError:
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError) as exc:
        raise UnsafeContentError(f"not a readable plain-data pickle ({exc})") from exc


def check_zip_members(archive: zipfile.ZipFile) -> None:
    """Refuse absolute or parent-relative names, symlinks, encryption, and zip bombs."""
    infos = archive.infolist()
    if len(infos) > MAX_ZIP_MEMBERS:
        raise UnsafeContentError(f"archive has {len(infos)} members (cap {MAX_ZIP_MEMBERS})")
    for info in infos:
        name = info.filename
        parts = Path(name.replace("\\", "/")).parts
        if name.startswith(("/", "\\")) or ".." in parts or (len(name) > 1 and name[1] == ":"):
            raise UnsafeContentError(f"archive member {name!r} has an unsafe path")
        if stat.S_ISLNK(info.external_attr >> 16):
            raise UnsafeContentError(f"archive member {name!r} is a symbolic link")
        if info.flag_bits & 0x1:
            raise UnsafeContentError(f"archive member {name!r} is encrypted")
        if info.file_size > MAX_ZIP_MEMBER_BYTES:
            raise UnsafeContentError(f"archive member {name!r} is {info.file_size} bytes (too large)")
        if info.compress_size and info.file_size / info.compress_size > MAX_ZIP_RATIO:
            raise UnsafeContentError(f"archive member {name!r} has a suspicious compression ratio")


def read_zip_member(archive: zipfile.ZipFile, name: str, max_bytes: int = MAX_ZIP_MEMBER_BYTES) -> bytes:
    """Read one member in a streamed loop that stops at ``max_bytes`` whatever the header claims."""
    chunks: list[bytes] = []
    total = 0
    with archive.open(name) as member:
        while chunk := member.read(1 << 20):
            total += len(chunk)
            if total > max_bytes:
                raise UnsafeContentError(f"archive member {name!r} is larger than {max_bytes} bytes")
            chunks.append(chunk)
    return b"".join(chunks)
