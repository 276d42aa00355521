"""Scan datasets: PtychoPINN NPZ files and HDF5 files with the same field names, read lazily.

Format is recognised by content: a zip archive of ``.npy`` members is an NPZ; a file carrying the
HDF5 signature (offset 0 or a power-of-two user-block offset up to 1 MiB) is HDF5.

HDF5 layout: the fields are datasets at the root; when the root holds no diffraction stack, the
single child group that does (e.g. ``/entry``) is used (several such groups are an error). The file
is audited by ``hdf5_audit`` before any array is read and stays open read-only until ``close()``.

Pattern access: HDF5 rows are read as contiguous slices of the sorted unique rows, then re-indexed
(through a 64 MiB chunk cache per file); an NPZ member stored uncompressed (``np.savez``) is
memory-mapped at its byte offset inside the zip; a compressed member (``np.savez_compressed``) cannot be read in part, so it is decompressed once, on
first use, and kept in memory (use ``np.savez`` or HDF5 for scans larger than memory).

Validation: structure (keys, shapes, lengths, finite coordinates) is checked on open. Pattern values
are checked in one chunked pass (bounded memory) that also computes the per-pattern energies: on
open when the stack holds at most ``eager_scan_bytes``, otherwise on the first ``pattern_energies()``
(the engine calls it before any forward pass). Non-finite values are errors; negative values,
intensity-like data and an all-zero stack are warnings in ``notes``.

Intensity heuristic: amplitudes are sqrt(counts), whole numbers only at perfect squares, so a stack
whose values are all whole numbers (max ≥ 2) looks like counts; independently, a maximum above
4096 = sqrt(2**24 counts) exceeds the amplitude of any plausible per-frame pixel count.

Metadata: ``_metadata`` (PtychoPINN's JSON, either a string scalar or a pickled 0-d object array; the
pickle is never loaded: its opcodes are walked with ``pickletools.genops`` and the first string
argument that parses as a JSON object is taken), else ``metadata_json`` (a string scalar). HDF5 string
scalars of those names are read the same way. ``pixel_size_m`` is the first valid value of
``pixel_size_m`` or ``object_pixel_size_m`` (metres by name) or ``pixel_size`` (no unit: taken as
metres only when 0 < value ≤ 1e-3), searched anywhere in the metadata tree.
"""

from __future__ import annotations

import json
import math
import pickletools
import struct
import zipfile
import zlib
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Protocol

import h5py
import numpy as np

from ptycho_gui.errors import InvalidInputError
from ptycho_gui.io.hdf5_audit import audit_hdf5, check_readable_array
from ptycho_gui.io.safe import (
    MAX_PICKLE_BYTES,
    UnsafeContentError,
    check_plain_tree,
    check_zip_members,
    read_zip_member,
    scan_pickle,
)
from ptycho_gui.io.truncated_files import short_file_problem, truncated_zip_problem

DIFFRACTION_KEYS: tuple[str, ...] = ("diff3d", "diffraction")
COORDINATE_KEYS: tuple[str, str] = ("xcoords", "ycoords")
START_KEYS: tuple[str, str] = ("xcoords_start", "ycoords_start")
GROUND_TRUTH_KEYS: tuple[str, ...] = ("ground_truth_patches", "Y")
METADATA_KEYS: tuple[str, ...] = ("_metadata", "metadata_json")
PIXEL_SIZE_KEYS: tuple[str, ...] = ("pixel_size_m", "object_pixel_size_m", "pixel_size")
MAX_UNITLESS_PIXEL_SIZE = 1e-3
MAX_PLAUSIBLE_AMPLITUDE = 4096.0
"""sqrt(2**24): no per-frame pixel count of a real detector reaches 2**24 photons."""
EAGER_SCAN_BYTES = 256 << 20
"""Stacks up to this size are value-checked (and their energies computed) on open."""
SCAN_CHUNK_BYTES = 32 << 20
"""Bytes of stored patterns read per step of the value-check pass."""
MAX_PATTERNS = 10_000_000
"""Scan positions accepted (real scans hold 10^3–10^6); checked from headers before any coordinate is read."""
MAX_OBJECT_PIXELS = 1 << 25
"""Largest objectGuess read (32 Mpx, 256 MiB as complex64); a larger one is ignored with a warning."""
MAX_METADATA_DEPTH = 64
MAX_METADATA_STRINGS = 1000

