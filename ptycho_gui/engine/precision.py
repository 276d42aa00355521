"""Forward-pass precision: fp32, or autocast to bfloat16/float16, and the measured error of the latter.

Reduced precision runs the network under ``torch.autocast`` (convolutions and matmuls in 16 bits,
reductions and the output in float32). Its cost in accuracy is measured, not assumed: each batch
recomputes a small sample of its groups in fp32 and reports the relative RMS difference.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

from ptycho_gui.types import PRECISIONS

AUTOCAST_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}
PRECISION_SAMPLE_GROUPS = 2
"""Groups of each batch recomputed in fp32 to measure a reduced-precision run's error."""


def check_precision(precision: str, device: torch.device) -> None:
    """Raise ValueError unless ``precision`` is known and autocast to it is available on ``device``."""
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
    if precision != "fp32" and not torch.amp.is_autocast_available(device.type):
        raise ValueError(f"precision {precision} needs autocast, which torch does not offer on {device.type}")


@contextlib.contextmanager
def precision_context(precision: str, device: torch.device) -> Iterator[None]:
    """Run the enclosed forward passes at ``precision`` (fp32: unchanged)."""
    if precision == "fp32":
        yield
        return
    with torch.autocast(device_type=device.type, dtype=AUTOCAST_DTYPES[precision]):
        yield


def relative_error(values: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """‖values − reference‖ / ‖reference‖ over all elements, as a 0-d tensor on their device (NaN if ‖reference‖ = 0)."""
    return torch.linalg.vector_norm(values - reference) / torch.linalg.vector_norm(reference)
