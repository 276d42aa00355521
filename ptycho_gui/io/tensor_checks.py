"""One vetted path for every torch file a loader opens: budgets before ``torch.load``, checks after it.

``load_torch`` is what every checkpoint format calls instead of ``torch.load``. Before loading, a
torch zip's ``data.pkl`` is size-capped and walked opcode by opcode (``safe.scan_pickle``) and its
members get the zip-bomb checks; the legacy (pre-zip) torch format is refused. The load itself is
``weights_only=True`` on the CPU. After it, the whole loaded tree is walked with shared references
expanded (``safe.check_plain_tree``) and every tensor must be a plain, dense, non-overlapping CPU tensor of
a numeric dtype that lies inside its own storage (no meta, sparse, quantized or subclass tensors, no
stride-0 views claiming more elements than the file holds). ``check_state_dict`` then turns a
candidate mapping into a name → tensor dict without trusting its own ``items()``.
"""

from __future__ import annotations

import io
import pickle
import re
import warnings
import zipfile
import zlib
from collections import OrderedDict
from pathlib import Path

import torch

from ptycho_gui.errors import InvalidInputError
from ptycho_gui.io.safe import (
    UnsafeContentError,
    check_plain_tree,
    check_zip_members,
    ordered_dict_attributes,
    read_zip_member,
    scan_pickle,
)

TENSOR_DTYPES = frozenset(
    {torch.float16, torch.bfloat16, torch.float32, torch.float64, torch.complex64, torch.complex128,
     torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64, torch.bool}
)
MAX_TORCH_PICKLE_BYTES = 8 << 20
"""Largest ``data.pkl`` inside a torch file (a Lightning checkpoint's is ~40 KB)."""
MAX_TORCH_PICKLE_OPS = 1_000_000
ZIP_MAGIC = b"PK\x03\x04"


def load_torch(path: Path, source: str | Path | bytes | bytearray, what: str) -> object:
    """``torch.load(weights_only=True)`` of a file or in-memory torch zip, within budgets, tree and tensors vetted.

    ``path`` is the file named in refusals; ``what`` names the member (or 'checkpoint').
    """
    data = bytes(source[:4]) if isinstance(source, (bytes, bytearray)) else _head(path, Path(source))
    if data != ZIP_MAGIC:
        raise InvalidInputError(
            path, f"{what} is not a torch zip file (the legacy pre-zip torch format is not read)"
        )
    try:
        with _open_source(source) as handle, zipfile.ZipFile(handle) as archive:
            check_zip_members(archive)
            _scan_torch_pickle(archive)
            handle.seek(0)
            value = _weights_only_load(path, handle, what)
    except UnsafeContentError as exc:
        raise InvalidInputError(path, f"{what}: {exc}") from exc
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise InvalidInputError(path, f"{what} is a damaged torch zip ({_first_line(str(exc))})") from exc
    except OSError as exc:
        raise InvalidInputError(path, f"cannot read {what} ({exc.strerror or exc})") from exc
    try:
        check_plain_tree(value, leaf=_vetted_tensor)
    except UnsafeContentError as exc:
        raise InvalidInputError(path, f"{what}: {exc}") from exc
    return value


def _open_source(source: str | Path | bytes | bytearray):
    return io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else Path(source).open("rb")


def _head(path: Path, source: Path) -> bytes:
    try:
        with source.open("rb") as handle:
            return handle.read(4)
    except OSError as exc:
        raise InvalidInputError(path, f"cannot read file ({exc.strerror or exc})") from exc


def _scan_torch_pickle(archive: zipfile.ZipFile) -> None:
    """Cap and opcode-walk the ``data.pkl`` torch will unpickle (code opcodes are left to torch's allowlist)."""
    names = [name for name in archive.namelist() if name == "data.pkl" or name.endswith("/data.pkl")]
    if len(names) != 1:
        raise UnsafeContentError(f"a torch zip holds exactly one data.pkl, this one {len(names)}")
    scan_pickle(read_zip_member(archive, names[0], MAX_TORCH_PICKLE_BYTES), allow_code_opcodes=True,
                max_ops=MAX_TORCH_PICKLE_OPS)