HDF5_CHUNK_CACHE_BYTES = 64 << 20
"""Per-file HDF5 chunk cache: neighbouring groups re-read the same compressed chunks."""
HDF5_CHUNK_CACHE_SLOTS = 10007
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
HDF5_SIGNATURE_OFFSETS: tuple[int, ...] = (0,) + tuple(512 << k for k in range(12))
ZIP_SIGNATURES: tuple[bytes, ...] = (b"PK\x03\x04", b"PK\x05\x06")
ZIP_LOCAL_HEADER = struct.Struct("<4s5H3L2H")
READ_ERRORS = (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error)
"""What numpy, zipfile and h5py raise on damaged files (UnsafeContentError is a ValueError)."""


@dataclass(frozen=True)
class _Member:
    """Name, shape and dtype of one stored array, known without reading its data."""

    name: str
    shape: tuple[int, ...]
    dtype: np.dtype

    def describe(self) -> str:
        return f"{self.dtype} {self.shape}"


class _MetadataSkipped(ValueError):
    """A metadata member that cannot be read safely or is not a JSON string."""


class _Source(Protocol):
    """What ScanDataset needs from a file format."""

    format: str
    group: str | None
    members: dict[str, _Member]

    def read_whole(self, key: str) -> np.ndarray: ...

    def array(self, key: str) -> Any: ...

    def access(self, key: str) -> str: ...

    def metadata_candidates(self, key: str) -> list[str]: ...

    def close(self) -> None: ...


