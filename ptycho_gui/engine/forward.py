"""The network on exactly given inputs, batch by batch: the parity path behind ``ptycho-inspect forward``.

No grouping, no normalization: ``inputs`` are the amplitudes the caller chose, multiplied by
``input_scale`` (default: the model's own input gain — 1 for torch, the bundle's ``intensity_scale``
for TensorFlow). Outputs: ``patches`` (B, C', N, N) complex64, the per-channel object patches
(torch: ``forward_predict``; TF: the layer named ``obj``), and for group-merging (TF) networks
``output`` (B, 1, N, N) complex64, the model's final output, raw (×1000 border included).
TF32 is switched off (process-wide, as every engine run does), as 1e-4 parity needs (TF contract P2).
"""

from __future__ import annotations

import numpy as np
import torch

from ptycho_gui.engine.device import resolve_device, set_tf32


def forward_arrays(
    model,
    inputs: np.ndarray,
    input_scale: float | np.ndarray | None = None,
    offsets: np.ndarray | None = None,
    device: str = "cpu",
    batch_size: int = 32,
) -> dict[str, np.ndarray]:
    """Run ``model`` (a ``LoadedModel``) on (B, C, N, N) ``inputs``; see the module docstring."""
    inputs = _check_inputs(model, inputs)
    count = inputs.shape[0]
    scales = _scales(model, input_scale, count)
    offsets = _check_offsets(model, offsets, count)
    if batch_size < 1:
        raise ValueError("batch size must be at least 1")
    target = resolve_device(device)
    network = model.network.to(target)
    outputs: dict[str, list[np.ndarray]] = {}
    set_tf32(False)
    with torch.inference_mode():
        for start in range(0, count, batch_size):
            stop = min(start + batch_size, count)
            x = torch.from_numpy(inputs[start:stop]).to(target)
            x = x * torch.from_numpy(scales[start:stop]).to(target)[:, None, None, None]
            off = None if offsets is None else torch.from_numpy(offsets[start:stop]).to(target)
            for key, value in _batch_outputs(model, network, x, off).items():
                outputs.setdefault(key, []).append(value.cpu().numpy().astype(np.complex64))
    return {key: np.concatenate(values) for key, values in outputs.items()}


def _batch_outputs(model, network, x: torch.Tensor, offsets: torch.Tensor | None) -> dict[str, torch.Tensor]:
    if model.merges_groups:
        result = network(x, offsets)
        return {"patches": result.obj, "output": result.output}
    return {"patches": model.predict(x, offsets)}


def _check_inputs(model, inputs) -> np.ndarray:
    inputs = np.asarray(inputs)
    expected = (model.C, model.N, model.N)
    if inputs.ndim != 4 or inputs.shape[1:] != expected or inputs.shape[0] == 0:
        raise ValueError(f"inputs must be (B, {model.C}, {model.N}, {model.N}) for this checkpoint, got {inputs.shape}")
    if inputs.dtype.kind not in "fiu":
        raise ValueError(f"inputs must be real numbers, got dtype {inputs.dtype}")
    inputs = np.ascontiguousarray(inputs, dtype=np.float32)
    if not np.isfinite(inputs).all():
        raise ValueError("inputs contain NaN or infinite values")
    return inputs


def _scales(model, input_scale, count: int) -> np.ndarray:
    """(B,) float32 per-sample input scales from a scalar, a (B,) array, or the model's default."""
    value = np.asarray(model.input_gain if input_scale is None else input_scale, dtype=np.float64)
    if value.ndim == 0:
        value = np.full(count, float(value))
    if value.shape != (count,) or not np.isfinite(value).all() or (value <= 0).any():
        raise ValueError(f"input_scale must be a positive scalar or ({count},) array, got shape {value.shape}")
    return value.astype(np.float32)


def _check_offsets(model, offsets, count: int) -> np.ndarray | None:
    if offsets is None:
        if model.merges_groups and model.C > 1:
            raise ValueError(f"this gridsize-{model.gridsize} TensorFlow model merges each group by its offsets: "
                             "give offsets (B, C, 2)")
        return None
    offsets = np.asarray(offsets)
    if offsets.shape != (count, model.C, 2) or offsets.dtype.kind not in "fiu":
        raise ValueError(f"offsets must be ({count}, {model.C}, 2) numbers, got {offsets.shape} {offsets.dtype}")
    offsets = np.ascontiguousarray(offsets, dtype=np.float32)
    if not np.isfinite(offsets).all():
        raise ValueError("offsets contain NaN or infinite values")
    return offsets
