"""Safe readers for untrusted files: budgeted pickle readers, a plain-data tree check, and zip checks.

PtychoPINN stores plain-data pickles (``manifest.dill``, ``params.dill``, NPZ ``_metadata``); they
never need a GLOBAL opcode, so refusing all of them blocks code execution without losing data.

Refusing code is not enough: a 2 KB pickle can hold a list that references itself a billion times
over ("billion laughs"), nest a million levels deep, or declare a length near 2**64. Every pickle is
therefore first walked opcode by opcode (``pickletools.genops`` executes nothing) under an opcode and
mark-depth budget, then loaded, then its object graph is walked with shared references *expanded*
(``check_plain_tree``) under a node, depth, integer-size and mapping-shape budget, so whatever later
walks, prints or serialises it stays bounded.
"""

from __future__ import annotations

import io
import pickle
import pickletools
import stat
import zipfile
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

MAX_PICKLE_BYTES = 4 << 20
"""Largest plain-data pickle read (real params.dill / manifest.dill are a few KB)."""
MAX_PICKLE_OPS = 200_000
"""Opcodes walked before a pickle is refused (a real params.dill has ~300): well under a second."""
MAX_PICKLE_MARK_DEPTH = 1_000
MAX_TREE_NODES = 200_000
"""Objects in a loaded tree with every shared reference counted each time it is reachable."""
MAX_TREE_DEPTH = 100
MAX_INT_BITS = 1024
MAX_ZIP_MEMBERS = 10_000
MAX_ZIP_MEMBER_BYTES = 4 << 30
MAX_ZIP_TOTAL_BYTES = 8 << 30
MAX_ZIP_RATIO = 200.0
LARGE_MEMBER_BYTES = 64 << 20
MAX_LARGE_MEMBER_RATIO = 20.0
"""Members above LARGE_MEMBER_BYTES must not inflate more than this: weights barely compress."""
MAX_NESTED_ZIP_DEPTH = 2
READ_STEP = 1 << 20
CODE_OPCODES = frozenset(
    {"GLOBAL", "STACK_GLOBAL", "REDUCE", "BUILD", "INST", "OBJ", "NEWOBJ", "NEWOBJ_EX", "EXT1", "EXT2", "EXT4",
     "PERSID", "BINPERSID"}
)
"""Opcodes a plain-data pickle never needs (torch files need them; torch's own unpickler vets those)."""
PLAIN_LEAVES = (str, bytes, bytearray, float, complex, bool, type(None))
_MAPPING_METHODS = frozenset(dir(OrderedDict))


class UnsafeContentError(ValueError):
    """Raised when a file asks for something a plain-data reader must never do."""


class _NoGlobalsUnpickler(pickle.Unpickler):
    """Unpickler whose ``find_class`` always refuses: only dict/list/str/number/bool/None load."""

    def find_class(self, module: str, name: str):
        raise UnsafeContentError(f"refused pickle global {module}.{name}")


def scan_pickle(data: bytes | bytearray, allow_code_opcodes: bool = False, max_ops: int = MAX_PICKLE_OPS) -> None:
    """Walk a pickle's opcodes without executing any: refuse too many, too deep, absurd lengths or huge ints."""
    depth = 0
    strings: list[str] = ["?", "?"]
    try:
        for count, (opcode, arg, _position) in enumerate(pickletools.genops(data), start=1):
            if count > max_ops:
                raise UnsafeContentError(f"pickle has more than {max_ops} opcodes (refused before loading)")
            if opcode.name in CODE_OPCODES and not allow_code_opcodes:
                if opcode.name in ("GLOBAL", "INST"):
                    raise UnsafeContentError(f"refused pickle global {str(arg).replace(' ', '.')}")
                if opcode.name == "STACK_GLOBAL":
                    raise UnsafeContentError(f"refused pickle global {strings[0]}.{strings[1]}")
                raise UnsafeContentError(f"refused pickle opcode {opcode.name} (plain data never needs it)")
            if isinstance(arg, str):
                strings = [strings[1], arg[:80]]
            if opcode.name == "MARK":
                depth += 1
                if depth > MAX_PICKLE_MARK_DEPTH:
                    raise UnsafeContentError(f"pickle nests deeper than {MAX_PICKLE_MARK_DEPTH} levels")
            elif pickletools.markobject in opcode.stack_before:
                depth -= 1
            if isinstance(arg, int) and not isinstance(arg, bool) and arg.bit_length() > MAX_INT_BITS:
                raise UnsafeContentError(f"pickle holds an integer of {arg.bit_length()} bits (cap {MAX_INT_BITS})")
    except UnsafeContentError:
        raise
    except (ValueError, OverflowError, EOFError, MemoryError) as exc:
        raise UnsafeContentError(f"not a readable pickle ({_short(exc)})") from exc


