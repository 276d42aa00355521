"""Configuration values checked against sane ranges and against the weights before any network is built.

A checkpoint's config decides how big a network gets built: ``n_filters_scale = 40`` or
``num_datasets = 1e12`` would allocate gigabytes before a strict load could notice the weights do not
match. ``check_ranges`` bounds each numeric field; ``meta_state_dict`` then builds the network on
torch's ``meta`` device (shapes only, no memory), caps its parameter bytes, and returns the expected
state dict so the caller compares shapes with the file's tensors before building the real network.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from pathlib import Path

import torch

from ptycho_gui.errors import InvalidInputError

CNN_BOUNDS: dict[str, tuple[int, int]] = {
    "N": (2, 1024),
    "C": (1, 64),
    "n_filters_scale": (1, 16),
    "decoder_spatial_kernel": (1, 31),
    "num_datasets": (1, 4096),
}
"""Inclusive ranges of PtychoPINN cnn config fields (real values: N ≤ 256, scale ≤ 4, kernel 7)."""
FNO_BOUNDS: dict[str, tuple[int, int]] = {
    "N": (2, 1024),
    "C": (1, 64),
    "width": (1, 512),
    "modes": (1, 512),
    "blocks": (1, 64),
    "cnn_blocks": (0, 64),
    "num_datasets": (1, 4096),
}
"""Inclusive ranges of FnoConfig fields (fno, fno_vanilla, ffno; PtychoPINN trains width 32, modes 12, 4 blocks)."""
UNO_BOUNDS: dict[str, tuple[int, int]] = {"N": (2, 1024), "C": (1, 64), "num_datasets": (1, 4096)}
"""Inclusive ranges of UnoConfig fields (its architecture is otherwise locked)."""
FAMILY_BOUNDS: dict[str, dict[str, tuple[int, int]]] = {
    "cnn": CNN_BOUNDS, "fno": FNO_BOUNDS, "fno_vanilla": FNO_BOUNDS, "ffno": FNO_BOUNDS, "neuralop_uno": UNO_BOUNDS,
}
"""Network family (``models.NETWORKS`` key) → the bounds its config is checked against before building."""
TF_BOUNDS: dict[str, tuple[int, int]] = {
    "N": (4, 1024), "gridsize": (1, 8), "C": (1, 64), "filters": (1, 4096), "kernel_size": (1, 31), "upsample": (1, 16),
}
"""Inclusive ranges of a TensorFlow bundle's N, gridsize, input channels, and any layer's filters, kernel and
upsampling factor (PtychoPINN: N ≤ 256, gridsize ≤ 2, filters ≤ 512, kernel 3, upsampling 2)."""
MAX_NETWORK_BYTES = 2 << 30
"""Largest network (parameters and buffers) ever built from a checkpoint."""


def check_ranges(path: Path, values: Mapping[str, object], bounds: Mapping[str, tuple[int, int]], where: str) -> None:
    """Refuse any bounded field of ``values`` that is a number outside its inclusive range."""
    for name, (low, high) in bounds.items():
        value = values.get(name)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        if not (math.isfinite(value) and low <= value <= high):
            raise InvalidInputError(path, f"{where} {name}={_short(value)} is outside the sane range {low}..{high}")


def meta_state_dict(path: Path, build: Callable[[], torch.nn.Module],
                    max_bytes: int = MAX_NETWORK_BYTES) -> dict[str, torch.Tensor]:
    """The state dict ``build()`` would produce, built on the meta device (no memory), size-capped."""
    try:
        with torch.device("meta"):
            network = build()
    except (ValueError, RuntimeError, TypeError) as exc:
        raise InvalidInputError(path, f"the configured network cannot be built ({exc})") from exc
    state = network.state_dict()
    size = sum(t.numel() * t.element_size() for t in state.values())
    if size > max_bytes:
        raise InvalidInputError(
            path, f"the configured network would need {size / 2**30:.1f} GiB (cap {max_bytes / 2**30:.0f} GiB); refused"
        )
    return state


def _short(value: object, limit: int = 40) -> str:
    if isinstance(value, int) and value.bit_length() > 128:
        return f"<an integer of {value.bit_length()} bits>"
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
