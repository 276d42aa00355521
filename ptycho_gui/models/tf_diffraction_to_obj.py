"""PtychoPINN's TensorFlow ``diffraction_to_obj`` network, run in torch from its Keras graph.

The graph is a list of ``KerasOp`` already validated by ``ptycho_gui.io.tf_bundle`` (which also
checks every weight shape); this module only executes it, NCHW inside. Semantics follow the TF
contract (``ptychopinn-tf-contract.md`` §1.2, §3):

- ``IntensityScaler`` divides by ``exp(float32(log intensity_scale))``;
- Conv2D 'same' (HWIO kernels given as OIHW), MaxPooling2D 2×2, nearest UpSampling2D, channel
  slices, SiLU, ``ActivationLayer`` (scale · act), ``CenterMaskLayer``, ZeroPadding2D, Add, Multiply;
- ``CombineComplexLayer``: A·e^{iφ} (``use_polar``) or the legacy A + iφ;
- ``ReassemblePatchesLayer``: per group (never PtychoPINN's batch collapse), every channel translated
  by −offset (its content moves to +(position − centre)) with TF's float32 bilinear sampling and
  zero fill, summed, divided by the translated central-N/2 masks summed + 0.001. The padded frame
  of TF does not change the cropped result (samples outside the patch are zero either way), so the
  merge is computed directly in the N×N frame.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

MERGE_EPS = 0.001
"""Added to the summed masks before dividing, as TF ``mk_norm`` does (the ×1000 border)."""

DISPLAY_MIN_COVERAGE = 0.5
"""Merged pixels whose summed translated central masks fall below this are shown as 0: there TF's
division by (Σmask + 0.001) inflates values up to ×1000, and PtychoPINN never stitches them."""

ACTIVATIONS = {
    "relu": torch.relu,
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "swish": F.silu,
    "silu": F.silu,
    "softplus": F.softplus,
    "linear": lambda x: x,
}
"""Activation names (Conv2D ``activation`` and ``ActivationLayer.activation_name``) run exactly."""


@dataclass(frozen=True)
class KerasOp:
    """One validated node of the graph: its kind, the names of its input tensors and its parameters.

    Conv ops carry ``key`` = ``conv<k>`` (k = Conv2D order), their module name: Keras layer names are
    not valid module names in general and are never used to map weights."""

    name: str
    kind: str
    inputs: tuple[str, ...]
    params: dict = field(default_factory=dict)


class TfOutputs(NamedTuple):
    """What one forward pass yields: the ``obj`` layer, the final output and the merge coverage."""

    obj: torch.Tensor
    """(B, C', N, N) complex64: the layer named ``obj`` (per-channel patches)."""
    output: torch.Tensor
    """(B, 1, N, N) complex64: the model's final output (the group's merged patch)."""
    coverage: torch.Tensor | None
    """(B, 1, N, N) float32: Σ of the translated central masks, or None without a merge layer."""


class TfDiffractionToObj(nn.Module):
    """The Keras graph of a TF PtychoPINN bundle as a torch module (weights loaded strictly by the reader)."""

    def __init__(self, ops: list[KerasOp], log_scale: float, N: int, C: int):
        super().__init__()
        self.ops = list(ops)
        self.N, self.C = N, C
        self.register_buffer("log_scale", torch.tensor(log_scale, dtype=torch.float32), persistent=False)
        self.convs = nn.ModuleDict()
        for op in self.ops:
            if op.kind == "conv":
                k = op.params["kernel_size"]
                self.convs[op.params["key"]] = nn.Conv2d(op.params["in_channels"], op.params["filters"], k,
                                                padding=k // 2, bias=op.params["use_bias"])
        self.obj_name = next(op.name for op in self.ops if op.kind == "combine" and op.params["is_obj"])
        self.output_name = self.ops[-1].name

    def forward(self, x_scaled: torch.Tensor, offsets: torch.Tensor | None = None) -> TfOutputs:
        """Run the graph on (B, C, N, N) inputs (already × intensity_scale) and (B, C, 2) (x, y) offsets."""
        tensors: dict[str, torch.Tensor] = {}
        coverage = None
        for op in self.ops:
            args = [tensors[name] for name in op.inputs]
            if op.kind == "input":
                value = x_scaled
            elif op.kind == "positions":
                value = offsets if offsets is not None else x_scaled.new_zeros(x_scaled.shape[0], self.C, 2)
            elif op.kind == "reassemble":
                value, coverage = merge_group(args[0], args[1], op.params["recentre"])
            else:
                value = self._run_op(op, args)
            tensors[op.name] = value
        return TfOutputs(tensors[self.obj_name], tensors[self.output_name], coverage)

    def display_patches(self, x_scaled: torch.Tensor, offsets: torch.Tensor | None) -> torch.Tensor:
        """(B, 1, N, N) merged patches as the app shows them: pixels the translated central masks cover
        less than ``DISPLAY_MIN_COVERAGE`` (TF's inflated ×1000 border, never stitched by PtychoPINN) set to 0."""
        outputs = self(x_scaled, offsets)
        if outputs.coverage is None:
            return outputs.output
        keep = outputs.coverage >= DISPLAY_MIN_COVERAGE
        return torch.where(keep, outputs.output, outputs.output.new_zeros(()))

    def _run_op(self, op: KerasOp, args: list[torch.Tensor]) -> torch.Tensor:
        p = op.params
        if op.kind == "scale":
            return args[0] / torch.exp(self.log_scale)
        if op.kind == "conv":
            return ACTIVATIONS[p["activation"]](self.convs[p["key"]](args[0]))
        if op.kind == "maxpool":
            return F.max_pool2d(args[0], 2)
        if op.kind == "upsample":
            return F.interpolate(args[0], scale_factor=p["size"], mode="nearest")
        if op.kind == "slice":
            return args[0][:, p["start"]:p["stop"]]
        if op.kind == "silu":
            return F.silu(args[0])
        if op.kind == "activation":
            return p["scale"] * ACTIVATIONS[p["activation"]](args[0])
        if op.kind == "centermask":
            return center_mask(args[0], p["N"], p["c"], p["kind"])
        if op.kind == "zeropad":
            (top, bottom), (left, right) = p["padding"]
            return F.pad(args[0], (left, right, top, bottom))
        if op.kind == "add":
            return args[0] + args[1]
        if op.kind == "multiply":
            return args[0] * args[1]
        if op.kind == "combine":
            amp, phase = args
            if p["polar"]:
                return torch.complex(amp * torch.cos(phase), amp * torch.sin(phase))
            amp, phase = torch.broadcast_tensors(amp, phase)
            return torch.complex(amp, phase)
        if op.kind in ("pad_reconstruction", "trim"):
            return args[0]
        raise ValueError(f"unknown op kind {op.kind!r}")


def center_mask(like: torch.Tensor, N: int, c: int, kind: str) -> torch.Tensor:
    """(B, c, N, N) mask: ones on the central N/2 square ('center') or outside it ('border')."""
    mask = like.new_zeros(like.shape[0], c, N, N)
    lo = N // 4
    mask[:, :, lo:lo + N // 2, lo:lo + N // 2] = 1.0
    return mask if kind == "center" else 1.0 - mask


def translate_bilinear(images: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
    """Sample (B, C, H, W) images at (x + dx, y + dy), float32 like TF's projective warp, zero outside.

    ``offsets`` is (B, C, 2) (dx, dy). Corners outside [0, W−1] × [0, H−1] count as 0.
    """
    B, C, H, W = images.shape
    flat = images.reshape(B * C, H * W)
    dx = offsets[..., 0].reshape(B * C, 1).to(torch.float32)
    dy = offsets[..., 1].reshape(B * C, 1).to(torch.float32)
    sx = torch.arange(W, dtype=torch.float32, device=images.device)[None, :] + dx
    sy = torch.arange(H, dtype=torch.float32, device=images.device)[None, :] + dy
    x0, y0 = torch.floor(sx), torch.floor(sy)
    wx1, wy1 = sx - x0, sy - y0
    wx0, wy0 = 1.0 - wx1, 1.0 - wy1
    x0, y0 = x0.long(), y0.long()
    out = images.new_zeros(B * C, H, W)
    for ys, wy in ((y0, wy0), (y0 + 1, wy1)):
        for xs, wx in ((x0, wx0), (x0 + 1, wx1)):
            valid = ((ys >= 0) & (ys < H))[:, :, None] & ((xs >= 0) & (xs < W))[:, None, :]
            index = ys.clamp(0, H - 1)[:, :, None] * W + xs.clamp(0, W - 1)[:, None, :]
            values = torch.gather(flat, 1, index.reshape(B * C, H * W)).reshape(B * C, H, W)
            weight = (wy[:, :, None] * wx[:, None, :]).to(images.dtype)
            out = out + torch.where(valid, weight * values, out.new_zeros(()))
    return out.reshape(B, C, H, W)


def merge_group(obj: torch.Tensor, offsets: torch.Tensor, recentre: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """TF ``ReassemblePatchesLayer`` per group: (B, 1, N, N) merged patch and (B, 1, N, N) mask coverage.

    ``offsets`` are the network's ``input_positions`` (PtychoPINN's ``coords_relative``), (B, C, 2)
    (x, y); each channel is translated by −offset. ``recentre`` removes each group's mean offset
    first (current-era TF centres the offsets; per group here, so batches never interact).
    """
    B, C, N, _ = obj.shape
    offsets = offsets.to(torch.float32)
    if offsets.shape != (B, offsets.shape[1], 2) or offsets.shape[1] not in (1, C):
        raise ValueError(f"offsets must be (B, C, 2) = ({B}, {C}, 2), got {tuple(offsets.shape)}")
    offsets = offsets.expand(B, C, 2)
    if recentre:
        offsets = offsets - offsets.mean(dim=1, keepdim=True)
    real = translate_bilinear(obj.real.contiguous(), offsets).sum(dim=1, keepdim=True)
    imag = translate_bilinear(obj.imag.contiguous(), offsets).sum(dim=1, keepdim=True)
    mask = center_mask(obj.real, N, C, "center")
    coverage = translate_bilinear(mask, offsets).sum(dim=1, keepdim=True)
    denominator = coverage + MERGE_EPS
    return torch.complex(real / denominator, imag / denominator), coverage


def log_scale_of(intensity_scale: float) -> float:
    """float32(log(intensity_scale)), the value TF's ``IntensityScaler`` exponentiates."""
    return float(torch.tensor(math.log(intensity_scale), dtype=torch.float32))
