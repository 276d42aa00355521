"""Atomic file writing: write to a temporary file in the destination folder, then rename over.

An interrupted or failed write therefore never leaves a partial file under the final name. The
temporary file is fsynced before the rename and the folder after it, so a crash right after "wrote"
cannot leave an empty file either. Given the output folder as ``root``, no symbolic link inside it is
ever followed (a planted ``out/debug_dump -> /elsewhere`` link is refused, not written through).
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


def refuse_symlinks(root: str | Path, destination: str | Path) -> None:
    """Refuse when any path component below ``root`` down to ``destination`` is a symbolic link."""
    root, destination = Path(root), Path(destination)
    try:
        parts = destination.relative_to(root).parts
    except ValueError:
        return
    current = root
    for part in parts:
        current = current / part
        if current.is_symlink():
            raise ExportError(f"{current}: a symbolic link inside the output folder; refused (links are never followed)")


def check_output_paths(root: str | Path, destinations: list[Path], overwrite: bool) -> None:
    """Before any work: no symlinks below ``root``, and no existing destination unless ``overwrite``."""
    for destination in destinations:
        refuse_symlinks(root, destination)
    existing = [str(path) for path in destinations if path.exists()]
    if existing and not overwrite:
        shown = ", ".join(existing[:3]) + (f" and {len(existing) - 3} more" if len(existing) > 3 else "")
        raise ExportError(f"{shown}: already exist{'s' if len(existing) == 1 else ''} (use --force to overwrite)")


@contextlib.contextmanager
def atomic_path(destination: str | Path, overwrite: bool = False, root: str | Path | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``destination``; fsync and rename it into place only if the block succeeds."""
    destination = Path(destination)
    if root is not None:
        refuse_symlinks(root, destination)
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
        _fsync(tmp, os.O_RDONLY)
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, destination)
        _fsync(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError as exc:
        raise ExportError(f"{destination}: write failed ({exc.strerror or exc})") from exc
    finally:
        tmp.unlink(missing_ok=True)


def _fsync(path: Path, flags: int) -> None:
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_bytes_atomic(destination: str | Path, data: bytes, overwrite: bool = False,
                       root: str | Path | None = None) -> Path:
    """Write ``data`` to ``destination`` atomically and return the path."""
    with atomic_path(destination, overwrite, root) as tmp:
        tmp.write_bytes(data)
    return Path(destination)


def write_text_atomic(destination: str | Path, text: str, overwrite: bool = False,
                      root: str | Path | None = None) -> Path:
    """Write UTF-8 ``text`` to ``destination`` atomically and return the path."""
    return write_bytes_atomic(destination, text.encode("utf-8"), overwrite, root)