def load_plain_pickle(data: bytes | bytearray) -> object:
    """Unpickle plain data only (no classes, no functions) within size, opcode and tree budgets."""
    if len(data) > MAX_PICKLE_BYTES:
        raise UnsafeContentError(f"pickle of {len(data)} bytes exceeds the {MAX_PICKLE_BYTES}-byte cap")
    scan_pickle(data)
    try:
        value = _NoGlobalsUnpickler(io.BytesIO(data)).load()
    except UnsafeContentError:
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError,
            OverflowError, MemoryError, RecursionError) as exc:
        raise UnsafeContentError(f"not a readable plain-data pickle ({_short(exc)})") from exc
    check_plain_tree(value)
    return value


def check_plain_tree(value: object, leaf: Callable[[object], bool] | None = None,
                     max_nodes: int = MAX_TREE_NODES, max_depth: int = MAX_TREE_DEPTH) -> None:
    """Refuse a loaded tree that is too big once shared references are expanded, too deep, or odd.

    Containers are dict, OrderedDict (without instance attributes that shadow its methods), list,
    tuple, set and frozenset; leaves are str, bytes, numbers, bool, None, and whatever ``leaf``
    accepts (e.g. tensors). The walk is iterative: no RecursionError whatever the depth.
    """
    pending: list[tuple[object, int]] = [(value, 0)]
    nodes = 0
    while pending:
        item, depth = pending.pop()
        nodes += 1
        if nodes > max_nodes:
            raise UnsafeContentError(
                f"more than {max_nodes} objects once shared references are expanded (refused: reference blow-up)"
            )
        if depth > max_depth:
            raise UnsafeContentError(f"data nests deeper than {max_depth} levels")
        kind = type(item)
        if kind is int:
            if item.bit_length() > MAX_INT_BITS:
                raise UnsafeContentError(f"an integer of {item.bit_length()} bits (cap {MAX_INT_BITS})")
        elif kind in (dict, OrderedDict):
            if kind is OrderedDict:
                pending.extend((v, depth + 1) for v in ordered_dict_attributes(item).values())
            for key, child in dict.items(item):
                pending.append((key, depth + 1))
                pending.append((child, depth + 1))
        elif kind in (list, tuple, set, frozenset):
            pending.extend((child, depth + 1) for child in item)
        elif isinstance(item, PLAIN_LEAVES) or (leaf is not None and leaf(item)):
            continue
        else:
            raise UnsafeContentError(f"unexpected object of type {kind.__name__}")


def ordered_dict_attributes(item: OrderedDict) -> dict:
    """An OrderedDict's instance attributes, refusing any that would shadow a mapping method."""
    attributes = getattr(item, "__dict__", {})
    shadowing = sorted(name for name in attributes if isinstance(name, str) and name in _MAPPING_METHODS)
    if shadowing:
        raise UnsafeContentError(f"an OrderedDict whose stored state overrides its method(s) {', '.join(shadowing)}")
    return attributes


