"""Open a PtychoPINN TensorFlow bundle (``wts.h5.zip`` holding ``*/model.keras``) without TensorFlow.

Reads only zip members, JSON and HDF5 (``ptychopinn-tf-contract.md`` §2): the Keras 3 ``model.keras``
(``metadata.json``, ``config.json``, ``model.weights.h5``) of ``diffraction_to_obj``, the
``intensity_scale`` attribute of its ``model.h5``, and ``params.dill`` through the inert reader
(metadata only; ``custom_objects.dill`` is never read). The Keras graph is validated op by op and
every weight shape is checked against the channel flow before any tensor is read (N, channels,
gridsize, filters, kernel and upsampling sizes within ``config_bounds.TF_BOUNDS``, all convolutions
together within ``MAX_NETWORK_BYTES``, so nothing absurd is ever built); every zip member is read with
a cap and nested zips get the same zip-bomb checks; every dataset in
the weights file must be used. Refused with one line: SavedModel-era and Keras-2 bundles, Lambda
layers, unknown layer classes, unexpected layer options, missing/extra/mis-shaped tensors.

Eras (§2.5): ``current`` (2026-02-10 on: ``CombineComplexLayer.use_polar``, A·e^{iφ}) and
``legacy`` (2025-07-28 … 2026-02-09: no ``use_polar``, A + iφ), recognised from ``config.json``.
"""

from __future__ import annotations

import io
import json
import math
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np
import torch

from ptycho_gui.errors import InvalidInputError, UnsupportedModelError
from ptycho_gui.io.config_bounds import MAX_NETWORK_BYTES, TF_BOUNDS, check_ranges
from ptycho_gui.io.hdf5_audit import audit_hdf5
from ptycho_gui.io.inert_pickle import load_inert_pickle, plain_value
from ptycho_gui.io.loaded_model import LoadedModel
from ptycho_gui.io.safe import (
    MAX_PICKLE_BYTES,
    UnsafeContentError,
    check_nested_zip,
    check_zip_members,
    load_plain_pickle,
    read_zip_member,
)
from ptycho_gui.models.tf_diffraction_to_obj import (
    ACTIVATIONS,
    KerasOp,
    TfDiffractionToObj,
    log_scale_of,
)

FORMAT_TF = "ptychopinn-tf-bundle"
FAMILY_TF = "tf-diffraction_to_obj"
ERA_CURRENT = "current"
ERA_LEGACY = "legacy"
MODEL_ENTRY = "diffraction_to_obj"

MAX_KERAS_BYTES = 2 << 30
"""Largest ``model.keras`` read into memory (an N=256 bundle is ~50 MB)."""
MAX_CONFIG_BYTES = 16 << 20
MAX_METADATA_BYTES = 64 << 10
MAX_MODEL_H5_BYTES = 1 << 20
MAX_WEIGHTS_BYTES = 2 << 30

TF_MARKERS = ("model.keras", "custom_objects.dill", "saved_model.pb", "keras_metadata.pb")
SAVEDMODEL_MARKERS = ("saved_model.pb", "keras_metadata.pb", "variables.index")
_KERAS_TENSOR = "__keras_tensor__"
_PARAMS_FIELDS = ("N", "gridsize", "n_filters_scale", "amp_activation", "object.big", "probe.big", "pad_object",
                  "offset", "max_position_jitter", "nphotons", "intensity_scale", "n_groups", "neighbor_count",
                  "nepochs", "batch_size", "label", "model_type", "_version")
_DTYPE_FREE = {"InputLayer", "GetItem", "Silu", "Multiply", "Add"}
_LAYER_KINDS = {
    "InputLayer": "input", "IntensityScaler": "scale", "Conv2D": "conv", "MaxPooling2D": "maxpool",
    "UpSampling2D": "upsample", "GetItem": "slice", "Silu": "silu", "ActivationLayer": "activation",
    "CenterMaskLayer": "centermask", "ZeroPadding2D": "zeropad", "Multiply": "multiply", "Add": "add",
    "CombineComplexLayer": "combine", "ReassemblePatchesLayer": "reassemble",
    "PadReconstructionLayer": "pad_reconstruction", "TrimReconstructionLayer": "trim",
}
"""Every Keras class the interpreter runs, with the op kind it becomes; anything else is refused."""

ERA_NOTES = {
    ERA_CURRENT: "era 'current' (PtychoPINN 2026-02-10 on): CombineComplexLayer use_polar → object = A·e^{iφ}",
    ERA_LEGACY: (
        "era 'legacy' (PtychoPINN 2025-07-28 … 2026-02-09): CombineComplexLayer without use_polar → "
        "object = A + iφ (amplitude head as real part, π·tanh head as imaginary part). Current PtychoPINN "
        "mis-evaluates such bundles (gridsize 1: it applies A·e^{iφ}) or refuses them (gridsize > 1); "
        "this app runs them as they were trained"
    ),
}


@dataclass
class _Shape:
    """Symbolic NHWC shape of a graph tensor (batch omitted); complex for the object tensors."""

    h: int
    w: int
    c: int
    complex: bool = False


