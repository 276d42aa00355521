"""A hostile-input corpus generated at test time: each case writes its files and names the command line.

A case is ``Case(name, build, code, fragment)``: ``build(folder)`` writes the hostile files into
``folder`` and returns the ``ptycho-inspect`` arguments; ``code`` is the exit code expected and
``fragment`` a piece of the one stderr line (for refusals). Payload pickles would create the file
``CANARY`` in the case folder if any code in them ran. Built from the shipped demo checkpoint and scan,
so nothing outside the repository is needed.
"""

from __future__ import annotations

import functools
import io
import os
import pickle
import struct
import zipfile
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import torch

from ptycho_gui.demo import demo_paths

CANARY = "CANARY"
MODEL = "diffraction_to_obj/model.pth"
PARAMS = "diffraction_to_obj/params.dill"
METADATA = "torch_scaling_metadata.pt"


@dataclass(frozen=True)
class Case:
    name: str
    build: Callable[[Path], list[str]]
    code: int
    fragment: str = ""


class _Payload:
    """Pickles to ``os.system('touch CANARY')``: would prove code ran."""

    def __init__(self, folder: Path):
        self.command = f"touch {folder / CANARY}"

    def __reduce__(self):
        return (os.system, (self.command,))


# ----- materials ------------------------------------------------------------------------------------


@functools.cache
def _demo_archive() -> tuple[tuple[str, bytes], ...]:
    """The demo bundle's members, read once (every case starts from them)."""
    with zipfile.ZipFile(demo_paths()[0]) as archive:
        return tuple((name, archive.read(name)) for name in archive.namelist())


@functools.cache
def _demo_arrays() -> tuple[tuple[str, np.ndarray], ...]:
    """The demo scan's arrays, read once."""
    with np.load(demo_paths()[1], allow_pickle=False) as data:
        return tuple((key, data[key]) for key in data.files)


def demo_members() -> dict[str, bytes]:
    """A fresh dict of the demo bundle's members (name → bytes)."""
    return dict(_demo_archive())


def demo_scan() -> dict[str, np.ndarray]:
    """Fresh copies of the demo scan's arrays (a case may change them)."""
    return {key: value.copy() for key, value in _demo_arrays()}


def torch_bytes(value: object, **kwargs) -> bytes:
    buffer = io.BytesIO()
    torch.save(value, buffer, **kwargs)
    return buffer.getvalue()


def demo_state() -> OrderedDict:
    return torch.load(io.BytesIO(demo_members()[MODEL]), weights_only=True)


def demo_metadata() -> dict:
    return torch.load(io.BytesIO(demo_members()[METADATA]), weights_only=True)