def check_zip_members(archive: zipfile.ZipFile) -> None:
    """Refuse absolute or parent-relative names, symlinks, encryption, and zip bombs (sizes from the directory)."""
    infos = archive.infolist()
    if len(infos) > MAX_ZIP_MEMBERS:
        raise UnsafeContentError(f"archive has {len(infos)} members (cap {MAX_ZIP_MEMBERS})")
    total = 0
    size = _archive_size(archive)
    for info in infos:
        name = info.filename
        if info.header_offset + info.compress_size > size:
            raise UnsafeContentError(f"archive member {name!r} declares data beyond the archive's end")
        parts = Path(name.replace("\\", "/")).parts
        if name.startswith(("/", "\\")) or ".." in parts or (len(name) > 1 and name[1] == ":"):
            raise UnsafeContentError(f"archive member {name!r} has an unsafe path")
        if stat.S_ISLNK(info.external_attr >> 16):
            raise UnsafeContentError(f"archive member {name!r} is a symbolic link")
        if info.flag_bits & 0x1:
            raise UnsafeContentError(f"archive member {name!r} is encrypted")
        if info.file_size > MAX_ZIP_MEMBER_BYTES:
            raise UnsafeContentError(f"archive member {name!r} is {info.file_size} bytes (too large)")
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > 1 << 16 and ratio > MAX_ZIP_RATIO:
            raise UnsafeContentError(f"archive member {name!r} has a suspicious compression ratio ({ratio:.0f}:1)")
        if info.file_size > LARGE_MEMBER_BYTES and ratio > MAX_LARGE_MEMBER_RATIO:
            raise UnsafeContentError(
                f"archive member {name!r} inflates {ratio:.0f}:1 to {info.file_size} bytes (refused: zip bomb)"
            )
        total += info.file_size
    if total > MAX_ZIP_TOTAL_BYTES:
        raise UnsafeContentError(f"archive members add up to {total} bytes (cap {MAX_ZIP_TOTAL_BYTES})")


def _archive_size(archive: zipfile.ZipFile) -> int:
    """Bytes in the archive's underlying file (its position restored)."""
    handle = archive.fp
    position = handle.tell()
    try:
        return handle.seek(0, io.SEEK_END)
    finally:
        handle.seek(position)


def check_nested_zip(data: bytes | bytearray, name: str, depth: int = 1) -> None:
    """When a member is itself a zip (a torch file inside a bundle), apply the same checks to its members."""
    if bytes(data[:4]) != b"PK\x03\x04":
        return
    if depth > MAX_NESTED_ZIP_DEPTH:
        raise UnsafeContentError(f"archive member {name!r} nests zips deeper than {MAX_NESTED_ZIP_DEPTH}")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as inner:
            try:
                check_zip_members(inner)
            except UnsafeContentError as exc:
                raise UnsafeContentError(f"inside {name!r}: {exc}") from exc
    except (zipfile.BadZipFile, EOFError, ValueError) as exc:
        if isinstance(exc, UnsafeContentError):
            raise
        raise UnsafeContentError(f"archive member {name!r} is a damaged zip ({_short(exc)})") from exc


def read_zip_member(archive: zipfile.ZipFile, name: str, max_bytes: int = MAX_ZIP_MEMBER_BYTES) -> bytearray:
    """Read one member into one buffer, refusing before reading when its declared size exceeds ``max_bytes``.

    The read stops at the declared size plus one byte whatever the stream yields, so a header that
    lies about the size costs at most ``max_bytes``; no chunk list is joined (no second copy).
    """
    info = archive.getinfo(name)
    if info.file_size > max_bytes:
        raise UnsafeContentError(f"archive member {name!r} is {info.file_size} bytes (cap {max_bytes})")
    buffer = bytearray(info.file_size + 1)
    view = memoryview(buffer)
    total = 0
    with archive.open(info) as member:
        while total < len(buffer):
            got = member.readinto(view[total:total + READ_STEP])
            if not got:
                break
            total += got
    view.release()
    if total != info.file_size:
        raise UnsafeContentError(
            f"archive member {name!r} holds {'more' if total > info.file_size else 'fewer'} bytes than its "
            f"declared {info.file_size}"
        )
    del buffer[total:]
    return buffer


def _short(exc: BaseException, limit: int = 120) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"
