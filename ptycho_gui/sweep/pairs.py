"""Which checkpoints and datasets a sweep pairs, and where each pair's reconstruction goes."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from ptycho_gui.errors import InvalidInputError
from ptycho_gui.io.checkpoints import FORMATS


@dataclass(frozen=True)
class Pair:
    """One checkpoint × dataset pair and the folder its reconstruction.h5 is written to (all by path)."""

    index: int
    checkpoint: str
    dataset: str
    out_dir: str


def is_checkpoint(path: Path) -> bool:
    """True when any checkpoint format's sniffer recognises ``path`` by content."""
    return any(fmt.sniff(path) for fmt in FORMATS)


def _is_listing(path: Path) -> bool:
    """A plain text file listing checkpoint paths, one a line (not itself a checkpoint)."""
    if not path.is_file() or is_checkpoint(path):
        return False
    try:
        path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError):
        return False
    return True


def _search_folder(folder: Path) -> list[Path]:
    """Checkpoints in ``folder`` and below, recognised by content; a study-run folder counts as one."""
    if is_checkpoint(folder):
        return [folder]
    found: list[Path] = []
    for child in sorted(folder.iterdir()):
        if child.is_dir():
            found += _search_folder(child)
        elif is_checkpoint(child):
            found.append(child)
    return found


def expand_checkpoints(arguments: list[Path]) -> list[Path]:
    """Checkpoint paths from files, text listings (one path a line, # comments) and folders searched by content."""
    checkpoints: list[Path] = []
    for argument in arguments:
        if not argument.exists():
            raise InvalidInputError(argument, "file not found")
        if argument.is_dir():
            found = _search_folder(argument)
            if not found:
                raise InvalidInputError(argument, "no checkpoint found in this folder")
            checkpoints += found
        elif _is_listing(argument):
            base = argument.parent
            for line in argument.read_text(encoding="utf-8").splitlines():
                entry = line.strip()
                if entry and not entry.startswith("#"):
                    checkpoints.append(Path(entry) if Path(entry).is_absolute() else base / entry)
        else:
            checkpoints.append(argument)
    return checkpoints


def _folder_name(index: int, checkpoint: Path, dataset: Path) -> str:
    """A readable, unique folder name for a pair."""
    digest = hashlib.sha1(f"{checkpoint}\n{dataset}".encode()).hexdigest()[:8]
    return f"{index:03d}_{checkpoint.name}_{dataset.stem}_{digest}"


def make_pairs(checkpoints: list[Path], datasets: list[Path], out_dir: Path) -> list[Pair]:
    """Every checkpoint × dataset pair, in order, with absolute paths (files travel by path)."""
    pairs = []
    for checkpoint in checkpoints:
        for dataset in datasets:
            index = len(pairs)
            folder = Path(out_dir).resolve() / "pairs" / _folder_name(index, checkpoint, dataset)
            pairs.append(Pair(index, str(checkpoint.resolve()), str(dataset.resolve()), str(folder)))
    return pairs