def write_zip(path: Path, members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> Path:
    """Write a zip of ``members`` (deflate at level 1: the corpus writes ~150 zips of the 2 MB weights)."""
    with zipfile.ZipFile(path, "w", compression, compresslevel=1) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def bundle(folder: Path, **replace: bytes | None) -> Path:
    """The demo bundle with members replaced (None removes one).

    Keys spell member names with '__' for '/' and the last '__' for '.': ``diffraction_to_obj__model__pth``.
    """
    members = demo_members()
    for key, data in replace.items():
        *folders, suffix = key.split("__")
        name = "/".join(folders) + "." + suffix
        if data is None:
            members.pop(name, None)
        else:
            members[name] = data
    return write_zip(folder / "wts.h5.zip", members)


def info(path: Path) -> list[str]:
    return ["info", str(path)]


def npz(folder: Path, name: str = "scan.npz", **changes) -> Path:
    data = demo_scan()
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    path = folder / name
    np.savez(path, **data)
    return path


def h5(folder: Path, fill: Callable[[h5py.File], None], with_scan: bool = True) -> Path:
    path = folder / "scan.h5"
    with h5py.File(path, "w") as f:
        if with_scan:
            for key, value in demo_scan().items():
                if key in ("diff3d", "xcoords", "ycoords"):
                    f[key] = value
        fill(f)
    return path


# ----- pickles --------------------------------------------------------------------------------------


def laughs_list(depth: int = 60) -> bytes:
    """A list of two references to the previous list, ``depth`` times: 2**depth leaves, ~10 bytes per level."""
    ops = [b"\x80\x02", b"]q\x00"]
    for level in range(1, depth + 1):
        ops.append(b"h" + bytes([level - 1]) + b"h" + bytes([level - 1]) + b"\x86q" + bytes([level]))
    return b"".join(ops) + b"."


def laughs_dict(depth: int = 60) -> bytes:
    value: object = {"N": 64}
    for _ in range(depth):
        value = {"a": value, "b": value}
    return pickle.dumps({"N": 64, "gridsize": 1, "x": value}, protocol=2)


def memo_chain(depth: int = 100_000) -> bytes:
    """[[[...]]] nested ``depth`` deep through the memo, stack depth constant."""
    ops = [b"\x80\x04", b"]", b"\x94"]
    for index in range(1, depth + 1):
        ops += [b"]", b"j" + struct.pack("<I", index - 1), b"a", b"\x94"]
    return b"".join(ops) + b"."


def mark_nesting(depth: int = 5000) -> bytes:
    return b"\x80\x02" + b"(" * depth + b"N" + b"l" * depth + b"."


def huge_int_pickle(digits_bits: int = 17_000) -> bytes:
    data = (1 << digits_bits).to_bytes(digits_bits // 8 + 1, "little")
    return b"\x80\x02}q\x00(X\x01\x00\x00\x00N\x8b" + struct.pack("<I", len(data)) + data + b"u."


def long_length(opcode: bytes, size_format: str, value: int) -> bytes:
    return b"\x80\x05" + opcode + struct.pack(size_format, value) + b"abc."


def many_opcodes(count: int = 600_000) -> bytes:
    return b"\x80\x02]" + b"(" + b"N" * count + b"e."


class _ShadowingState(OrderedDict):
    """Pickles as a plain OrderedDict whose stored state overrides ``items`` and ``get``."""

    def __reduce__(self):
        return (OrderedDict, (), {"items": "not a method", "get": "not a method"}, None, iter(dict.items(self)))


def ordered_dict_shadowing() -> bytes:
    return torch_bytes(_ShadowingState(demo_state()))


# ----- torch files ----------------------------------------------------------------------------------


def state_with(name_change: Callable[[OrderedDict], None]) -> bytes:
    state = demo_state()
    name_change(state)
    return torch_bytes(state)


def first_key(state: OrderedDict) -> str:
    return next(iter(state))


def replace_first(state: OrderedDict, tensor: torch.Tensor) -> None:
    state[first_key(state)] = tensor


def stride_zero(state: OrderedDict) -> None:
    key = "model.forward_model.alpha" if "model.forward_model.alpha" in state else first_key(state)
    state[key] = torch.zeros(1).expand(150_000_000)


def overlapping(state: OrderedDict) -> None:
    key = first_key(state)
    base = torch.zeros(state[key].numel())
    state[key] = base.as_strided(state[key].shape, (1,) * state[key].dim())


def metadata_with(change: Callable[[dict], None]) -> bytes:
    metadata = demo_metadata()
    change(metadata)
    return torch_bytes(metadata)


def set_model(key: str, value: object) -> Callable[[dict], None]:
    def change(metadata: dict) -> None:
        metadata["model_config"][key] = value
    return change


def set_data(key: str, value: object) -> Callable[[dict], None]:
    def change(metadata: dict) -> None:
        metadata["data_config"][key] = value
    return change


def nested_list(depth: int) -> list:
    value: list = []
    for _ in range(depth):
        value = [value]
    return value


def shared_laughs(depth: int = 60) -> list:
    value: list = [0]
    for _ in range(depth):
        value = [value, value]
    return value


def inner_zip_bomb(size: int = 80 << 20) -> bytes:
    """A torch zip whose storage member inflates ~1000:1 (written compressed, as torch never does)."""
    with zipfile.ZipFile(io.BytesIO(demo_members()[MODEL])) as source:
        members = {name: source.read(name) for name in source.namelist()}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
        prefix = next(iter(members)).split("/")[0]
        archive.writestr(f"{prefix}/data/bomb", bytes(size))
    return buffer.getvalue()


def declared_member(folder: Path, file_size: int, compress_size: int) -> Path:
    """A bundle whose model.pth entry claims ``file_size`` bytes stored in ``compress_size`` (headers patched)."""
    path = bundle(folder)
    data = bytearray(path.read_bytes())
    central = data.find(b"PK\x01\x02")
    while central >= 0:
        name_length = struct.unpack_from("<H", data, central + 28)[0]
        if data[central + 46:central + 46 + name_length] == MODEL.encode():
            struct.pack_into("<II", data, central + 20, min(compress_size, 0xFFFFFFFE), min(file_size, 0xFFFFFFFE))
            break
        central = data.find(b"PK\x01\x02", central + 4)
    path.write_bytes(bytes(data))
    return path


def legacy_global_ckpt(folder: Path) -> bytes:
    return pickle.dumps({"state_dict": _Payload(folder)}, protocol=2)


def ckpt(folder: Path, payload: object, name: str = "last.ckpt") -> Path:
    path = folder / name
    path.write_bytes(torch_bytes(payload))
    return path


def lightning(change: Callable[[dict], None] | None = None) -> dict:
    metadata = demo_metadata()
    payload = {"state_dict": demo_state(), "hyper_parameters": {
        "model_config": metadata["model_config"], "data_config": metadata["data_config"],
        "training_config": metadata.get("training_config", {})}, "epoch": 1}
    if change is not None:
        change(payload)
    return payload


# ----- zips -----------------------------------------------------------------------------------------


def zip_with_info(folder: Path, info: zipfile.ZipInfo, data: bytes = b"x") -> Path:
    members = demo_members()
    path = folder / "wts.h5.zip"
    info.compress_type = zipfile.ZIP_DEFLATED
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
        archive.writestr(info, data)
    return path


def symlink_info() -> zipfile.ZipInfo:
    info = zipfile.ZipInfo("link")
    info.external_attr = (0o120777 << 16)
    return info


def encrypted(folder: Path) -> Path:
    path = bundle(folder)
    data = bytearray(path.read_bytes())
    offset = 0
    while (offset := data.find(b"PK\x01\x02", offset)) >= 0:
        struct.pack_into("<H", data, offset + 8, struct.unpack_from("<H", data, offset + 8)[0] | 1)
        offset += 4
    path.write_bytes(bytes(data))
    return path


def npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)
    return buffer.getvalue()


def npy_header_only(shape: tuple[int, ...], dtype: str = "<f8") -> bytes:
    header = f"{{'descr': '{dtype}', 'fortran_order': False, 'shape': {shape}, }}".encode()
    header += b" " * (64 - (10 + len(header) + 1) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header


def npz_members(folder: Path, **members: bytes) -> Path:
    base = {f"{key}.npy": npy_bytes(value) for key, value in demo_scan().items()}
    for key, data in members.items():
        if data is None:
            base.pop(f"{key}.npy", None)
        else:
            base[f"{key}.npy"] = data
    return write_zip(folder / "scan.npz", base)


def groups_run(folder: Path, make: Callable[[Path], Path]) -> list[str]:
    return ["run", "--demo", "-o", str(folder / "out"), "--groups", str(make(folder)), "--device", "cpu"]


def npy_file(folder: Path, data: bytes, name: str = "groups.npy") -> Path:
    path = folder / name
    path.write_bytes(data)
    return path


def fifo(folder: Path) -> Path:
    path = folder / "groups.npy"
    os.mkfifo(path)
    return path


def outputs(folder: Path, prepare: Callable[[Path], None], force: bool = False) -> list[str]:
    out = folder / "out"
    out.mkdir()
    prepare(out)
    return ["run", "--demo", "-o", str(out), "--device", "cpu", *(["--force"] if force else [])]


def touch(relative: str) -> Callable[[Path], None]:
    def prepare(out: Path) -> None:
        (out / relative).parent.mkdir(parents=True, exist_ok=True)
        (out / relative).write_text("keep me")
    return prepare


def link_dir(name: str) -> Callable[[Path], None]:
    def prepare(out: Path) -> None:
        elsewhere = out.parent / "elsewhere"
        elsewhere.mkdir()
        (out / name).symlink_to(elsewhere)
    return prepare


def link_file(name: str) -> Callable[[Path], None]:
    def prepare(out: Path) -> None:
        target = out.parent / "target.h5"
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).symlink_to(target)
    return prepare


def scaled_weights(factor: float) -> bytes:
    state = demo_state()
    return torch_bytes(OrderedDict((k, v * factor if v.is_floating_point() else v) for k, v in state.items()))


def far_positions(folder: Path) -> list[str]:
    scan = demo_scan()
    x = scan["xcoords"].copy()
    x[: len(x) // 2] += 100_000
    path = npz(folder, xcoords=x)
    return ["run", str(demo_paths()[0]), str(path), "-o", str(folder / "out"), "--device", "cpu"]


def run_with(folder: Path, checkpoint: Path | None = None, dataset: Path | None = None) -> list[str]:
    ckpt_path, scan_path = demo_paths()
    return ["run", str(checkpoint or ckpt_path), str(dataset or scan_path), "-o", str(folder / "out"),
            "--device", "cpu"]


# ----- the corpus -----------------------------------------------------------------------------------


def _pickle_cases() -> list[Case]:
    p = "params.dill"
    return [
        Case("manifest-global", lambda d: info(bundle(d, manifest__dill=pickle.dumps(_Payload(d)))), 3, "refused pickle global"),
        Case("params-global", lambda d: info(bundle(d, diffraction_to_obj__params__dill=pickle.dumps({"N": _Payload(d)}))), 3, "refused pickle global"),
        Case("params-global-proto0", lambda d: info(bundle(d, diffraction_to_obj__params__dill=b"cos\nsystem\n(S'touch CANARY'\ntR.")), 3, "refused pickle global os.system"),
        Case("params-global-proto4", lambda d: info(bundle(d, diffraction_to_obj__params__dill=pickle.dumps(_Payload(d), protocol=4))), 3, "refused pickle global"),
        Case("params-reduce-opcode", lambda d: info(bundle(d, diffraction_to_obj__params__dill=b"\x80\x02N)R.")), 3, "REDUCE"),
        Case("params-build-opcode", lambda d: info(bundle(d, diffraction_to_obj__params__dill=b"\x80\x02}}b.")), 3, "BUILD"),
        Case("params-ext1", lambda d: info(bundle(d, diffraction_to_obj__params__dill=b"\x80\x02\x82\x01.")), 3, "EXT1"),
        Case("params-persid", lambda d: info(bundle(d, diffraction_to_obj__params__dill=b"\x80\x02X\x01\x00\x00\x00aQ.")), 3, "BINPERSID"),
        Case("params-laughs-list", lambda d: info(bundle(d, diffraction_to_obj__params__dill=laughs_list())), 3, p),
        Case("params-laughs-dict", lambda d: info(bundle(d, diffraction_to_obj__params__dill=laughs_dict())), 3, "reference blow-up"),
        Case("manifest-laughs", lambda d: info(bundle(d, manifest__dill=laughs_list())), 3, "manifest.dill"),
        Case("params-memo-chain", lambda d: info(bundle(d, diffraction_to_obj__params__dill=memo_chain())), 3, "params.dill"),
        Case("params-mark-nesting", lambda d: info(bundle(d, diffraction_to_obj__params__dill=mark_nesting())), 3, "nests deeper"),
        Case("params-huge-int", lambda d: info(bundle(d, diffraction_to_obj__params__dill=huge_int_pickle())), 3, "bits"),
        Case("params-binbytes8-2^64", lambda d: info(bundle(d, diffraction_to_obj__params__dill=long_length(b"\x8e", "<Q", 2**64 - 1))), 3, p),
        Case("params-binunicode8-2^63", lambda d: info(bundle(d, diffraction_to_obj__params__dill=long_length(b"\x8d", "<Q", 2**63))), 3, p),
        Case("params-bytearray8-huge", lambda d: info(bundle(d, diffraction_to_obj__params__dill=long_length(b"\x96", "<Q", 2**62))), 3, p),
        Case("params-long4-2^31", lambda d: info(bundle(d, diffraction_to_obj__params__dill=long_length(b"\x8b", "<i", 2**31 - 1))), 3, p),
        Case("params-binunicode-4g", lambda d: info(bundle(d, diffraction_to_obj__params__dill=long_length(b"X", "<I", 2**32 - 1))), 3, p),
        Case("params-many-opcodes", lambda d: info(bundle(d, diffraction_to_obj__params__dill=many_opcodes())), 3, "opcodes"),
        Case("params-truncated", lambda d: info(bundle(d, diffraction_to_obj__params__dill=pickle.dumps({"N": 64})[:-3])), 3, p),
        Case("params-empty", lambda d: info(bundle(d, diffraction_to_obj__params__dill=b"")), 3, p),
        Case("params-random", lambda d: info(bundle(d, diffraction_to_obj__params__dill=os.urandom(512))), 3, ""),
        Case("params-not-dict", lambda d: info(bundle(d, diffraction_to_obj__params__dill=pickle.dumps([1, 2]))), 3, "not a dict"),
        Case("params-oversize", lambda d: info(bundle(d, diffraction_to_obj__params__dill=pickle.dumps(b"x" * (5 << 20)))), 3, "params.dill"),
        Case("manifest-not-dict", lambda d: info(bundle(d, manifest__dill=pickle.dumps("models"))), 3, "manifest.dill"),
        Case("manifest-no-models", lambda d: info(bundle(d, manifest__dill=pickle.dumps({"version": "2"}))), 3, "manifest.dill"),
        Case("manifest-missing", lambda d: info(bundle(d, manifest__dill=None)), 3, "neither a PtychoPINN bundle"),
        Case("params-deep-dict", lambda d: info(bundle(d, diffraction_to_obj__params__dill=pickle.dumps(nested_list(200)))), 3, "nests deeper"),
        Case("params-set-of-frozensets", lambda d: info(bundle(d, diffraction_to_obj__params__dill=pickle.dumps({"N": 64, "s": {frozenset({1})}}))), 0),
    ]


def _torch_cases() -> list[Case]:
    m = "model.pth"
    return [
        Case("metadata-global", lambda d: info(bundle(d, torch_scaling_metadata__pt=torch_bytes({"x": _Payload(d)}))), 3, "refused"),
        Case("metadata-laughs", lambda d: info(bundle(d, torch_scaling_metadata__pt=torch_bytes(shared_laughs()))), 3, "reference blow-up"),
        Case("metadata-deep", lambda d: info(bundle(d, torch_scaling_metadata__pt=torch_bytes(nested_list(400)))), 3, "nests deeper"),
        Case("metadata-huge-int", lambda d: info(bundle(d, torch_scaling_metadata__pt=torch_bytes({"n": 10**5000}))), 3, "bits"),
        Case("metadata-not-dict", lambda d: info(bundle(d, torch_scaling_metadata__pt=torch_bytes([1, 2]))), 3, "not a dict"),
        Case("metadata-legacy-format", lambda d: info(bundle(d, torch_scaling_metadata__pt=torch_bytes(demo_metadata(), _use_new_zipfile_serialization=False))), 3, "legacy"),
        Case("config-n-filters-40", lambda d: info(bundle(d, torch_scaling_metadata__pt=metadata_with(set_model("n_filters_scale", 40)))), 3, "n_filters_scale"),
        Case("config-num-datasets-1e12", lambda d: info(bundle(d, torch_scaling_metadata__pt=metadata_with(set_model("num_datasets", 10**12)))), 3, "num_datasets"),
        Case("config-kernel-1e5", lambda d: info(bundle(d, torch_scaling_metadata__pt=metadata_with(set_model("decoder_spatial_kernel", 100_001)))), 3, "decoder_spatial_kernel"),
        Case("config-n-huge-int", lambda d: info(bundle(d, torch_scaling_metadata__pt=metadata_with(set_data("N", 10**5000)))), 3, "bits"),
        Case("config-n-300", lambda d: info(bundle(d, torch_scaling_metadata__pt=metadata_with(set_data("N", 300)))), 3, "N"),
        Case("config-n-negative", lambda d: info(bundle(d, torch_scaling_metadata__pt=metadata_with(set_data("N", -64)))), 3, "N"),
        Case("config-c-huge", lambda d: info(bundle(d, torch_scaling_metadata__pt=metadata_with(set_data("C", 10**6)))), 3, "C"),
        Case("config-n-string", lambda d: info(bundle(d, torch_scaling_metadata__pt=metadata_with(set_data("N", "64")))), 3, "N"),
        Case("config-scale-mismatch", lambda d: info(bundle(d, torch_scaling_metadata__pt=metadata_with(set_model("n_filters_scale", 4)))), 3, "shape"),
        Case("config-architecture-fno", lambda d: info(bundle(d, torch_scaling_metadata__pt=metadata_with(set_model("architecture", "evil")))), 3, "architecture"),
        Case("config-bool-as-int", lambda d: info(bundle(d, torch_scaling_metadata__pt=metadata_with(set_model("n_filters_scale", True)))), 3, "n_filters_scale"),
        Case("config-kernel-nan", lambda d: info(bundle(d, torch_scaling_metadata__pt=metadata_with(set_model("decoder_spatial_kernel", float("nan"))))), 3, "decoder_spatial_kernel"),
        Case("weights-meta", lambda d: info(bundle(d, diffraction_to_obj__model__pth=state_with(lambda s: replace_first(s, torch.empty(s[first_key(s)].shape, device="meta"))))), 3, m),
        Case("weights-sparse", lambda d: info(bundle(d, diffraction_to_obj__model__pth=state_with(lambda s: replace_first(s, s[first_key(s)].to_sparse())))), 3, "layout"),
        Case("weights-stride0", lambda d: info(bundle(d, diffraction_to_obj__model__pth=state_with(stride_zero))), 3, "stride-0"),
        Case("weights-overlapping", lambda d: info(bundle(d, diffraction_to_obj__model__pth=state_with(overlapping))), 3, "overlapping"),
        Case("weights-complex", lambda d: info(bundle(d, diffraction_to_obj__model__pth=state_with(lambda s: replace_first(s, s[first_key(s)].to(torch.complex64))))), 3, "dtype"),
        Case("weights-quantized", lambda d: info(bundle(d, diffraction_to_obj__model__pth=state_with(lambda s: replace_first(s, torch.quantize_per_tensor(s[first_key(s)], 0.1, 0, torch.qint8))))), 3, m),
        Case("weights-nan", lambda d: info(bundle(d, diffraction_to_obj__model__pth=state_with(lambda s: s[first_key(s)].fill_(float("nan"))))), 3, "NaN"),
        Case("weights-missing-tensor", lambda d: info(bundle(d, diffraction_to_obj__model__pth=state_with(lambda s: s.pop(first_key(s))))), 3, "missing"),
        Case("weights-extra-tensor", lambda d: info(bundle(d, diffraction_to_obj__model__pth=state_with(lambda s: s.__setitem__("model.extra", torch.zeros(1))))), 3, "unexpected"),
        Case("weights-wrong-shape", lambda d: info(bundle(d, diffraction_to_obj__model__pth=state_with(lambda s: replace_first(s, torch.zeros(3, 3))))), 3, "shape"),
        Case("weights-string-value", lambda d: info(bundle(d, diffraction_to_obj__model__pth=torch_bytes({"model.x": "text"}))), 3, m),
        Case("weights-ordered-dict-shadowing", lambda d: info(bundle(d, diffraction_to_obj__model__pth=ordered_dict_shadowing())), 3, "overrides"),
        Case("weights-bare-tensor", lambda d: info(bundle(d, diffraction_to_obj__model__pth=torch_bytes(torch.zeros(3)))), 3, m),
        Case("weights-global", lambda d: info(bundle(d, diffraction_to_obj__model__pth=torch_bytes({"x": _Payload(d)}))), 3, "refused"),
        Case("weights-legacy-format", lambda d: info(bundle(d, diffraction_to_obj__model__pth=torch_bytes(demo_state(), _use_new_zipfile_serialization=False))), 3, "legacy"),
        Case("weights-random", lambda d: info(bundle(d, diffraction_to_obj__model__pth=os.urandom(4096))), 3, m),
        Case("weights-truncated-zip", lambda d: info(bundle(d, diffraction_to_obj__model__pth=demo_members()[MODEL][:5000])), 3, m),
        Case("weights-inner-zip-bomb", lambda d: info(bundle(d, diffraction_to_obj__model__pth=inner_zip_bomb())), 3, "inside"),
        Case("weights-nested-zip-3deep", lambda d: info(bundle(d, diffraction_to_obj__model__pth=_zip_in_zip(3))), 3, m),
        Case("ckpt-5-bytes", lambda d: info(_write(d / "last.ckpt", b"\x80\x02K\x01.")), 3, "legacy"),
        Case("ckpt-empty", lambda d: info(_write(d / "last.ckpt", b"")), 3, "empty file"),
        Case("ckpt-3-bytes", lambda d: info(_write(d / "last.ckpt", b"PK\x03")), 3, "truncated file"),
        Case("ckpt-cut-at-half", lambda d: info(_half(ckpt(d, lightning()))), 3, "truncated or damaged checkpoint"),
        Case("ckpt-legacy-global", lambda d: info(_write(d / "last.ckpt", legacy_global_ckpt(d))), 3, "legacy"),
        Case("ckpt-global", lambda d: info(ckpt(d, {"state_dict": {}, "hyper_parameters": _Payload(d)})), 3, "refused"),
        Case("ckpt-hparams-laughs", lambda d: info(ckpt(d, lightning(lambda p: p.__setitem__("laughs", shared_laughs())))), 3, "reference blow-up"),
        Case("ckpt-hparams-deep", lambda d: info(ckpt(d, lightning(lambda p: p["hyper_parameters"].__setitem__("x", nested_list(300))))), 3, "nests deeper"),
        Case("ckpt-state-only", lambda d: info(ckpt(d, {"state_dict": demo_state()})), 3, "hyper_parameters"),
        Case("ckpt-n-filters-40", lambda d: info(ckpt(d, lightning(lambda p: p["hyper_parameters"]["model_config"].__setitem__("n_filters_scale", 40)))), 3, "n_filters_scale"),
        Case("ckpt-stride0", lambda d: info(ckpt(d, lightning(lambda p: stride_zero(p["state_dict"])))), 3, "stride-0"),
        Case("ckpt-valid", lambda d: info(ckpt(d, lightning())), 0),
        Case("ckpt-data-pkl-oversize", lambda d: info(ckpt(d, {"state_dict": {}, "pad": "x" * (9 << 20)})), 3, "cap"),
    ]


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _half(path: Path) -> Path:
    """The file cut at half its length (an interrupted download or copy)."""
    return _write(path, path.read_bytes()[: path.stat().st_size // 2])


def _zip_in_zip(depth: int) -> bytes:
    data = demo_members()[MODEL]
    for _ in range(depth):
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("inner/data.pkl", data)
        data = buffer.getvalue()
    return data


def _zip_cases() -> list[Case]:
    return [
        Case("zip-path-traversal", lambda d: info(zip_with_info(d, zipfile.ZipInfo("../../escape.txt"))), 3, "unsafe path"),
        Case("zip-absolute", lambda d: info(zip_with_info(d, zipfile.ZipInfo("/etc/evil"))), 3, "unsafe path"),
        Case("zip-drive-letter", lambda d: info(zip_with_info(d, zipfile.ZipInfo("C:evil"))), 3, "unsafe path"),
        Case("zip-symlink", lambda d: info(zip_with_info(d, symlink_info(), b"/etc/passwd")), 3, "symbolic link"),
        Case("zip-encrypted", lambda d: info(encrypted(d)), 3, "encrypted"),
        Case("zip-ratio-bomb", lambda d: info(zip_with_info(d, zipfile.ZipInfo("pad.bin"), bytes(50 << 20))), 3, "compression ratio"),
        Case("zip-declared-2gib-103to1", lambda d: info(declared_member(d, 2 << 30, (2 << 30) // 103)), 3, ""),
        Case("zip-declared-2gib-stored", lambda d: info(declared_member(d, 2 << 30, 2 << 30)), 3, "beyond the archive"),
        Case("zip-declared-size-lie", lambda d: info(declared_member(d, 1000, 900)), 3, ""),
        Case("zip-too-many-members", lambda d: info(write_zip(d / "wts.h5.zip", {**demo_members(), **{f"f{i}": b"" for i in range(10_001)}}, zipfile.ZIP_STORED)), 3, "members"),
        Case("zip-tf-bundle", lambda d: info(bundle(d, diffraction_to_obj__model__keras=b"x")), 3, "model.keras is not a readable Keras zip"),
        Case("zip-no-manifest", lambda d: info(write_zip(d / "wts.h5.zip", {"readme.txt": b"hi"})), 3, "neither a PtychoPINN bundle"),
        Case("zip-truncated", lambda d: info(_write(d / "wts.h5.zip", demo_paths()[0].read_bytes()[:100_000])), 3, "truncated or damaged checkpoint"),
        Case("zip-bundle-cut-at-half", lambda d: info(_half(bundle(d))), 3, "truncated or damaged checkpoint"),
        Case("zip-no-model", lambda d: info(bundle(d, diffraction_to_obj__model__pth=None)), 3, "model.pth"),
        Case("zip-escape-name", lambda d: info(bundle(d).rename(d / "evil\x1b[2J\x1b]0;pwned\x07.zip") or d / "evil\x1b[2J\x1b]0;pwned\x07.zip"), 0),
        Case("zip-escape-name-refused", lambda d: info(_write(d / "bad\x1b[31m\u202e.ckpt", b"junk")), 3, "\\x1b[31m"),
        Case("zip-corrupt-crc", lambda d: info(_corrupt(bundle(d))), 3, ""),
    ]


def _corrupt(path: Path) -> Path:
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(MODEL)
    start = info.header_offset + 30 + len(info.filename) + 2000
    data[start:start + 32] = bytes(32)
    path.write_bytes(bytes(data))
    return path


def _npz_cases() -> list[Case]:
    n = demo_scan()["xcoords"].shape[0]
    return [
        Case("npz-object-array", lambda d: info(npz_members(d, diff3d=npy_bytes(np.array([_Payload(d)], dtype=object)))), 3, "diff3d"),
        Case("npz-metadata-pickle-global", lambda d: info(npz_members(d, _metadata=npy_bytes(np.array(_Payload(d), dtype=object)))), 0),
        Case("npz-metadata-deep-json", lambda d: info(npz(d, _metadata=np.array("[" * 100_000 + "]" * 100_000))), 0),
        Case("npz-metadata-deep-object", lambda d: info(npz(d, _metadata=np.array('{"a":' * 500 + "1" + "}" * 500))), 0),
        Case("npz-coords-mismatch", lambda d: info(npz(d, xcoords=np.zeros(n + 5))), 3, "xcoords"),
        Case("npz-coords-vs-stack", lambda d: info(npz(d, xcoords=np.zeros(n + 5), ycoords=np.zeros(n + 5))), 3, "positions"),
        Case("npz-coords-declared-huge", lambda d: info(npz_members(d, xcoords=npy_header_only((500_000_000,)), ycoords=npy_header_only((500_000_000,)))), 3, ""),
        Case("npz-coords-2d", lambda d: info(npz(d, xcoords=np.zeros((n, 2)))), 3, "1-D"),
        Case("npz-coords-nan", lambda d: info(npz(d, xcoords=np.full(n, np.nan))), 3, "non-finite"),
        Case("npz-coords-empty", lambda d: info(npz(d, xcoords=np.zeros(0), ycoords=np.zeros(0), diff3d=np.zeros((0, 64, 64), np.float32))), 3, ""),
        Case("npz-coords-missing", lambda d: info(npz(d, xcoords=None)), 3, "xcoords"),
        Case("npz-diff-complex", lambda d: info(npz(d, diff3d=demo_scan()["diff3d"].astype(np.complex64))), 3, "dtype"),
        Case("npz-diff-nonsquare", lambda d: info(npz(d, diff3d=np.zeros((n, 64, 32), np.float32))), 3, "square"),
        Case("npz-diff-odd", lambda d: info(npz(d, diff3d=np.zeros((n, 7, 7), np.float32))), 3, "even"),
        Case("npz-diff-nan", lambda d: info(npz(d, diff3d=np.full((n, 64, 64), np.nan, np.float32))), 3, "non-finite"),
        Case("npz-diff-missing", lambda d: info(npz(d, diff3d=None)), 3, "diff3d"),
        Case("npz-diff-string", lambda d: info(npz(d, diff3d=np.array(["x"] * n))), 3, "dtype"),
        Case("npz-negative-amplitudes", lambda d: info(npz(d, diff3d=-demo_scan()["diff3d"])), 0),
        Case("npz-intensity-like", lambda d: info(npz(d, diff3d=np.round(demo_scan()["diff3d"] ** 2 * 100))), 0),
        Case("npz-object-guess-huge", lambda d: info(npz_members(d, objectGuess=npy_header_only((100_000, 100_000), "<c8"))), 3, ""),
        Case("npz-object-guess-negative-shape", lambda d: info(npz_members(d, objectGuess=npy_header_only((-5, 10), "<c8"))), 3, ""),
        Case("npz-header-version-9", lambda d: info(npz_members(d, xcoords=b"\x93NUMPY\x09\x00" + b"\x00" * 20)), 3, ""),
        Case("npz-header-lies", lambda d: info(npz_members(d, xcoords=npy_bytes(np.zeros(n))[:-16])), 3, "header declares"),
        Case("npz-path-traversal", lambda d: info(write_zip(d / "scan.npz", {"../x.npy": npy_bytes(np.zeros(3))})), 3, "unsafe path"),
        Case("npz-no-npy", lambda d: info(write_zip(d / "scan.npz", {"readme.txt": b"hi"})), 3, ""),
        Case("npz-zip-bomb", lambda d: info(npz_members(d, pad=npy_bytes(np.zeros(40 << 20, np.uint8)))), 3, "compression ratio"),
        Case("npz-truncated", lambda d: info(_write(d / "scan.npz", demo_paths()[1].read_bytes()[:50_000])), 3, "truncated or damaged NPZ dataset"),
        Case("npz-valid", lambda d: info(npz(d)), 0),
        Case("not-a-file-fifo", lambda d: info(fifo(d)), 3, "not a regular file"),
        Case("not-a-file-device", lambda d: info(Path("/dev/zero")), 3, ""),
        Case("not-a-file-directory", lambda d: info(d), 3, ""),
        Case("missing-file", lambda d: info(d / "nothing.npz"), 3, ""),
    ]


def _hdf5_cases() -> list[Case]:
    n = demo_scan()["xcoords"].shape[0]
    return [
        Case("h5-external-link", lambda d: info(h5(d, lambda f: f.__setitem__("extra", h5py.ExternalLink("/etc/passwd", "/x")))), 3, "external link"),
        Case("h5-external-storage", lambda d: info(h5(d, lambda f: f.create_dataset("extra", shape=(10,), dtype="u1", external=[("/etc/passwd", 0, 10)]))), 3, "external file"),
        Case("h5-virtual", lambda d: info(h5(d, _virtual)), 3, "virtual"),
        Case("h5-softlink-loop", lambda d: info(h5(d, _loop)), 3, "soft link"),
        Case("h5-softlink-dangling", lambda d: info(h5(d, lambda f: f.__setitem__("dangling", h5py.SoftLink("/nowhere")))), 3, "points to nothing"),
        Case("h5-declared-8tib", lambda d: info(h5(d, lambda f: f.create_dataset("big", shape=(2**40,), dtype="f8", chunks=(1024,)))), 3, "absurd shape"),
        Case("h5-huge-chunk", lambda d: info(h5(d, lambda f: f.create_dataset("chunky", shape=(1024, 256, 256), dtype="f4", chunks=(1024, 256, 256), compression="gzip"))), 3, "chunks"),
        Case("h5-gzip-bomb-stack", lambda d: info(h5(d, _gzip_bomb_stack, with_scan=False)), 3, "decompression bomb"),
        Case("h5-unwritten-stack", lambda d: info(h5(d, _unwritten_stack, with_scan=False)), 3, "decompression bomb"),
        Case("h5-string-stack", lambda d: info(h5(d, lambda f: _scan_with(f, diff3d=np.array([b"x"] * n)), with_scan=False)), 3, "dtype"),
        Case("h5-compound-stack", lambda d: info(h5(d, lambda f: _scan_with(f, diff3d=np.zeros((n, 64, 64), [("a", "f4"), ("b", "i4")])), with_scan=False)), 3, ""),
        Case("h5-coords-mismatch", lambda d: info(h5(d, lambda f: _scan_with(f, xcoords=np.zeros(n + 1), ycoords=np.zeros(n + 1)), with_scan=False)), 3, "positions"),
        Case("h5-two-groups", lambda d: info(h5(d, _two_groups, with_scan=False)), 3, "several groups"),
        Case("h5-rank-9", lambda d: info(h5(d, lambda f: f.create_dataset("r9", shape=(1,) * 9, dtype="f4"))), 3, "absurd shape"),
        Case("h5-truncated", lambda d: info(_write(d / "scan.h5", h5(d, lambda f: None).read_bytes()[:4000])), 3, ""),
        Case("h5-valid", lambda d: info(h5(d, lambda f: None)), 0),
    ]


def _scan_with(f: h5py.File, **changes: np.ndarray) -> None:
    data = {key: value for key, value in demo_scan().items() if key in ("diff3d", "xcoords", "ycoords")}
    data.update(changes)
    for key, value in data.items():
        f[key] = value


def _virtual(f: h5py.File) -> None:
    layout = h5py.VirtualLayout(shape=(4,), dtype="f4")
    layout[:] = h5py.VirtualSource("/tmp/elsewhere.h5", "data", shape=(4,))
    f.create_virtual_dataset("virtual", layout)


def _loop(f: h5py.File) -> None:
    f["a"] = h5py.SoftLink("/b")
    f["b"] = h5py.SoftLink("/a")


def _gzip_bomb_stack(f: h5py.File) -> None:
    scan = demo_scan()
    count = 5000
    f.create_dataset("diff3d", data=np.zeros((count, 64, 64), np.float32), chunks=(16, 64, 64), compression="gzip")
    f["xcoords"] = np.zeros(count)
    f["ycoords"] = np.zeros(count)
    del scan


def _unwritten_stack(f: h5py.File) -> None:
    count = 1 << 20
    f.create_dataset("diff3d", shape=(count, 64, 64), dtype="f4", chunks=(64, 64, 64))
    f.create_dataset("xcoords", shape=(count,), dtype="f8", chunks=(4096,))
    f.create_dataset("ycoords", shape=(count,), dtype="f8", chunks=(4096,))


def _two_groups(f: h5py.File) -> None:
    for name in ("a", "b"):
        group = f.create_group(name)
        for key, value in demo_scan().items():
            if key in ("diff3d", "xcoords", "ycoords"):
                group[key] = value


def _groups_cases() -> list[Case]:
    return [
        Case("groups-fifo", lambda d: groups_run(d, fifo), 3, "not a regular file"),
        Case("groups-directory", lambda d: groups_run(d, lambda f: f), 3, "not a regular file"),
        Case("groups-header-7tib", lambda d: groups_run(d, lambda f: npy_file(f, npy_header_only((1 << 40, 1), "<i8"))), 3, "header declares"),
        Case("groups-object-array", lambda d: groups_run(d, lambda f: npy_file(f, npy_bytes(np.array([_Payload(d)], dtype=object)))), 3, "groups.npy"),
        Case("groups-out-of-range", lambda d: groups_run(d, lambda f: npy_file(f, npy_bytes(np.array([[10**9]])))), 3, "outside"),
        Case("groups-float", lambda d: groups_run(d, lambda f: npy_file(f, npy_bytes(np.array([[0.5]])))), 3, "integers"),
        Case("groups-wrong-c", lambda d: groups_run(d, lambda f: npy_file(f, npy_bytes(np.zeros((3, 7), np.int64)))), 3, "members"),
        Case("groups-empty", lambda d: groups_run(d, lambda f: npy_file(f, npy_bytes(np.zeros((0, 1), np.int64)))), 3, ""),
        Case("groups-random", lambda d: groups_run(d, lambda f: npy_file(f, os.urandom(300))), 3, "groups.npy"),
    ]


def _output_cases() -> list[Case]:
    return [
        Case("out-existing-reconstruction", lambda d: outputs(d, touch("reconstruction.h5")), 3, "already exist"),
        Case("out-existing-debug-dump", lambda d: outputs(d, touch("debug_dump/stats.json")), 3, "already exist"),
        Case("out-existing-analysis", lambda d: outputs(d, touch("analysis/torch_patch_stats.json")), 3, "already exist"),
        Case("out-symlink-debug-dump", lambda d: outputs(d, link_dir("debug_dump")), 3, "symbolic link"),
        Case("out-symlink-analysis-forced", lambda d: outputs(d, link_dir("analysis"), force=True), 3, "symbolic link"),
        Case("out-symlink-reconstruction", lambda d: outputs(d, link_file("reconstruction.h5"), force=True), 3, "symbolic link"),
        Case("out-is-a-file", lambda d: ["run", "--demo", "-o", str(_write(d / "out", b"x")), "--device", "cpu"], 3, ""),
        Case("run-weights-1e30", lambda d: run_with(d, checkpoint=bundle(d, diffraction_to_obj__model__pth=scaled_weights(1e30))), 3, "NaN or infinite"),
        Case("run-positions-far-outside", far_positions, 3, "canvas"),
        Case("run-all-zero-patterns", lambda d: run_with(d, dataset=npz(d, diff3d=np.zeros_like(demo_scan()["diff3d"]))), 3, ""),
    ]


def corpus() -> list[Case]:
    """Every case, each with a unique name."""
    cases = (_pickle_cases() + _torch_cases() + _zip_cases() + _npz_cases() + _hdf5_cases() + _groups_cases()
             + _output_cases())
    assert len({case.name for case in cases}) == len(cases)
    return cases
