"""Write small PtychoPINN TensorFlow bundles (Keras 3 ``model.keras`` in ``wts.h5.zip``) without TensorFlow.

The graph is PtychoPINN's ``diffraction_to_obj`` as ``ptychopinn-tf-contract.md`` §1.2 describes it,
built layer by layer in Keras 3's ``config.json`` schema, with random weights written to
``model.weights.h5`` at ``layers/conv2d[_k]/vars/{0,1}`` (k = class order) and conv layer *names*
deliberately out of that order, as real bundles have them. Tests mutate ``TfBundleParts`` (config,
metadata, weights, members) before ``write`` to build every refusal case.
"""

from __future__ import annotations

import io
import json
import pickle
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

ENCODER = {64: [32, 64, 128], 128: [16, 32, 64, 128], 256: [8, 16, 32, 64, 128]}
DECODER = {64: [64, 32], 128: [128, 64, 32], 256: [256, 128, 64, 32]}


@dataclass
class TfBundleParts:
    """Everything a bundle holds, editable before ``write``."""

    config: dict
    metadata: dict
    weights: dict[str, dict[str, np.ndarray]]
    """Conv layer name → {'0': kernel HWIO, '1': bias}, in the order the h5 groups are numbered."""
    intensity_scale: float | None = 988.2117
    params: dict = field(default_factory=dict)
    members: dict[str, bytes] = field(default_factory=dict)
    """Extra outer-zip members (name → bytes); a None value drops a standard member."""
    group_names: dict[str, str] = field(default_factory=dict)
    """Conv layer name → h5 group name override (default ``layers/conv2d[_k]`` by order)."""

    def layer(self, name: str) -> dict:
        """The config.json entry of layer ``name``."""
        return next(entry for entry in self.config["config"]["layers"] if entry["name"] == name)

    def write(self, path: Path) -> Path:
        """Write ``wts.h5.zip`` at ``path``."""
        keras = io.BytesIO()
        with zipfile.ZipFile(keras, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("metadata.json", json.dumps(self.metadata))
            archive.writestr("config.json", json.dumps(self.config))
            archive.writestr("model.weights.h5", self._weights_h5())
        standard = {
            "manifest.dill": pickle.dumps({"models": ["autoencoder", "diffraction_to_obj"], "version": "1.0"}),
            "diffraction_to_obj/model.keras": keras.getvalue(),
            "diffraction_to_obj/model.h5": self._model_h5(),
            "diffraction_to_obj/params.dill": pickle.dumps(self.params),
            "diffraction_to_obj/custom_objects.dill": pickle.dumps({}),
        }
        standard.update(self.members)
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, data in standard.items():
                if data is not None:
                    archive.writestr(name, data)
        return path

    def _weights_h5(self) -> bytes:
        buffer = io.BytesIO()
        with h5py.File(buffer, "w") as file:
            file.create_group("vars").attrs["name"] = "functional_1"
            for index, (name, arrays) in enumerate(self.weights.items()):
                group_name = self.group_names.get(name, "layers/conv2d" + (f"_{index}" if index else ""))
                group = file.require_group(f"{group_name}/vars")
                group.attrs["name"] = name
                for key, array in arrays.items():
                    group.create_dataset(key, data=array)
        return buffer.getvalue()

    def _model_h5(self) -> bytes:
        buffer = io.BytesIO()
        with h5py.File(buffer, "w") as file:
            if self.intensity_scale is not None:
                file.attrs["intensity_scale"] = np.float64(self.intensity_scale)
        return buffer.getvalue()


class _GraphBuilder:
    """Appends Keras 3 layer entries and remembers each tensor's channel count."""

    def __init__(self, rng: np.random.Generator):
        self.layers: list[dict] = []
        self.channels: dict[str, int] = {}
        self.weights: dict[str, dict[str, np.ndarray]] = {}
        self.rng = rng
        self.counts: dict[str, int] = {}

    def name(self, stem: str) -> str:
        k = self.counts.get(stem, 0)
        self.counts[stem] = k + 1
        return stem if k == 0 else f"{stem}_{k}"

    def add(self, class_name: str, name: str, config: dict, args: list, channels: int, module="keras.layers",
            registered=None) -> str:
        self.layers.append({
            "module": module, "class_name": class_name, "registered_name": registered,
            "config": {"name": name, "trainable": True, "dtype": _dtype("float32"), **config},
            "name": name, "inbound_nodes": [{"args": args, "kwargs": {}}],
        })
        self.channels[name] = channels
        return name

    def tensor(self, name: str) -> dict:
        return {"class_name": "__keras_tensor__", "config": {"shape": [], "dtype": "float32",
                                                              "keras_history": [name, 0, 0]}}

    def conv(self, source: str, filters: int, activation: str) -> str:
        name = self.name("conv")
        cin = self.channels[source]
        self.weights[name] = {
            "0": (self.rng.standard_normal((3, 3, cin, filters)) * np.sqrt(2.0 / (9 * cin))).astype(np.float32),
            "1": (self.rng.standard_normal(filters) * 0.05).astype(np.float32),
        }
        config = {"filters": filters, "kernel_size": [3, 3], "strides": [1, 1], "padding": "same",
                  "data_format": "channels_last", "dilation_rate": [1, 1], "groups": 1,
                  "activation": activation, "use_bias": True}
        return self.add("Conv2D", name, config, [self.tensor(source)], filters)

    def simple(self, class_name: str, stem: str, source: str, config: dict, channels: int | None = None,
               module="keras.layers", registered=None) -> str:
        return self.add(class_name, self.name(stem), config, [self.tensor(source)],
                        self.channels[source] if channels is None else channels, module, registered)

    def getitem(self, source: str, start, stop, channels: int) -> str:
        key = [{"class_name": "__ellipsis__", "config": {}},
               {"class_name": "__slice__", "config": {"start": start, "stop": stop, "step": None}}]
        return self.add("GetItem", self.name("get_item"), {}, [self.tensor(source), key], channels,
                        "keras.src.ops.numpy", "GetItem")

    def binary(self, class_name: str, stem: str, a: str, b: str) -> str:
        return self.add(class_name, self.name(stem), {}, [self.tensor(a), self.tensor(b)],
                        max(self.channels[a], self.channels[b]), "keras.src.ops.numpy", class_name)


def _dtype(name: str) -> dict:
    return {"module": "keras", "class_name": "DTypePolicy", "config": {"name": name}, "registered_name": None}


def build_tf_bundle(N: int = 64, gridsize: int = 1, n_filters_scale: int = 1, amp_activation: str = "sigmoid",
                    object_big: bool = True, probe_big: bool = True, pad_object: bool = True,
                    era: str = "current", seed: int = 0) -> TfBundleParts:
    """PtychoPINN's TF ``diffraction_to_obj`` for these settings, with random weights."""
    rng = np.random.default_rng(seed)
    C = gridsize * gridsize
    cout = C if object_big else 1
    amp_out = 1 if era == "legacy" else cout
    s = n_filters_scale
    g = _GraphBuilder(rng)
    g.layers.append({"module": "keras.layers", "class_name": "InputLayer", "registered_name": None, "name": "input",
                     "config": {"batch_shape": [None, N, N, C], "dtype": "float32", "sparse": False,
                                "ragged": False, "name": "input", "optional": False}, "inbound_nodes": []})
    g.channels["input"] = C
    x = g.add("IntensityScaler", "intensity_scaler", {}, [[g.tensor("input")]], C, "ptycho.model",
              "ptycho>IntensityScaler")
    for width in ENCODER[N]:
        x = g.conv(x, width * s, "relu")
        x = g.conv(x, width * s, "relu")
        x = g.simple("MaxPooling2D", "max_pooling2d", x, {"pool_size": [2, 2], "padding": "same",
                                                          "strides": [2, 2], "data_format": "channels_last"})
    heads = {}
    for head, out_channels, activation, scale in (("amp", amp_out, amp_activation, 1.0),
                                                  ("phi", cout, "tanh", float(np.pi))):
        h = x
        for width in DECODER[N]:
            h = g.conv(h, width * s, "relu")
            h = g.conv(h, width * s, "relu")
            h = _upsample(g, h)
        heads[head] = _head(g, h, N, s, out_channels, activation, scale, probe_big, pad_object, head)
    combine_config = {} if era == "legacy" else {"use_polar": True}
    obj = g.add("CombineComplexLayer", "obj", combine_config, [[g.tensor(heads["amp"]), g.tensor(heads["phi"])]],
                cout, "ptycho.custom_layers", "ptycho>CombineComplexLayer")
    g.layers.append({"module": "keras.layers", "class_name": "InputLayer", "registered_name": None,
                     "name": "input_positions",
                     "config": {"batch_shape": [None, 1, 2, C], "dtype": "float32", "sparse": False,
                                "ragged": False, "name": "input_positions", "optional": False},
                     "inbound_nodes": []})
    g.channels["input_positions"] = C
    padded = N + (gridsize - 1) * 4 + 10
    if object_big:
        config = {} if era == "legacy" else {"padded_size": padded, "N": N, "gridsize": gridsize}
        merged = g.add("ReassemblePatchesLayer", "padded_obj_2", config,
                       [[g.tensor(obj), g.tensor("input_positions")]], 1, "ptycho.custom_layers",
                       "ptycho>ReassemblePatchesLayer")
    else:
        merged = g.simple("PadReconstructionLayer", "padded_obj", obj, {}, 1, "ptycho.custom_layers",
                          "ptycho>PadReconstructionLayer")
    g.simple("TrimReconstructionLayer", "trimmed_obj", merged, {"output_size": N}, 1, "ptycho.custom_layers",
             "ptycho>TrimReconstructionLayer")
    for entry in g.layers:
        if entry["class_name"] in ("CombineComplexLayer", "ReassemblePatchesLayer", "PadReconstructionLayer",
                                   "TrimReconstructionLayer"):
            entry["config"]["dtype"] = _dtype("complex64")
    names = _shuffled_conv_names(g, rng)
    config = {"module": "keras.src.models.functional", "class_name": "Functional", "registered_name": "Functional",
              "config": {"name": "functional_1", "trainable": True, "layers": g.layers,
                         "input_layers": [["input", 0, 0], ["input_positions", 0, 0]],
                         "output_layers": [["trimmed_obj", 0, 0]]}}
    weights = {names[name]: arrays for name, arrays in g.weights.items()}
    params = {"N": N, "gridsize": gridsize, "n_filters_scale": s, "amp_activation": amp_activation,
              "object.big": object_big, "probe.big": probe_big, "pad_object": pad_object, "offset": 4,
              "max_position_jitter": 10, "intensity_scale": 988.2117, "_version": "1.0"}
    return TfBundleParts(config, {"keras_version": "3.15.1", "date_saved": "2026-12-03@06:39:38"}, weights,
                         params=params)


def _upsample(g: _GraphBuilder, source: str) -> str:
    return g.simple("UpSampling2D", "up_sampling2d", source,
                    {"size": [2, 2], "data_format": "channels_last", "interpolation": "nearest"})


def _head(g: _GraphBuilder, h: str, N: int, s: int, out_channels: int, activation: str, scale: float,
          probe_big: bool, pad_object: bool, head: str) -> str:
    """``create_decoder_last``: centre conv + activation + zero padding, plus the masked swish border."""
    border_width = s * 2048 // N
    if not pad_object:
        up = g.conv(g.conv(h, border_width, "relu"), border_width, "relu")
        last = g.conv(_upsample(g, up), out_channels, "linear")
        return _activation(g, last, activation, scale, head)
    centre = g.getitem(h, None, -4, g.channels[h] - 4)
    centre = _activation(g, g.conv(centre, out_channels, "linear"), activation, scale, head)
    padded = g.simple("ZeroPadding2D", f"{head}_padded", centre,
                      {"padding": [[N // 4, N // 4], [N // 4, N // 4]], "data_format": "channels_last"})
    if not probe_big:
        return padded
    border = g.getitem(h, -4, None, 4)
    border = _upsample(g, g.conv(g.conv(border, border_width, "relu"), border_width, "relu"))
    border = g.simple("Silu", "silu", g.conv(border, out_channels, "linear"), {}, module="keras.src.ops.nn",
                      registered="Silu")
    mask = g.simple("CenterMaskLayer", "center_mask_layer", border, {"N": N, "c": 1, "kind": "border"}, 1,
                    "ptycho.tf_helper", "CenterMaskLayer")
    return g.binary("Add", "add", padded, g.binary("Multiply", "multiply", border, mask))


def _activation(g: _GraphBuilder, source: str, activation: str, scale: float, head: str) -> str:
    return g.add("ActivationLayer", head, {"activation_name": activation, "scale": scale}, [g.tensor(source)],
                 g.channels[source], "ptycho.custom_layers", "ptycho>ActivationLayer")


def _shuffled_conv_names(g: _GraphBuilder, rng: np.random.Generator) -> dict[str, str]:
    """Rename conv layers 'conv2d_<k>' with k a permutation, as Keras creation order makes them."""
    convs = [entry for entry in g.layers if entry["class_name"] == "Conv2D"]
    order = rng.permutation(len(convs))
    names = {}
    for entry, k in zip(convs, order):
        new = "conv2d" if k == 0 else f"conv2d_{k}"
        names[entry["name"]] = new
    for entry in g.layers:
        if entry["class_name"] == "Conv2D":
            entry["config"]["name"] = entry["name"] = names[entry["name"]]
        for node in entry["inbound_nodes"]:
            _rename_refs(node["args"], names)
    return names


def _rename_refs(value, names: dict[str, str]) -> None:
    if isinstance(value, list):
        for item in value:
            _rename_refs(item, names)
    elif isinstance(value, dict) and value.get("class_name") == "__keras_tensor__":
        history = value["config"]["keras_history"]
        history[0] = names.get(history[0], history[0])