class _NpzSource:
    """Members of an NPZ archive: headers parsed on open, arrays read with ``allow_pickle=False``."""

    format = "npz"
    group = None

    def __init__(self, path: Path, archive: zipfile.ZipFile):
        self.path = path
        self._zip = archive
        try:
            check_zip_members(archive)
        except UnsafeContentError as exc:
            raise InvalidInputError(path, str(exc)) from exc
        self._infos = {info.filename[:-4]: info for info in archive.infolist() if info.filename.endswith(".npy")}
        if not self._infos:
            raise InvalidInputError(path, "not a dataset: zip archive without .npy members")
        self._header_bytes: dict[str, int] = {}
        self._fortran: dict[str, bool] = {}
        self.members = {key: self._read_header(key, info) for key, info in self._infos.items()}
        self._loaded: dict[str, np.ndarray] = {}

    def _read_header(self, key: str, info: zipfile.ZipInfo) -> _Member:
        with self._zip.open(info) as stream:
            version = np.lib.format.read_magic(stream)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(stream)
            elif version == (2, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(stream)
            else:
                raise InvalidInputError(self.path, f"member {info.filename} uses unsupported .npy format {version}")
            header_bytes = stream.tell()
        if not dtype.hasobject:
            expected = header_bytes + math.prod(shape) * dtype.itemsize
            if info.file_size != expected:
                raise InvalidInputError(
                    self.path, f"member {info.filename} holds {info.file_size} bytes, its header declares {expected}"
                )
        self._header_bytes[key] = header_bytes
        self._fortran[key] = fortran
        return _Member(key, tuple(shape), dtype)

    def read_whole(self, key: str) -> np.ndarray:
        if self.members[key].dtype.hasobject:
            raise InvalidInputError(self.path, f"{key} is a pickled object array; refused (allow_pickle=False)")
        with self._zip.open(self._infos[key]) as stream:
            return np.lib.format.read_array(stream, allow_pickle=False)

    def array(self, key: str) -> np.ndarray:
        if key not in self._loaded:
            member, info = self.members[key], self._infos[key]
            if info.compress_type == zipfile.ZIP_STORED:
                self._loaded[key] = np.memmap(
                    self.path, dtype=member.dtype, mode="r", shape=member.shape,
                    offset=self._data_offset(info) + self._header_bytes[key],
                    order="F" if self._fortran[key] else "C",
                )
            else:
                self._loaded[key] = self.read_whole(key)
        return self._loaded[key]

    def _data_offset(self, info: zipfile.ZipInfo) -> int:
        """Byte offset of a stored member's data: after its local header, name and extra field."""
        with self.path.open("rb") as handle:
            handle.seek(info.header_offset)
            fields = ZIP_LOCAL_HEADER.unpack(handle.read(ZIP_LOCAL_HEADER.size))
        if fields[0] != b"PK\x03\x04":
            raise InvalidInputError(self.path, f"member {info.filename} has a damaged local header")
        return info.header_offset + ZIP_LOCAL_HEADER.size + fields[9] + fields[10]

    def access(self, key: str) -> str:
        if self._infos[key].compress_type == zipfile.ZIP_STORED:
            return "memory-mapped"
        return "decompressed into memory on first use"

    def metadata_candidates(self, key: str) -> list[str]:
        member = self.members[key]
        if member.shape != ():
            raise _MetadataSkipped(f"shape {member.shape} is not a scalar")
        if member.dtype.kind in "US":
            return [_as_text(self.read_whole(key).item())]
        if not member.dtype.hasobject:
            raise _MetadataSkipped(f"dtype {member.dtype} is not a string")
        header = self._header_bytes[key]
        try:
            data = read_zip_member(self._zip, self._infos[key].filename, max_bytes=header + MAX_PICKLE_BYTES)
        except UnsafeContentError as exc:
            raise _MetadataSkipped(str(exc)) from exc
        return _strings_in_pickle(data[header:])

    def close(self) -> None:
        self._loaded.clear()
        self._zip.close()


class _Hdf5Source:
    """Datasets of an audited, read-only HDF5 file, at its root or in its single data group."""

    format = "hdf5"

    def __init__(self, path: Path, file: h5py.File):
        self.path = path
        self._file = file
        audit_hdf5(file)
        self._group = _data_group(file, path)
        self.group = self._group.name
        self.members = {
            name: _Member(name, tuple(obj.shape or ()), obj.dtype)
            for name, obj in self._group.items()
            if isinstance(obj, h5py.Dataset)
        }

    def array(self, key: str) -> h5py.Dataset:
        dataset = self._group[key]
        check_readable_array(dataset, key)
        return dataset

    def read_whole(self, key: str) -> np.ndarray:
        return np.asarray(self.array(key)[()])

    def access(self, key: str) -> str:
        chunks = self._group[key].chunks
        return f"HDF5 reads of the needed rows (chunks {chunks})" if chunks else "HDF5 reads of the needed rows"

    def metadata_candidates(self, key: str) -> list[str]:
        dataset = self._group[key]
        if dataset.shape != ():
            raise _MetadataSkipped(f"shape {dataset.shape} is not a scalar")
        if h5py.check_string_dtype(dataset.dtype) is None and dataset.dtype.kind not in "SU":
            raise _MetadataSkipped(f"dtype {dataset.dtype} is not a string")
        return [_as_text(dataset[()])]

    def close(self) -> None:
        self._file.close()


@dataclass
class _RowReader:
    """Reads patterns of a stored array laid out (M, N, N), (M, N, N, 1) or legacy (N, N, M).

    The array is obtained from ``load`` on first use, so a compressed NPZ member is only
    decompressed when patterns are first needed.
    """

    load: Callable[[], Any]
    legacy: bool = False
    trailing_axis: bool = False
    _array: Any = field(default=None, repr=False)

    @property
    def array(self) -> Any:
        if self._array is None:
            self._array = self.load()
        return self._array

    def read_range(self, start: int, stop: int) -> np.ndarray:
        return self._finish(self.array[self._index(slice(start, stop))])

    def read_sorted(self, rows: np.ndarray) -> np.ndarray:
        """Rows must be sorted and unique; HDF5 reads one slice per contiguous run."""
        if isinstance(self.array, h5py.Dataset):
            return np.concatenate([self.read_range(start, stop) for start, stop in _runs(rows)])
        return self._finish(self.array[self._index(rows)])

    def _index(self, rows: slice | np.ndarray) -> tuple:
        return (slice(None), slice(None), rows) if self.legacy else (rows,)

    def _finish(self, block: np.ndarray) -> np.ndarray:
        if self.legacy:
            block = np.moveaxis(block, -1, 0)
        return block[..., 0] if self.trailing_axis else block


@dataclass
class _PatternScan:
    """Accumulates per-pattern energies and value checks over chunks of the stack."""

    energies: np.ndarray
    nonfinite: int = 0
    nonfinite_patterns: int = 0
    first_nonfinite_row: int = -1
    negatives: int = 0
    minimum: float = math.inf
    maximum: float = -math.inf
    integral: bool = True

    def add(self, start: int, chunk: np.ndarray) -> None:
        """Fold in patterns ``start .. start + len(chunk)`` (float32, (k, N, N))."""
        self.energies[start:start + len(chunk)] = np.square(chunk, dtype=np.float64).sum(axis=(1, 2))
        finite = np.isfinite(chunk)
        if not finite.all():
            bad_per_pattern = (~finite).sum(axis=(1, 2))
            self.nonfinite += int(bad_per_pattern.sum())
            self.nonfinite_patterns += int(np.count_nonzero(bad_per_pattern))
            if self.first_nonfinite_row < 0:
                self.first_nonfinite_row = start + int(np.flatnonzero(bad_per_pattern)[0])
            return
        self.negatives += int(np.count_nonzero(chunk < 0))
        self.minimum = min(self.minimum, float(chunk.min()))
        self.maximum = max(self.maximum, float(chunk.max()))
        if self.integral:
            self.integral = bool(np.array_equal(chunk, np.floor(chunk)))


class ScanDataset:
    """A validated scan: coordinates and small members in memory, diffraction patterns read on demand.

    Coordinates are object pixels, x indexing columns and y rows (contract §3.2). Build it with
    ``open_dataset``; it holds the file open until ``close()`` (or the end of a ``with`` block).
    """

    def __init__(self, path: Path, source: _Source, eager_scan_bytes: int = EAGER_SCAN_BYTES):
        self.path = path
        self._source = source
        self.format: str = source.format
        self.group: str | None = source.group
        self.notes: list[str] = []
        self.warnings: list[str] = []
        """Suspicious but usable data (also in ``notes``): shown on CLI stderr and in the GUI summary."""
        self.diffraction_key = self._diffraction_key()
        self.xcoords, self.ycoords = self._coordinates()
        self.n_patterns = len(self.xcoords)
        stack = source.members[self.diffraction_key]
        legacy, self.N = _stack_layout(path, stack, self.n_patterns)
        if legacy:
            self.notes.append(f"{stack.name} has the legacy layout {stack.shape} (N, N, M); transposed to (M, N, N)")
        self._stack = _RowReader(lambda: source.array(self.diffraction_key), legacy=legacy)
        self._stack_bytes = math.prod(stack.shape) * stack.dtype.itemsize
        self.xcoords_start, self.ycoords_start = (self._optional_vector(key) for key in START_KEYS)
        self.scan_index = self._optional_vector("scan_index", np.int64)
        self.probe = self._probe()
        self._object_key, self.object_shape = self._object_member()
        self._object: np.ndarray | None = None
        self._warn_positions_outside_object()
        self._ground_truth_key, self._ground_truth = self._ground_truth_member()
        self.metadata = self._metadata()
        self.pixel_size_m = self._pixel_size()
        self._energies: np.ndarray | None = None
        self._pending_note: str | None = None
        if self._stack_bytes <= eager_scan_bytes:
            self._scan_patterns()
        else:
            self._pending_note = (
                f"pattern values not checked yet ({self._stack_bytes / 2**20:.0f} MiB stack): non-finite values, "
                "negative amplitudes and intensity-like data are checked by the first pattern_energies()"
            )
            self.notes.append(self._pending_note)

    # ----- public API -------------------------------------------------------------------------------

    @property
    def positions(self) -> np.ndarray:
        """Scan positions ``(M, 2)`` as object-pixel (x, y)."""
        return np.column_stack((self.xcoords, self.ycoords))

    @property
    def object_guess(self) -> np.ndarray | None:
        """``objectGuess`` as complex64 ``(H, W)`` (read on first access), or None."""
        if self._object is None and self._object_key is not None:
            key = self._object_key
            self._object = np.asarray(self._read(key, lambda: self._source.read_whole(key)), dtype=np.complex64)
        return self._object

    @property
    def has_ground_truth_patches(self) -> bool:
        return self._ground_truth is not None

    def read_patterns(self, rows: np.ndarray) -> np.ndarray:
        """Patterns at ``rows`` (any order, repeats allowed) as float32 ``(k, N, N)``; reads only those rows."""
        rows = self._checked_rows(rows)
        if rows.size == 0:
            return np.empty((0, self.N, self.N), dtype=np.float32)
        unique, inverse = np.unique(rows, return_inverse=True)
        block = self._read(self.diffraction_key, lambda: self._stack.read_sorted(unique))
        return np.asarray(block, dtype=np.float32)[inverse]

    def pattern_energies(self) -> np.ndarray:
        """Per-pattern energy Σ_HW X² (float64, (M,)), computed once in bounded-memory chunks."""
        if self._energies is None:
            self._scan_patterns()
        return self._energies

    def ground_truth_patches(self, rows: np.ndarray) -> np.ndarray | None:
        """Ground-truth complex patches ``(k, N, N)`` complex64 at ``rows``, or None when absent."""
        if self._ground_truth is None:
            return None
        rows = self._checked_rows(rows)
        if rows.size == 0:
            return np.empty((0, self.N, self.N), dtype=np.complex64)
        unique, inverse = np.unique(rows, return_inverse=True)
        block = self._read(self._ground_truth_key, lambda: self._ground_truth.read_sorted(unique))
        return np.asarray(block, dtype=np.complex64)[inverse]

    def summary(self) -> dict:
        """JSON-able description for ``ptycho-inspect info`` and the GUI summary panel."""
        return {
            "path": str(self.path),
            "format": self.format,
            "group": self.group,
            "M": self.n_patterns,
            "N": self.N,
            "diffraction_key": self.diffraction_key,
            "pattern_access": self._source.access(self.diffraction_key),
            "members": {name: member.describe() for name, member in self._source.members.items()},
            "x_range": [float(self.xcoords.min()), float(self.xcoords.max())],
            "y_range": [float(self.ycoords.min()), float(self.ycoords.max())],
            "object_shape": None if self.object_shape is None else list(self.object_shape),
            "probe": self.probe is not None,
            "ground_truth_patches": self.has_ground_truth_patches,
            "pixel_size_m": self.pixel_size_m,
            "metadata_keys": None if self.metadata is None else sorted(self.metadata),
            "patterns_checked": self._energies is not None,
            "notes": list(self.notes),
            "warnings": list(self.warnings),
        }

    def close(self) -> None:
        """Release the file (HDF5 handle, zip archive, memory maps)."""
        self._source.close()

    def __enter__(self) -> ScanDataset:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"ScanDataset({str(self.path)!r}, format={self.format!r}, M={self.n_patterns}, N={self.N})"

    # ----- opening: structure ----------------------------------------------------------------------

    def _diffraction_key(self) -> str:
        present = [key for key in DIFFRACTION_KEYS if key in self._source.members]
        if not present:
            raise InvalidInputError(
                self.path, f"missing diffraction stack: neither 'diff3d' nor 'diffraction' present ({self._found()})"
            )
        if len(present) == 2:
            self.notes.append(
                "both diff3d and diffraction present; using diff3d (PtychoPINN's RawData reads diff3d, "
                "its PtychoDataset prefers diffraction)"
            )
        member = self._source.members[present[0]]
        if member.dtype.kind not in "iuf":
            raise InvalidInputError(self.path, f"{member.name} has dtype {member.dtype}; real amplitudes are required")
        return present[0]

    def _coordinates(self) -> tuple[np.ndarray, np.ndarray]:
        missing = [key for key in COORDINATE_KEYS if key not in self._source.members]
        if missing:
            raise InvalidInputError(self.path, f"missing coordinate key(s) {', '.join(missing)} ({self._found()})")
        self._check_coordinate_headers()
        x, y = (self._vector(key) for key in COORDINATE_KEYS)
        if len(x) == 0:
            raise InvalidInputError(self.path, "empty dataset: xcoords/ycoords hold no scan positions")
        for key, values in zip(COORDINATE_KEYS, (x, y)):
            bad = int(np.count_nonzero(~np.isfinite(values)))
            if bad:
                raise InvalidInputError(self.path, f"{key} has {bad} non-finite value(s) (NaN or inf)")
        return x, y

    def _check_coordinate_headers(self) -> None:
        """Compare the coordinate lengths with each other and with the stack from headers, before reading."""
        x, y = (self._source.members[key] for key in COORDINATE_KEYS)
        for member in (x, y):
            if len(member.shape) != 1 or member.dtype.kind not in "iuf":
                raise InvalidInputError(self.path, f"{member.name} must be a 1-D real array; found {member.describe()}")
        if x.shape != y.shape:
            raise InvalidInputError(self.path, f"xcoords has {x.shape[0]} positions but ycoords has {y.shape[0]}")
        count = x.shape[0]
        if count > MAX_PATTERNS:
            raise InvalidInputError(self.path, f"xcoords/ycoords declare {count} positions (cap {MAX_PATTERNS}); refused")
        stack = self._source.members[self.diffraction_key]
        if len(stack.shape) == 3 and count not in (stack.shape[0], stack.shape[2]):
            held = stack.shape[0] if stack.shape[1] == stack.shape[2] else stack.shape[2]
            raise InvalidInputError(
                self.path, f"{stack.name} holds {held} patterns (shape {stack.shape}) but xcoords/ycoords hold {count} positions"
            )

    def _warn_positions_outside_object(self) -> None:
        """Warn (without refusing) when scan positions fall outside objectGuess's extent."""
        if self.object_shape is None:
            return
        height, width = self.object_shape
        outside = (self.xcoords < 0) | (self.xcoords >= width) | (self.ycoords < 0) | (self.ycoords >= height)
        count = int(np.count_nonzero(outside))
        if count:
            self._warn(f"{count} of {self.n_patterns} scan positions lie outside objectGuess ({height}×{width} px)")

    def _warn(self, text: str) -> None:
        self.warnings.append(text)
        self.notes.append(text)

    def _vector(self, key: str) -> np.ndarray:
        member = self._source.members[key]
        if len(member.shape) != 1 or member.dtype.kind not in "iuf":
            raise InvalidInputError(self.path, f"{key} must be a 1-D real array; found {member.describe()}")
        return np.asarray(self._source.read_whole(key), dtype=np.float64)

    def _optional_vector(self, key: str, dtype: type = np.float64) -> np.ndarray | None:
        """An optional per-position array as ``dtype``; a malformed one is ignored with a note."""
        member = self._source.members.get(key)
        if member is None:
            return None
        if member.shape != (self.n_patterns,) or member.dtype.kind not in "iuf":
            self.notes.append(f"{key} ignored: {member.describe()} is not a real ({self.n_patterns},) array")
            return None
        return np.asarray(self._source.read_whole(key), dtype=dtype)

    def _probe(self) -> np.ndarray | None:
        member = self._source.members.get("probeGuess")
        if member is None:
            return None
        n = self.N
        shape = member.shape
        usable = shape in ((n, n), (n, n, 1)) or (len(shape) == 3 and shape[0] >= 1 and shape[1:] == (n, n))
        if not usable or member.dtype.kind not in "iufc":
            self.notes.append(f"probeGuess ignored: {member.describe()} is not an ({n}, {n}) probe or a stack of modes")
            return None
        probe = self._source.read_whole("probeGuess")
        if shape != (n, n):
            probe = probe[..., 0] if shape == (n, n, 1) else probe[0]
            self.notes.append(f"probeGuess has shape {shape}; using its first mode as the ({n}, {n}) probe")
        return np.ascontiguousarray(probe, dtype=np.complex64)

    def _object_member(self) -> tuple[str | None, tuple[int, int] | None]:
        member = self._source.members.get("objectGuess")
        if member is None:
            return None, None
        if len(member.shape) != 2 or member.dtype.kind not in "iufc":
            self.notes.append(f"objectGuess ignored: {member.describe()} is not a 2-D (H, W) array")
            return None, None
        if math.prod(member.shape) > MAX_OBJECT_PIXELS:
            self._warn(f"objectGuess ignored: {member.describe()} exceeds {MAX_OBJECT_PIXELS} pixels")
            return None, None
        return member.name, (member.shape[0], member.shape[1])

    def _ground_truth_member(self) -> tuple[str | None, _RowReader | None]:
        key = next((k for k in GROUND_TRUTH_KEYS if k in self._source.members), None)
        if key is None:
            return None, None
        member = self._source.members[key]
        m, n = self.n_patterns, self.N
        if member.shape not in ((m, n, n), (m, n, n, 1)) or member.dtype.kind not in "fc":
            self.notes.append(f"{key} ignored: {member.describe()} is not ({m}, {n}, {n}[, 1]) complex patches")
            return None, None
        return key, _RowReader(lambda: self._source.array(key), trailing_axis=len(member.shape) == 4)

    def _metadata(self) -> dict | None:
        for key in METADATA_KEYS:
            if key not in self._source.members:
                continue
            try:
                candidates = self._source.metadata_candidates(key)
            except _MetadataSkipped as exc:
                self.notes.append(f"{key} skipped: {exc}")
                continue
            for text in candidates:
                parsed = _json_object(text)
                if parsed is None:
                    continue
                try:
                    check_plain_tree(parsed, max_depth=MAX_METADATA_DEPTH)
                except UnsafeContentError as exc:
                    self.notes.append(f"{key} skipped: {exc}")
                    break
                return parsed
            self.notes.append(f"{key} skipped: it holds no JSON object")
        return None

    def _pixel_size(self) -> float | None:
        if self.metadata is None:
            return None
        for key in PIXEL_SIZE_KEYS:
            value = _find_key(self.metadata, key)
            if value is None:
                continue
            is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
            if not (is_number and math.isfinite(value) and value > 0):
                self.notes.append(f"metadata {key}={value!r} is not a positive number; ignored")
            elif key == "pixel_size" and value > MAX_UNITLESS_PIXEL_SIZE:
                self.notes.append(f"metadata pixel_size={value!r} has no unit and is too large for metres; ignored")
            else:
                return float(value)
        return None

    def _found(self) -> str:
        return "found: " + (", ".join(self._source.members) or "nothing")

    # ----- pattern values ---------------------------------------------------------------------------

    def _scan_patterns(self) -> None:
        """One chunked pass over the stack: energies, non-finite check, value warnings."""
        stack = self._source.members[self.diffraction_key]
        step = max(1, SCAN_CHUNK_BYTES // (self.N * self.N * stack.dtype.itemsize))
        chunks = getattr(self._stack.array, "chunks", None)
        if chunks and not self._stack.legacy:
            step = max(chunks[0], step // chunks[0] * chunks[0])
        scan = _PatternScan(np.empty(self.n_patterns, dtype=np.float64))
        for start in range(0, self.n_patterns, step):
            stop = min(self.n_patterns, start + step)
            block = self._read(self.diffraction_key, lambda start=start, stop=stop: self._stack.read_range(start, stop))
            scan.add(start, np.ascontiguousarray(block, dtype=np.float32))
        if scan.nonfinite:
            raise InvalidInputError(
                self.path,
                f"{self.diffraction_key} has {scan.nonfinite} non-finite value(s) (NaN or inf) in "
                f"{scan.nonfinite_patterns} pattern(s), first at row {scan.first_nonfinite_row}",
            )
        if self._pending_note in self.notes:
            self.notes.remove(self._pending_note)
        for text in _value_warnings(self.diffraction_key, scan):
            self._warn(text)
        scan.energies.flags.writeable = False
        self._energies = scan.energies

    def _read(self, key: str, reader: Callable[[], np.ndarray]) -> np.ndarray:
        """Run a stored-array read, turning I/O and decoding failures into InvalidInputError."""
        try:
            return reader()
        except READ_ERRORS as exc:
            raise InvalidInputError(self.path, f"cannot read {key} ({exc})") from exc

    def _checked_rows(self, rows: np.ndarray) -> np.ndarray:
        rows = np.asarray(rows)
        if rows.ndim != 1 or (rows.size and rows.dtype.kind not in "iu"):
            raise ValueError(f"rows must be a 1-D integer array; got {rows.dtype} {rows.shape}")
        rows = rows.astype(np.int64, copy=False)
        if rows.size and (rows.min() < 0 or rows.max() >= self.n_patterns):
            raise IndexError(f"row indices must lie in [0, {self.n_patterns}); got {rows.min()}..{rows.max()}")
        return rows


def open_dataset(path: str | Path, *, eager_scan_bytes: int = EAGER_SCAN_BYTES) -> ScanDataset:
    """Open a PtychoPINN NPZ or HDF5 scan, recognised by content, validated, patterns read on demand."""
    path = Path(path)
    kind = _detect_format(path)
    try:
        with ExitStack() as cleanup:
            source = _open_source(path, kind, cleanup)
            dataset = ScanDataset(path, source, eager_scan_bytes)
            cleanup.pop_all()
    except READ_ERRORS as exc:
        raise InvalidInputError(path, f"unreadable {kind} file ({exc})") from exc
    return dataset


def _open_source(path: Path, kind: str, cleanup: ExitStack) -> _Source:
    """Open the file and wrap it; ``cleanup`` closes it if anything later fails."""
    if kind == "npz":
        archive = cleanup.enter_context(zipfile.ZipFile(path))
        return _NpzSource(path, archive)
    file = cleanup.enter_context(_open_hdf5_file(path))
    return _Hdf5Source(path, file)


def _open_hdf5_file(path: Path) -> h5py.File:
    """Open read-only (nothing is read until the audit has passed) with a bounded chunk cache."""
    return h5py.File(path, "r", rdcc_nbytes=HDF5_CHUNK_CACHE_BYTES, rdcc_nslots=HDF5_CHUNK_CACHE_SLOTS)


def has_hdf5_signature(handle: BinaryIO) -> bool:
    """True when an open binary file carries the HDF5 signature at offset 0 or a user-block offset."""
    for offset in HDF5_SIGNATURE_OFFSETS:
        handle.seek(offset)
        if handle.read(len(HDF5_SIGNATURE)) == HDF5_SIGNATURE:
            return True
    return False


def _detect_format(path: Path) -> str:
    """'npz' or 'hdf5' from the file's first bytes; anything else is not a dataset."""
    if not path.is_file():
        raise InvalidInputError(path, "no such file" if not path.exists() else "not a regular file")
    try:
        with path.open("rb") as handle:
            head = handle.read(4)
            if head == ZIP_SIGNATURES[0] and not zipfile.is_zipfile(path):
                raise InvalidInputError(path, truncated_zip_problem(path))
            if head in ZIP_SIGNATURES:
                return "npz"
            if has_hdf5_signature(handle):
                return "hdf5"
    except OSError as exc:
        raise InvalidInputError(path, f"cannot be read ({exc.strerror or exc})") from exc
    short = short_file_problem(path, head)
    if short is not None:
        raise InvalidInputError(path, short)
    raise InvalidInputError(path, "not a dataset: neither an NPZ (zip of .npy arrays) nor an HDF5 file")


def _data_group(file: h5py.File, path: Path) -> h5py.Group:
    """The root when it holds a diffraction stack, else the one child group that does."""
    if any(key in file for key in DIFFRACTION_KEYS):
        return file
    candidates = [
        obj for obj in file.values()
        if isinstance(obj, h5py.Group) and any(key in obj for key in DIFFRACTION_KEYS)
    ]
    if len(candidates) > 1:
        names = ", ".join(group.name for group in candidates)
        raise InvalidInputError(path, f"several groups hold a diffraction stack ({names}); one scan per file")
    return candidates[0] if candidates else file


def _stack_layout(path: Path, stack: _Member, m: int) -> tuple[bool, int]:
    """(legacy, N) of a diffraction stack: canonical (M, N, N) or legacy (N, N, M) by the coordinate count."""
    shape = stack.shape
    if len(shape) != 3:
        raise InvalidInputError(path, f"{stack.name} must be a 3-D stack (M, N, N); found shape {shape}")
    canonical_square, legacy_square = shape[1] == shape[2], shape[0] == shape[1]
    if canonical_square and shape[0] == m:
        legacy, n = False, shape[1]
    elif legacy_square and shape[2] == m:
        legacy, n = True, shape[0]
    elif not (canonical_square or legacy_square):
        raise InvalidInputError(path, f"{stack.name} patterns are not square: shape {shape}")
    else:
        count = shape[0] if canonical_square else shape[2]
        raise InvalidInputError(
            path, f"{stack.name} holds {count} patterns (shape {shape}) but xcoords/ycoords hold {m} positions"
        )
    if n < 2 or n % 2:
        raise InvalidInputError(path, f"{stack.name} pattern size N={n} must be even and at least 2 (shape {shape})")
    return legacy, n


def _value_warnings(key: str, scan: _PatternScan) -> list[str]:
    """Warnings from a completed value scan: negative amplitudes, intensity-like data, all zeros."""
    warnings = []
    if scan.negatives:
        warnings.append(
            f"{key} has {scan.negatives} negative value(s) (min {scan.minimum:.4g}); diffraction amplitudes are ≥ 0"
        )
    if scan.maximum == 0:
        warnings.append(f"{key} is all zeros")
    if scan.integral and scan.maximum >= 2:
        warnings.append(
            f"{key} looks like intensity (photon counts), not amplitude: every value is a whole number "
            f"(max {scan.maximum:.6g}); PtychoPINN models expect sqrt(counts)"
        )
    if scan.maximum > MAX_PLAUSIBLE_AMPLITUDE:
        warnings.append(
            f"{key} looks like intensity, not amplitude: max {scan.maximum:.6g} exceeds "
            f"{MAX_PLAUSIBLE_AMPLITUDE:g} = sqrt(2**24 counts); PtychoPINN models expect sqrt(counts)"
        )
    return warnings


def _runs(rows: np.ndarray) -> list[tuple[int, int]]:
    """Contiguous runs ``[start, stop)`` of sorted unique row indices."""
    breaks = np.flatnonzero(np.diff(rows) != 1) + 1
    starts = np.concatenate(([0], breaks))
    stops = np.concatenate((breaks, [len(rows)]))
    return [(int(rows[a]), int(rows[b - 1]) + 1) for a, b in zip(starts, stops)]


def _strings_in_pickle(data: bytes) -> list[str]:
    """String arguments of a pickle's opcodes, found by walking it (``genops`` executes nothing)."""
    strings = []
    try:
        scan_pickle(data, allow_code_opcodes=True)
        for _opcode, arg, _position in pickletools.genops(data):
            if isinstance(arg, str):
                strings.append(arg)
            elif isinstance(arg, (bytes, bytearray)):
                strings.append(bytes(arg).decode("utf-8", "replace"))
    except ValueError as exc:
        raise _MetadataSkipped(f"damaged pickle ({exc})") from exc
    del strings[MAX_METADATA_STRINGS:]
    return strings


def _json_object(text: str) -> dict | None:
    """The JSON object ``text`` encodes, or None when it is not one."""
    if not text.lstrip().startswith("{"):
        return None
    try:
        value = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def _find_key(tree: object, key: str) -> object | None:
    """First value stored under ``key`` (case-insensitive) anywhere in nested dicts and lists."""
    if isinstance(tree, dict):
        for name, value in tree.items():
            if isinstance(name, str) and name.lower() == key:
                return value
        children = list(tree.values())
    elif isinstance(tree, list):
        children = tree
    else:
        return None
    for child in children:
        found = _find_key(child, key)
        if found is not None:
            return found
    return None


def _as_text(value: object) -> str:
    if isinstance(value, (bytes, np.bytes_)):
        return bytes(value).decode("utf-8", "replace")
    return str(value)