@dataclass
class _Graph:
    """What the config interpretation found: ops, shapes and the model facts read from them."""

    ops: list[KerasOp]
    conv_shapes: dict[str, tuple[tuple[int, ...], tuple[int, ...] | None]]
    N: int
    C: int
    facts: dict = field(default_factory=dict)


def sniff_tf_bundle(path: Path) -> bool:
    """True when ``path`` is a zip holding TensorFlow PtychoPINN members (``*/model.keras`` or older)."""
    try:
        if not zipfile.is_zipfile(path):
            return False
        with zipfile.ZipFile(path) as archive:
            basenames = {name.rsplit("/", 1)[-1] for name in archive.namelist()}
    except (OSError, zipfile.BadZipFile):
        return False
    return bool(basenames.intersection(TF_MARKERS))


def open_tf_bundle(path: Path, sha256: str):
    """Read, validate and build a TF bundle's ``diffraction_to_obj`` as a ``LoadedModel``."""

    path = Path(path)
    try:
        with zipfile.ZipFile(path) as archive:
            check_zip_members(archive)
            names = set(archive.namelist())
            _refuse_savedmodel(path, names)
            manifest = _manifest(path, archive, names)
            keras_bytes = _member(path, archive, f"{MODEL_ENTRY}/model.keras", MAX_KERAS_BYTES)
            check_nested_zip(keras_bytes, f"{MODEL_ENTRY}/model.keras")
            model_h5 = _optional_member(archive, names, f"{MODEL_ENTRY}/model.h5", MAX_MODEL_H5_BYTES, path)
            params = _params(archive, names)
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise InvalidInputError(path, f"corrupt zip archive ({exc})") from exc
    except UnsafeContentError as exc:
        raise InvalidInputError(path, f"unsafe archive: {exc}") from exc
    try:
        with zipfile.ZipFile(io.BytesIO(keras_bytes)) as keras:
            check_zip_members(keras)
            inner = set(keras.namelist())
            metadata = _keras_metadata(path, keras, inner)
            config = _json_member(path, keras, "config.json", inner, MAX_CONFIG_BYTES)
            weights_bytes = _member(path, keras, "model.weights.h5", MAX_WEIGHTS_BYTES, inner,
                                    where="model.keras")
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise InvalidInputError(path, f"{MODEL_ENTRY}/model.keras is not a readable Keras zip ({exc})") from exc
    except UnsafeContentError as exc:
        raise InvalidInputError(path, f"unsafe {MODEL_ENTRY}/model.keras: {exc}") from exc
    graph = interpret_config(path, config, params)
    scale, scale_source = _intensity_scale(path, model_h5, params)
    weights = read_conv_weights(path, weights_bytes, graph)
    network = TfDiffractionToObj(graph.ops, log_scale_of(scale), graph.N, graph.C)
    network.load_state_dict(weights, strict=True)
    network.eval()
    config_dict, origins, unverified, notes = _describe(graph, metadata, manifest, params, scale, scale_source)
    return LoadedModel(
        path=path, sha256=sha256, format=FORMAT_TF, N=graph.N,
        gridsize=graph.facts["gridsize"], C=graph.C, cnn_config=None, config=config_dict,
        config_source="model.keras config.json + model.weights.h5, model.h5, params.dill (inert read)",
        unverified=unverified, notes=notes, normalization="bridge", training_neighbors=_neighbors(params),
        network=network, family=FAMILY_TF, era=graph.facts["era"], config_sources=origins,
        input_gain=scale, merges_groups=True,
    )


# ---------------------------------------------------------------------------------------------
# Members


def _refuse_savedmodel(path: Path, names: set[str]) -> None:
    keras = f"{MODEL_ENTRY}/model.keras"
    if keras in names:
        return
    basenames = {name.rsplit("/", 1)[-1] for name in names}
    if basenames.intersection(SAVEDMODEL_MARKERS):
        raise UnsupportedModelError(
            path, "TensorFlow SavedModel-era bundle (PtychoPINN ≤ 2025-07-27: saved_model.pb, TF-checkpoint "
                  "variables, Lambda layers) is not supported; only Keras 3 model.keras bundles are")
    raise InvalidInputError(path, f"TensorFlow bundle has no {keras}")


def _member(path: Path, archive: zipfile.ZipFile, name: str, cap: int, names: set[str] | None = None,
            where: str = "bundle") -> bytes:
    if name not in (names if names is not None else set(archive.namelist())):
        raise InvalidInputError(path, f"{where} has no {name}")
    try:
        return read_zip_member(archive, name, cap)
    except UnsafeContentError as exc:
        raise InvalidInputError(path, f"{where}: {exc}") from exc


def _optional_member(archive, names, name, cap, path) -> bytes | None:
    return _member(path, archive, name, cap, names) if name in names else None


def _manifest(path: Path, archive: zipfile.ZipFile, names: set[str]) -> dict:
    if "manifest.dill" not in names:
        return {}
    try:
        manifest = load_plain_pickle(read_zip_member(archive, "manifest.dill", MAX_PICKLE_BYTES))
    except UnsafeContentError as exc:
        raise InvalidInputError(path, f"manifest.dill: {exc}") from exc
    models = manifest.get("models") if isinstance(manifest, dict) else None
    if not isinstance(models, list) or MODEL_ENTRY not in models:
        raise InvalidInputError(path, f"manifest.dill does not list the {MODEL_ENTRY!r} model")
    return manifest