def _weights_only_load(path: Path, handle, what: str) -> object:
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Detected pickle protocol", category=UserWarning)
            return torch.load(handle, weights_only=True, map_location="cpu")
    except pickle.UnpicklingError as exc:
        raise InvalidInputError(path, _unpickling_problem(what, str(exc))) from exc
    except (RuntimeError, ValueError, TypeError, KeyError, AttributeError, IndexError, OverflowError,
            MemoryError, RecursionError, NotImplementedError, AssertionError) as exc:
        raise InvalidInputError(path, f"{what} is not a readable torch file ({_first_line(str(exc))})") from exc


def tensor_problem(tensor: torch.Tensor) -> str | None:
    """Why a loaded tensor is not a plain dense CPU array inside its own storage, or None when it is."""
    if type(tensor) not in (torch.Tensor, torch.nn.Parameter):
        return f"is a {type(tensor).__name__} tensor subclass"
    if tensor.is_meta:
        return "is a meta tensor (holds no data)"
    if tensor.layout is not torch.strided:
        return f"has layout {tensor.layout} (only dense tensors are read)"
    if tensor.device.type != "cpu":
        return f"is on device {tensor.device}"
    if tensor.dtype not in TENSOR_DTYPES:
        return f"has dtype {tensor.dtype}"
    if any(stride == 0 and size > 1 for stride, size in zip(tensor.stride(), tensor.shape)):
        return f"repeats one stored value along a stride-0 axis (shape {tuple(tensor.shape)})"
    if _overlaps(tensor):
        return f"has overlapping strides {tensor.stride()} for shape {tuple(tensor.shape)}"
    if tensor.numel():
        last = tensor.storage_offset() + sum((size - 1) * stride for size, stride in zip(tensor.shape, tensor.stride()))
        needed = (last + 1) * tensor.element_size()
        if needed > tensor.untyped_storage().nbytes():
            return f"claims {needed} bytes but its storage holds {tensor.untyped_storage().nbytes()}"
    return None


def _overlaps(tensor: torch.Tensor) -> bool:
    """True when two indices share a stored element (permuted layouts such as channels-last are fine)."""
    span = 1
    for stride, size in sorted((st, sz) for st, sz in zip(tensor.stride(), tensor.shape) if sz > 1):
        if stride < span:
            return True
        span = stride * size
    return False


def _vetted_tensor(value: object) -> bool:
    if not isinstance(value, torch.Tensor):
        return False
    problem = tensor_problem(value)
    if problem:
        raise UnsafeContentError(f"a tensor {problem}")
    return True


def check_state_dict(path: Path, candidate: object, where: str) -> dict[str, torch.Tensor]:
    """``candidate`` as a plain name → tensor dict (read through ``dict.items``, never its own methods), or a refusal."""
    if type(candidate) not in (dict, OrderedDict):
        raise InvalidInputError(path, f"{where} is not a state dict (names → tensors)")
    if type(candidate) is OrderedDict:
        try:
            ordered_dict_attributes(candidate)
        except UnsafeContentError as exc:
            raise InvalidInputError(path, f"{where}: {exc}") from exc
    items = list(dict.items(candidate))
    for name, tensor in items:
        if not isinstance(name, str) or not isinstance(tensor, torch.Tensor):
            raise InvalidInputError(path, f"{where} is not a state dict (names → tensors)")
        problem = tensor_problem(tensor)
        if problem:
            raise InvalidInputError(path, f"{where} tensor {name} {problem}")
    return dict(items)


def _unpickling_problem(what: str, message: str) -> str:
    """One line out of torch's multi-paragraph weights-only refusal, naming a refused global."""
    found = re.search(r"GLOBAL ([\w.]+)", message)
    if found:
        return f"{what} refused: its pickle asks for {found.group(1)} (code execution is never allowed)"
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    detail = next((lines[i - 1] for i, line in enumerate(lines) if line.startswith("Check the documentation")), "")
    return f"{what} is not a readable torch file ({detail or _first_line(message)})"


def _first_line(text: str, limit: int = 160) -> str:
    line = text.strip().splitlines()[0] if text.strip() else "no detail"
    return line if len(line) <= limit else line[: limit - 1] + "…"
