"""Read metadata from pickles that name classes (PtychoPINN's TF ``params.dill``) without running any code.

Every global the pickle asks for becomes an ``Inert`` placeholder that only records its name, its
call arguments and its state; nothing is imported and nothing is called. Plain scalars, strings,
lists and dicts come out as themselves, so the metadata is readable while tensors and numpy arrays
stay opaque placeholders (numpy scalars are decoded from their recorded dtype and bytes).
"""

from __future__ import annotations

import io
import pickle

import numpy as np

from ptycho_gui.io.safe import MAX_PICKLE_BYTES, UnsafeContentError


class Inert:
    """Stand-in for any object a pickle would construct: records what it was built from, does nothing."""

    qualname = "?"

    def __init__(self, *args, **kwargs):
        self.args = args
        self.kwargs = kwargs
        self.state = None

    def __setstate__(self, state) -> None:
        self.state = state

    def __repr__(self) -> str:
        return f"<{self.qualname}>"


class _InertUnpickler(pickle.Unpickler):
    """Unpickler whose ``find_class`` returns a fresh ``Inert`` subclass named after the global."""

    def find_class(self, module: str, name: str):
        return type("InertGlobal", (Inert,), {"qualname": f"{module}.{name}"})


def load_inert_pickle(data: bytes) -> object:
    """Unpickle ``data`` with every global replaced by an ``Inert`` placeholder (size-capped)."""
    if len(data) > MAX_PICKLE_BYTES:
        raise UnsafeContentError(f"pickle of {len(data)} bytes exceeds the {MAX_PICKLE_BYTES}-byte cap")
    try:
        return _InertUnpickler(io.BytesIO(data)).load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError) as exc:
        raise UnsafeContentError(f"not a readable pickle ({exc})") from exc


def plain_value(value: object) -> object:
    """A JSON-able value: scalars as is, numpy scalars decoded, placeholders as their type name."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, Inert):
        scalar = _numpy_scalar(value)
        return scalar if scalar is not None else repr(value)
    if isinstance(value, (list, tuple)) and all(v is None or isinstance(v, (bool, int, float, str)) for v in value):
        return list(value)
    return f"<{type(value).__name__}>"


def _numpy_scalar(value: Inert) -> float | int | bool | None:
    """Decode ``numpy.core.multiarray.scalar(dtype, bytes)`` placeholders of plain numeric dtypes."""
    if not value.qualname.endswith("multiarray.scalar") or len(value.args) != 2:
        return None
    dtype, raw = value.args
    if not isinstance(dtype, Inert) or not dtype.args or not isinstance(dtype.args[0], str):
        return None
    if not isinstance(raw, bytes) or dtype.args[0] not in {"f4", "f8", "i4", "i8", "u4", "u8", "b1", "f2"}:
        return None
    array = np.frombuffer(raw, dtype=np.dtype(dtype.args[0]))
    return array[0].item() if array.size == 1 else None