def _params(archive: zipfile.ZipFile, names: set[str]) -> dict:
    """params.dill through the inert reader: scalar metadata only; unreadable → empty (it is optional)."""
    name = f"{MODEL_ENTRY}/params.dill"
    if name not in names:
        return {}
    try:
        params = load_inert_pickle(read_zip_member(archive, name, MAX_PICKLE_BYTES))
    except UnsafeContentError:
        return {}
    return {k: plain_value(v) for k, v in params.items() if isinstance(k, str)} if isinstance(params, dict) else {}


def _json_member(path: Path, archive: zipfile.ZipFile, name: str, names: set[str], cap: int) -> dict:
    data = _member(path, archive, name, cap, names, where="model.keras")
    try:
        value = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInputError(path, f"model.keras {name} is not valid JSON ({exc})") from exc
    if not isinstance(value, dict):
        raise InvalidInputError(path, f"model.keras {name} is not a JSON object")
    return value


def _keras_metadata(path: Path, keras: zipfile.ZipFile, names: set[str]) -> dict:
    """metadata.json, refusing files written by Keras 2 (tf_keras)."""
    if "metadata.json" not in names:
        raise UnsupportedModelError(path, "model.keras has no metadata.json (not a Keras 3 file)")
    metadata = _json_member(path, keras, "metadata.json", names, MAX_METADATA_BYTES)
    version = metadata.get("keras_version")
    major = str(version).split(".")[0]
    if not major.isdigit():
        raise InvalidInputError(path, f"model.keras metadata.json keras_version {version!r} is not a version")
    if int(major) < 3:
        raise UnsupportedModelError(
            path, f"Keras {version} (Keras 2 / tf_keras) model.keras is not supported; only Keras 3 bundles are")
    return metadata


def _intensity_scale(path: Path, model_h5: bytes | None, params: dict) -> tuple[float, str]:
    """The bundle's intensity_scale: model.h5 root attribute, else params.dill; refused if neither."""
    if model_h5 is not None:
        try:
            with h5py.File(io.BytesIO(model_h5), "r") as file:
                audit_hdf5(file)
                if "model_config" in file.attrs or "model_weights" in file:
                    raise UnsupportedModelError(
                        path, "diffraction_to_obj/model.h5 is a Keras 2 HDF5 model (model_config), not supported")
                value = file.attrs.get("intensity_scale")
        except OSError as exc:
            raise InvalidInputError(path, f"diffraction_to_obj/model.h5 is not readable HDF5 ({exc})") from exc
        if value is not None:
            return _positive_scale(path, value, "model.h5 attribute intensity_scale"), "model.h5 attribute"
    value = params.get("intensity_scale")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _positive_scale(path, value, "params.dill intensity_scale"), "params.dill"
    raise InvalidInputError(path, "no intensity_scale (neither a model.h5 attribute nor in params.dill)")


def _positive_scale(path: Path, value, where: str) -> float:
    array = np.asarray(value)
    if array.size != 1 or array.dtype.kind not in "fiu" or not np.isfinite(array).all() or float(array) <= 0:
        raise InvalidInputError(path, f"{where} = {value!r} is not a positive number")
    return float(array.reshape(()))


def _neighbors(params: dict) -> int | None:
    value = params.get("neighbor_count")
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


# ---------------------------------------------------------------------------------------------
# Graph


def interpret_config(path: Path, config: dict, params: dict) -> _Graph:
    """Validate a Functional ``config.json`` op by op into ``KerasOp``s with every tensor shape inferred."""
    if config.get("class_name") != "Functional" or not isinstance(config.get("config"), dict):
        raise UnsupportedModelError(path, f"config.json describes a {config.get('class_name')!r}, not a Functional model")
    body = config["config"]
    layers = body.get("layers")
    if not isinstance(layers, list) or not layers:
        raise InvalidInputError(path, "config.json has no layers")
    for layer in layers:
        _refuse_unknown(path, layer)
    reader = _GraphReader(path, params)
    for layer in layers:
        reader.add(layer)
    return reader.finish(body)


def _refuse_unknown(path: Path, layer) -> None:
    if not isinstance(layer, dict):
        raise InvalidInputError(path, "config.json layer entry is not an object")
    cls, name = layer.get("class_name"), _layer_name(layer)
    if cls == "Lambda":
        raise UnsupportedModelError(
            path, f"Lambda layer {name!r} (arbitrary Python code, never run; SavedModel-era graphs use them)")
    if cls not in _LAYER_KINDS:
        raise UnsupportedModelError(path, f"unknown layer class {cls!r} (layer {name!r}); nothing was run")


def _layer_name(layer: dict) -> str:
    config = layer.get("config") if isinstance(layer.get("config"), dict) else {}
    return str(layer.get("name", config.get("name", "?")))


