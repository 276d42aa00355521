"""Safety audit of an HDF5 file before any array in it is read.

An HDF5 file can make a reader return bytes of *other* files: external links, datasets whose raw
storage lives in an external file, and virtual datasets mapping other files. It can also declare
absurd logical sizes. ``audit_hdf5`` walks the whole tree from its link table, refuses all of these
without following any link or reading any data, and ``check_readable_array`` refuses dtypes that are
not plain numbers for the arrays the reader actually loads.

Links are classified with ``Group.get(name, getlink=True)``, which reads the link itself and never
its target; an unknown (user-defined) link type is refused. Soft links are not followed during the
walk (their targets are audited through the hard-link tree); once the whole file is known to hold no
external link, each soft link is resolved — which can then only land inside this file — and a
dangling one is refused.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from ptycho_gui.errors import InvalidInputError

MAX_LOGICAL_BYTES = 1 << 40
"""Largest logical dataset size accepted (1 TiB): far above any scan, far below an absurd claim."""
MAX_DIM = 1 << 31
MAX_RANK = 8
MAX_OBJECTS = 100_000
MAX_CHUNK_BYTES = 64 << 20
"""Largest chunk (the readers' chunk cache): a bigger one would be re-inflated for every row read."""
SMALL_DATASET_BYTES = 64 << 20
MAX_STORAGE_RATIO = 200.0
"""Logical bytes per stored byte above which a dataset is a decompression bomb (or mostly unwritten)."""
NUMERIC_KINDS = frozenset("biufc")


def audit_hdf5(file: h5py.File) -> None:
    """Refuse external links, external raw storage, virtual datasets and absurd sizes, reading no data."""
    path = Path(file.filename)
    soft_links = _walk(file, path)
    for owner, name, target in soft_links:
        try:
            resolved = owner.get(name)
        except (RuntimeError, KeyError, OSError) as exc:
            raise InvalidInputError(
                path, f"soft link {_join(owner.name, name)} -> {target} cannot be resolved (a link loop?)"
            ) from exc
        if resolved is None:
            raise InvalidInputError(path, f"soft link {_join(owner.name, name)} -> {target} points to nothing")


def check_readable_array(dataset: h5py.Dataset, label: str) -> None:
    """Refuse object, string, void, compound (other than complex) and vlen dtypes for an array to read."""
    dtype = dataset.dtype
    if h5py.check_vlen_dtype(dtype) is not None or dtype.kind not in NUMERIC_KINDS:
        raise InvalidInputError(
            Path(dataset.file.filename),
            f"{label} ({dataset.name}) has dtype {_describe_dtype(dtype)}; a plain numeric array is required",
        )


def _walk(file: h5py.File, path: Path) -> list[tuple[h5py.Group, str, str]]:
    """Visit every group reachable by hard links; return the soft links met as (group, name, target)."""
    seen: set[tuple[int, int]] = set()
    soft_links: list[tuple[h5py.Group, str, str]] = []
    pending: list[h5py.Group] = [file]
    count = 0
    while pending:
        group = pending.pop()
        key = _object_key(group)
        if key in seen:
            continue
        seen.add(key)
        for name in group:
            count += 1
            if count > MAX_OBJECTS:
                raise InvalidInputError(path, f"more than {MAX_OBJECTS} links in the file")
            try:
                link = group.get(name, getlink=True)
            except TypeError as exc:
                raise InvalidInputError(path, f"link {_join(group.name, name)} of unknown type refused") from exc
            if isinstance(link, h5py.SoftLink):
                soft_links.append((group, name, link.path))
            elif isinstance(link, h5py.ExternalLink):
                raise InvalidInputError(
                    path,
                    f"external link {_join(group.name, name)} -> {link.filename}:{link.path} refused "
                    "(it reads another file)",
                )
            else:
                child = group[name]
                if isinstance(child, h5py.Group):
                    pending.append(child)
                elif isinstance(child, h5py.Dataset):
                    _audit_dataset(child, path)
    return soft_links


def _audit_dataset(dataset: h5py.Dataset, path: Path) -> None:
    """Refuse external raw storage, virtual layout and absurd declared sizes of one dataset."""
    if dataset.external:
        files = ", ".join(sorted({str(entry[0]) for entry in dataset.external}))
        raise InvalidInputError(path, f"dataset {dataset.name} stores its data in external file(s) {files}; refused")
    if dataset.is_virtual:
        raise InvalidInputError(path, f"dataset {dataset.name} is a virtual dataset (maps other files); refused")
    shape = dataset.shape or ()
    if len(shape) > MAX_RANK or any(dim > MAX_DIM for dim in shape):
        raise InvalidInputError(path, f"dataset {dataset.name} has an absurd shape {shape}")
    logical_bytes = int(np.prod(shape, dtype=object)) * dataset.dtype.itemsize
    if logical_bytes > MAX_LOGICAL_BYTES:
        raise InvalidInputError(
            path, f"dataset {dataset.name} declares {logical_bytes} bytes (cap {MAX_LOGICAL_BYTES}); refused"
        )
    if dataset.chunks:
        chunk_bytes = int(np.prod(dataset.chunks, dtype=object)) * dataset.dtype.itemsize
        if chunk_bytes > MAX_CHUNK_BYTES:
            raise InvalidInputError(
                path, f"dataset {dataset.name} has chunks of {chunk_bytes} bytes (cap {MAX_CHUNK_BYTES}); refused"
            )
    if logical_bytes > SMALL_DATASET_BYTES:
        stored = dataset.id.get_storage_size()
        if logical_bytes > MAX_STORAGE_RATIO * max(stored, 1):
            raise InvalidInputError(
                path,
                f"dataset {dataset.name} declares {logical_bytes} bytes but stores {stored} "
                f"(over {MAX_STORAGE_RATIO:.0f}:1: a decompression bomb or unwritten data); refused",
            )


def _object_key(obj: h5py.HLObject) -> tuple[int, int]:
    info = h5py.h5o.get_info(obj.id)
    return info.fileno, info.addr


def _join(group_name: str, name: str) -> str:
    return f"{group_name.rstrip('/')}/{name}"


def _describe_dtype(dtype: np.dtype) -> str:
    if h5py.check_string_dtype(dtype) is not None:
        return "string"
    if h5py.check_vlen_dtype(dtype) is not None:
        return "variable-length"
    if dtype.kind == "V":
        return "compound/opaque (void)"
    return str(dtype)
