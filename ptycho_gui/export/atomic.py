"""Atomic file writing: write to a temporary file in the destination folder, then rename over.

An interrupted or failed write therefore never leaves a partial file under the final name.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from ptycho_gui.errors import PtychoGuiError


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


FILE_MODE = 0o666 & ~_current_umask()
"""Permissions of written files: what ``open()`` would give, not ``mkstemp``'s owner-only 0600."""


class ExportError(PtychoGuiError):
    """A destination cannot be written (exists without --force, unwritable folder, full disk...)."""


@contextlib.contextmanager
def atomic_path(destination: str | Path, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``destination``; rename it into place only if the block succeeds."""
    destination = Path(destination)
    if destination.exists() and not overwrite:
        raise ExportError(f"{destination}: already exists (use --force to overwrite)")
    folder = destination.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{destination.name}.", suffix=".part", dir=folder)
    except OSError as exc:
        raise ExportError(f"{folder}: cannot write here ({exc.strerror or exc})") from exc
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, destination)
    except OSError as exc:
        raise ExportError(f"{destination}: write failed ({exc.strerror or exc})") from exc
    finally:
        tmp.unlink(missing_ok=True)


def write_bytes_atomic(destination: str | Path, data: bytes, overwrite: bool = False) -> Path:
    """Write ``data`` to ``destination`` atomically and return the path."""
    with atomic_path(destination, overwrite) as tmp:
        tmp.write_bytes(data)
    return Path(destination)


def write_text_atomic(destination: str | Path, text: str, overwrite: bool = False) -> Path:
    """Write UTF-8 ``text`` to ``destination`` atomically and return the path."""
    return write_bytes_atomic(destination, text.encode("utf-8"), overwrite)