class _GraphReader:
    """Turns config.json layers into ops, inferring and checking every tensor's shape."""

    def __init__(self, path: Path, params: dict):
        self.path, self.params = path, params
        self.ops: list[KerasOp] = []
        self.weight_bytes = 0
        self.shapes: dict[str, _Shape] = {}
        self.conv_shapes: dict[str, tuple[tuple[int, ...], tuple[int, ...] | None]] = {}
        self.facts: dict = {}
        self.image_input: str | None = None
        self.positions_input: str | None = None

    def fail(self, layer: str, problem: str, unsupported: bool = False):
        error = UnsupportedModelError if unsupported else InvalidInputError
        raise error(self.path, f"config.json layer {layer!r}: {problem}")

    def add(self, layer: dict) -> None:
        cls, name = layer["class_name"], _layer_name(layer)
        config = layer.get("config")
        if not isinstance(config, dict):
            self.fail(name, "has no config")
        if name in self.shapes:
            self.fail(name, "name used twice")
        if cls not in _DTYPE_FREE:
            self._check_dtype(name, config)
        kind = _LAYER_KINDS[cls]
        if kind == "input":
            op, shape = self._input(name, config)
        else:
            inputs, extra = self._inbound(name, layer)
            op, shape = getattr(self, f"_{kind}")(name, config, inputs, extra)
        self.ops.append(op)
        self.shapes[name] = shape

    def _check_dtype(self, name: str, config: dict) -> None:
        dtype = config.get("dtype")
        policy = dtype.get("config", {}).get("name") if isinstance(dtype, dict) else dtype
        if policy not in (None, "float32", "complex64"):
            self.fail(name, f"dtype policy {policy!r} is not supported (float32 only)", unsupported=True)

    def _inbound(self, name: str, layer: dict) -> tuple[list[str], list]:
        nodes = layer.get("inbound_nodes")
        if not isinstance(nodes, list) or len(nodes) != 1 or not isinstance(nodes[0], dict):
            self.fail(name, "must be called exactly once with Keras 3 inbound_nodes (Keras 2 layout?)",
                      unsupported=True)
        node = nodes[0]
        if node.get("kwargs"):
            self.fail(name, f"unexpected call arguments {sorted(node['kwargs'])}", unsupported=True)
        args = node.get("args")
        if not isinstance(args, list):
            self.fail(name, "inbound node has no args")
        tensors, extra = [], []
        for arg in args:
            if isinstance(arg, list) and arg and all(_is_tensor(a) for a in arg):
                tensors.extend(self._tensor(name, a) for a in arg)
            elif _is_tensor(arg):
                tensors.append(self._tensor(name, arg))
            else:
                extra.append(arg)
        return tensors, extra

    def _tensor(self, name: str, ref: dict) -> str:
        history = ref.get("config", {}).get("keras_history")
        if not (isinstance(history, list) and len(history) == 3 and history[1:] == [0, 0]):
            self.fail(name, f"unsupported tensor reference {history!r}", unsupported=True)
        source = history[0]
        if source not in self.shapes:
            self.fail(name, f"uses {source!r} before it is defined")
        return source

    def _arity(self, name: str, inputs: list[str], extra: list, count: int) -> None:
        if len(inputs) != count or extra:
            self.fail(name, f"expects {count} input tensor(s), got {len(inputs)} (+{len(extra)} other arguments)")

    def _real(self, name: str, source: str) -> _Shape:
        shape = self.shapes[source]
        if shape.complex or shape.h < 0:
            self.fail(name, f"input {source!r} is not a real image tensor")
        return shape

    # --- op kinds -----------------------------------------------------------------------------

    def _input(self, name: str, config: dict):
        shape = config.get("batch_shape")
        if not (isinstance(shape, list) and len(shape) == 4 and shape[0] is None
                and all(_is_int(v) and v > 0 for v in shape[1:])):
            self.fail(name, f"input batch_shape {shape!r} is not (None, H, W, C)")
        if config.get("dtype", "float32") != "float32" or config.get("sparse") or config.get("ragged"):
            self.fail(name, "input is not a dense float32 tensor", unsupported=True)
        if shape[1:3] == [1, 2]:
            if self.positions_input is not None:
                self.fail(name, "second positions input")
            self.positions_input = name
            return KerasOp(name, "positions", ()), _Shape(-1, -1, shape[3])
        if self.image_input is not None:
            self.fail(name, "second image input")
        if shape[1] != shape[2] or shape[1] % 4:
            self.fail(name, f"input {shape[1]}×{shape[2]} is not square with N divisible by 4")
        check_ranges(self.path, {"N": shape[1], "C": shape[3]}, TF_BOUNDS, f"config.json layer {name!r}")
        self.image_input = name
        return KerasOp(name, "input", ()), _Shape(shape[1], shape[2], shape[3])

    def _scale(self, name, config, inputs, extra):
        self._arity(name, inputs, extra, 1)
        if inputs[0] != self.image_input:
            self.fail(name, "IntensityScaler must act on the image input")
        return KerasOp(name, "scale", tuple(inputs)), self._real(name, inputs[0])

    def _conv(self, name, config, inputs, extra):
        self._arity(name, inputs, extra, 1)
        src = self._real(name, inputs[0])
        k = config.get("kernel_size")
        expected = {"strides": [1, 1], "padding": "same", "data_format": "channels_last",
                    "dilation_rate": [1, 1], "groups": 1}
        for key, want in expected.items():
            if config.get(key) != want:
                self.fail(name, f"Conv2D {key}={config.get(key)!r} is not supported (only {want!r})", True)
        if not (isinstance(k, list) and len(k) == 2 and k[0] == k[1] and _is_int(k[0]) and k[0] % 2 == 1):
            self.fail(name, f"Conv2D kernel_size {k!r} is not square and odd", unsupported=True)
        filters, activation, bias = config.get("filters"), config.get("activation"), config.get("use_bias")
        if not (_is_int(filters) and filters > 0):
            self.fail(name, f"Conv2D filters {filters!r} is not a positive integer")
        check_ranges(self.path, {"filters": filters, "kernel_size": k[0]}, TF_BOUNDS, f"config.json layer {name!r}")
        self.weight_bytes += 4 * (k[0] * k[0] * src.c + 1) * filters
        if self.weight_bytes > MAX_NETWORK_BYTES:
            self.fail(name, f"the graph's convolutions would need over {MAX_NETWORK_BYTES >> 30} GiB; refused")
        if activation not in ACTIVATIONS:
            self.fail(name, f"Conv2D activation {activation!r} is not supported", unsupported=True)
        if not isinstance(bias, bool):
            self.fail(name, f"Conv2D use_bias {bias!r} is not a bool")
        params = {"kernel_size": k[0], "in_channels": src.c, "filters": filters, "activation": activation,
                  "use_bias": bias, "key": f"conv{len(self.conv_shapes)}"}
        self.conv_shapes[name] = ((k[0], k[0], src.c, filters), (filters,) if bias else None)
        return KerasOp(name, "conv", tuple(inputs), params), _Shape(src.h, src.w, filters)

    def _maxpool(self, name, config, inputs, extra):
        self._arity(name, inputs, extra, 1)
        src = self._real(name, inputs[0])
        if config.get("pool_size") != [2, 2] or config.get("strides") != [2, 2] or \
                config.get("padding") not in ("same", "valid") or config.get("data_format") != "channels_last":
            self.fail(name, "MaxPooling2D other than 2×2, stride 2, channels_last is not supported", True)
        if src.h % 2 or src.w % 2:
            self.fail(name, f"MaxPooling2D on odd size {src.h}×{src.w} is not supported", True)
        return KerasOp(name, "maxpool", tuple(inputs)), _Shape(src.h // 2, src.w // 2, src.c)

    def _upsample(self, name, config, inputs, extra):
        self._arity(name, inputs, extra, 1)
        src = self._real(name, inputs[0])
        size = config.get("size")
        if not (isinstance(size, list) and len(size) == 2 and size[0] == size[1] and _is_int(size[0])
                and 0 < size[0] <= TF_BOUNDS["upsample"][1]) or config.get("interpolation") != "nearest" \
                or config.get("data_format") != "channels_last":
            self.fail(name, f"UpSampling2D size {size!r} / {config.get('interpolation')!r} is not supported", True)
        f = size[0]
        return KerasOp(name, "upsample", tuple(inputs), {"size": f}), _Shape(src.h * f, src.w * f, src.c)

    def _slice(self, name, config, inputs, extra):
        if len(inputs) != 1 or len(extra) != 1:
            self.fail(name, "GetItem must take one tensor and one key")
        src = self._real(name, inputs[0])
        key = extra[0]
        ok = (isinstance(key, list) and len(key) == 2 and isinstance(key[0], dict)
              and key[0].get("class_name") == "__ellipsis__" and isinstance(key[1], dict)
              and key[1].get("class_name") == "__slice__")
        if not ok:
            self.fail(name, f"GetItem key {key!r} is not [..., channel slice]", unsupported=True)
        bounds = key[1].get("config", {})
        start, stop, step = bounds.get("start"), bounds.get("stop"), bounds.get("step")
        if step not in (None, 1) or not all(v is None or _is_int(v) for v in (start, stop)):
            self.fail(name, f"GetItem slice {bounds!r} is not supported", unsupported=True)
        width = len(range(src.c)[slice(start, stop)])
        if width == 0:
            self.fail(name, f"GetItem slice {bounds!r} of {src.c} channels is empty")
        return KerasOp(name, "slice", tuple(inputs), {"start": start, "stop": stop}), _Shape(src.h, src.w, width)

    def _silu(self, name, config, inputs, extra):
        self._arity(name, inputs, extra, 1)
        return KerasOp(name, "silu", tuple(inputs)), self._real(name, inputs[0])

    def _activation(self, name, config, inputs, extra):
        self._arity(name, inputs, extra, 1)
        act, scale = config.get("activation_name"), config.get("scale", 1.0)
        if act not in ACTIVATIONS:
            self.fail(name, f"ActivationLayer activation_name {act!r} is not supported", unsupported=True)
        if not isinstance(scale, (int, float)) or isinstance(scale, bool) or not math.isfinite(scale):
            self.fail(name, f"ActivationLayer scale {scale!r} is not a number")
        self.facts.setdefault("activations", {})[name] = act
        return KerasOp(name, "activation", tuple(inputs), {"activation": act, "scale": float(scale)}), \
            self._real(name, inputs[0])

    def _centermask(self, name, config, inputs, extra):
        self._arity(name, inputs, extra, 1)
        src = self._real(name, inputs[0])
        N, c, kind = config.get("N"), config.get("c", 1), config.get("kind", "center")
        if not (_is_int(N) and N == src.h == src.w and N % 4 == 0 and _is_int(c) and c > 0):
            self.fail(name, f"CenterMaskLayer N={N!r}, c={c!r} does not fit its {src.h}×{src.w} input")
        if kind not in ("center", "border"):
            self.fail(name, f"CenterMaskLayer kind {kind!r} is not supported", unsupported=True)
        return KerasOp(name, "centermask", tuple(inputs), {"N": N, "c": c, "kind": kind}), _Shape(N, N, c)

    def _zeropad(self, name, config, inputs, extra):
        self._arity(name, inputs, extra, 1)
        src = self._real(name, inputs[0])
        pad = config.get("padding")
        if not (isinstance(pad, list) and len(pad) == 2 and all(
                isinstance(p, list) and len(p) == 2 and all(_is_int(v) and v >= 0 for v in p) for p in pad)) \
                or config.get("data_format") != "channels_last":
            self.fail(name, f"ZeroPadding2D padding {pad!r} is not ((t, b), (l, r))", unsupported=True)
        shape = _Shape(src.h + pad[0][0] + pad[0][1], src.w + pad[1][0] + pad[1][1], src.c)
        return KerasOp(name, "zeropad", tuple(inputs), {"padding": pad}), shape

    def _elementwise(self, name, inputs, extra, kind):
        self._arity(name, inputs, extra, 2)
        a, b = (self._real(name, s) for s in inputs)
        if (a.h, a.w) != (b.h, b.w) or (a.c != b.c and 1 not in (a.c, b.c)):
            self.fail(name, f"{kind} of shapes {a.h}×{a.w}×{a.c} and {b.h}×{b.w}×{b.c} does not broadcast")
        return KerasOp(name, kind, tuple(inputs)), _Shape(a.h, a.w, max(a.c, b.c))

    def _multiply(self, name, config, inputs, extra):
        return self._elementwise(name, inputs, extra, "multiply")

    def _add(self, name, config, inputs, extra):
        return self._elementwise(name, inputs, extra, "add")

    def _combine(self, name, config, inputs, extra):
        self._arity(name, inputs, extra, 2)
        amp, phase = (self._real(name, s) for s in inputs)
        if (amp.h, amp.w) != (phase.h, phase.w) or (amp.c != phase.c and amp.c != 1):
            self.fail(name, f"amplitude {amp.c} and phase {phase.c} channels do not combine")
        polar = config.get("use_polar")
        if polar is not None and not isinstance(polar, bool):
            self.fail(name, f"CombineComplexLayer use_polar {polar!r} is not a bool")
        self.facts["combine_rule"] = "A·exp(iφ)" if polar else "A + iφ"
        self.facts["era"] = ERA_LEGACY if polar is None else ERA_CURRENT
        params = {"polar": bool(polar), "is_obj": name == "obj"}
        return KerasOp(name, "combine", tuple(inputs), params), _Shape(amp.h, amp.w, phase.c, complex=True)

    def _reassemble(self, name, config, inputs, extra):
        self._arity(name, inputs, extra, 2)
        obj, positions = (self.shapes[s] for s in inputs)
        if not obj.complex or inputs[1] != self.positions_input:
            self.fail(name, "ReassemblePatchesLayer must take the object and the positions input")
        if positions.c != self.shapes[self.image_input].c:
            self.fail(name, f"positions have {positions.c} channels, the image input {self.shapes[self.image_input].c}")
        if obj.c not in (1, positions.c):
            self.fail(name, f"object has {obj.c} channels for {positions.c} positions")
        padded, N, gridsize = config.get("padded_size"), config.get("N"), config.get("gridsize")
        if padded is None and N is None and gridsize is None:
            self.facts["reassembly_config"] = "absent (legacy era)"
            self.facts["recentre"] = False
        else:
            if not (_is_int(N) and N == obj.h and _is_int(gridsize) and gridsize * gridsize == positions.c
                    and _is_int(padded) and padded >= N):
                self.fail(name, f"ReassemblePatchesLayer padded_size={padded!r}, N={N!r}, gridsize={gridsize!r} "
                                f"does not fit {obj.h}×{obj.w} patches with {positions.c} channels")
            self.facts["padded_size"] = padded
            self.facts["recentre"] = True
        self.facts["object_big"] = True
        params = {"recentre": self.facts["recentre"]}
        return KerasOp(name, "reassemble", tuple(inputs), params), _Shape(obj.h, obj.w, 1, complex=True)

    def _pad_reconstruction(self, name, config, inputs, extra):
        self._arity(name, inputs, extra, 1)
        obj = self.shapes[inputs[0]]
        if not obj.complex or obj.c != 1:
            self.fail(name, "PadReconstructionLayer must take a one-channel object")
        self.facts["object_big"] = False
        return KerasOp(name, "pad_reconstruction", tuple(inputs)), obj

    def _trim(self, name, config, inputs, extra):
        self._arity(name, inputs, extra, 1)
        src = self.shapes[inputs[0]]
        size = config.get("output_size")
        if not src.complex or size != src.h:
            self.fail(name, f"TrimReconstructionLayer output_size {size!r} does not fit its {src.h}×{src.w} input")
        return KerasOp(name, "trim", tuple(inputs)), src

    # --- whole graph --------------------------------------------------------------------------

    def finish(self, body: dict) -> _Graph:
        outputs = body.get("output_layers")
        if not (isinstance(outputs, list) and len(outputs) == 1 and isinstance(outputs[0], list)):
            raise InvalidInputError(self.path, f"config.json output_layers {outputs!r} is not one output")
        out_name = outputs[0][0]
        if self.image_input is None:
            raise InvalidInputError(self.path, "config.json has no image input layer")
        if out_name != self.ops[-1].name:
            raise InvalidInputError(self.path, f"config.json output {out_name!r} is not its last layer")
        out = self.shapes[out_name]
        image = self.shapes[self.image_input]
        if not out.complex or (out.h, out.w, out.c) != (image.h, image.w, 1):
            raise UnsupportedModelError(self.path, f"output {out_name!r} is not an N×N one-channel complex patch")
        combines = [op for op in self.ops if op.kind == "combine"]
        if len(combines) != 1:
            raise UnsupportedModelError(self.path, f"{len(combines)} CombineComplexLayers (expected exactly one)")
        if not combines[0].params["is_obj"]:
            self.ops[self.ops.index(combines[0])] = KerasOp(
                combines[0].name, "combine", combines[0].inputs, {**combines[0].params, "is_obj": True})
        if any(op.kind == "reassemble" for op in self.ops) == any(op.kind == "pad_reconstruction" for op in self.ops):
            raise UnsupportedModelError(
                self.path, "graph needs exactly one of ReassemblePatchesLayer / PadReconstructionLayer")
        self._used_check()
        N, C = image.h, image.c
        gridsize = math.isqrt(C)
        if gridsize * gridsize != C:
            raise InvalidInputError(self.path, f"input has {C} channels, not a square gridsize")
        check_ranges(self.path, {"gridsize": gridsize}, TF_BOUNDS, "config.json")
        facts = {**self.facts, "gridsize": gridsize, "output_name": out_name,
                 "obj_channels": self.shapes[combines[0].name].c}
        return _Graph(self.ops, self.conv_shapes, N, C, facts)

    def _used_check(self) -> None:
        """Every computed tensor feeds the output (a dangling branch means an unexpected graph)."""
        used = {self.ops[-1].name}
        for op in reversed(self.ops):
            if op.name in used:
                used.update(op.inputs)
        unused = [op.name for op in self.ops if op.name not in used and op.kind not in ("positions",)]
        if unused:
            raise UnsupportedModelError(self.path, f"layers {unused[:4]} do not feed the output")


def _is_tensor(value) -> bool:
    return isinstance(value, dict) and value.get("class_name") == _KERAS_TENSOR


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# ---------------------------------------------------------------------------------------------
# Weights


def read_conv_weights(path: Path, weights_bytes: bytes, graph: _Graph) -> dict[str, torch.Tensor]:
    """Conv kernels (HWIO → OIHW) and biases by class order, each shape checked before it is read.

    Keras 3 stores layer k of class Conv2D at ``layers/conv2d[_k]/vars/{0,1}``; the group's ``name``
    attribute must be the config's layer name. Every dataset in the file must be consumed.
    """
    try:
        with h5py.File(io.BytesIO(weights_bytes), "r") as file:
            audit_hdf5(file)
            datasets = _all_datasets(file)
            state: dict[str, torch.Tensor] = {}
            convs = [op for op in graph.ops if op.kind == "conv"]
            plan = []
            for index, op in enumerate(convs):
                group_name = "layers/conv2d" + (f"_{index}" if index else "")
                kernel_shape, bias_shape = graph.conv_shapes[op.name]
                vars_group = file.get(f"{group_name}/vars")
                if not isinstance(vars_group, h5py.Group):
                    raise InvalidInputError(path, f"model.weights.h5 has no {group_name}/vars for layer {op.name!r}")
                stored = vars_group.attrs.get("name")
                stored = stored.decode() if isinstance(stored, bytes) else stored
                if stored != op.name:
                    raise InvalidInputError(
                        path, f"model.weights.h5 {group_name} holds layer {stored!r}, config.json expects {op.name!r}")
                for key, shape in (("0", kernel_shape), ("1", bias_shape)):
                    if shape is None:
                        continue
                    name = f"{group_name}/vars/{key}"
                    dataset = file.get(name)
                    if not isinstance(dataset, h5py.Dataset):
                        raise InvalidInputError(path, f"model.weights.h5 is missing tensor {name} of layer {op.name!r}")
                    if tuple(dataset.shape) != shape or dataset.dtype != np.float32:
                        raise InvalidInputError(
                            path, f"model.weights.h5 tensor {name} of layer {op.name!r} is "
                                  f"{dataset.dtype}{tuple(dataset.shape)}, expected float32{shape}")
                    plan.append((op.params["key"], key, name))
            unused = sorted(set(datasets) - {entry[2] for entry in plan})
            if unused:
                raise InvalidInputError(path, f"model.weights.h5 has unused tensors {unused[:4]}")
            for module, key, name in plan:
                array = np.asarray(file[name][()], dtype=np.float32)
                if not np.isfinite(array).all():
                    raise InvalidInputError(path, f"model.weights.h5 tensor {name} holds NaN or infinite values")
                tensor = torch.from_numpy(array)
                state[f"convs.{module}.{'weight' if key == '0' else 'bias'}"] = (
                    tensor.permute(3, 2, 0, 1).contiguous() if key == "0" else tensor)
    except OSError as exc:
        raise InvalidInputError(path, f"model.keras model.weights.h5 is not readable HDF5 ({exc})") from exc
    return state


def _all_datasets(file: h5py.File) -> list[str]:
    names: list[str] = []
    file.visititems(lambda name, obj: names.append(name) if isinstance(obj, h5py.Dataset) else None)
    return names


# ---------------------------------------------------------------------------------------------
# Description


def _describe(graph: _Graph, metadata: dict, manifest: dict, params: dict, scale: float, scale_source: str):
    """(config, where each field came from, unverified fields, notes) for info and the Summary dock."""
    facts = graph.facts
    activations = facts.get("activations", {})
    convs = [op for op in graph.ops if op.kind == "conv"]
    config = {
        "N": graph.N, "gridsize": facts["gridsize"], "C": graph.C,
        "era": facts["era"], "combine_rule": facts["combine_rule"],
        "amp_activation": activations.get("amp", "?"), "phase_activation": activations.get("phi", "?"),
        "n_filters_scale": _filters_scale(convs[0].params["filters"], graph.N),
        "object_big": facts["object_big"],
        "probe_big": any(op.kind == "centermask" for op in graph.ops),
        "pad_object": any(op.kind == "zeropad" for op in graph.ops),
        "object_channels": facts["obj_channels"],
        "padded_size": facts["padded_size"] if "padded_size" in facts else _legacy_padded(params, graph),
        "intensity_scale": scale,
        "keras_version": metadata.get("keras_version"), "date_saved": metadata.get("date_saved"),
        "bundle_version": manifest.get("version"),
    }
    origins = {key: "config.json" for key in config}
    origins.update(intensity_scale=scale_source, keras_version="metadata.json", date_saved="metadata.json",
                   bundle_version="manifest.dill", C="config.json input shape", N="config.json input shape",
                   gridsize="config.json input shape", era="config.json CombineComplexLayer (use_polar present?)")
    if "padded_size" not in facts:
        origins["padded_size"] = "params.dill N + (gridsize-1)·offset + max_position_jitter (does not change the output)"
    for key in _PARAMS_FIELDS:
        if key in params:
            config[f"params.{key}"] = params[key]
            origins[f"params.{key}"] = "params.dill (inert read, metadata only)"
    unverified = [] if "padded_size" in facts else ["padded_size"]
    notes = [ERA_NOTES[facts["era"]], (
        "input: X_full (bridge normalization, mean Σ X² = (N/2)²) × intensity_scale, "
        "divided again by exp(float32(log intensity_scale)) inside the model (IntensityScaler)")]
    if facts["object_big"] and graph.C > 1:
        notes.append(
            "gridsize > 1: each group's C patches are merged per group (its own offsets) into one patch at the "
            "group centre; PtychoPINN's own TF model collapses every predict batch of ≥ 64 patches (≥ 16 groups "
            "at gridsize 2) into ONE merged patch (its batched-reassembly bug), so its results differ there")
    if facts["object_big"]:
        notes.append(
            "where the translated central masks sum below 0.5, TF's merge divides by (Σmask + 0.001) and inflates "
            "values up to ×1000 (the border outside the central N/2); the app shows and stitches those pixels as 0 "
            "(PtychoPINN stitches only the central 20 px); `ptycho-inspect forward` returns the raw output")
    if facts["era"] == ERA_LEGACY and graph.C > 1:
        notes.append("legacy era: the one-channel amplitude head is broadcast over the C phase channels")
    if params.get("amp_activation") not in (None, config["amp_activation"]):
        notes.append(f"params.dill amp_activation {params['amp_activation']!r} differs from the graph's "
                     f"{config['amp_activation']!r}; the graph is what runs")
    return config, origins, unverified, notes


def _filters_scale(first_filters: int, N: int) -> float | None:
    """n_filters_scale from the first conv's width (32·s at N=64, 16·s at 128, 8·s at 256)."""
    base = {64: 32, 128: 16, 256: 8}.get(N)
    return None if base is None else first_filters / base


def _legacy_padded(params: dict, graph: _Graph) -> int | None:
    parts = [params.get(k) for k in ("offset", "max_position_jitter")]
    if not all(_is_int(v) for v in parts):
        return None
    return graph.N + (graph.facts["gridsize"] - 1) * parts[0] + parts[1]
