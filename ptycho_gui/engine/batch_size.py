"""``--batch-size auto``: the largest batch whose forward pass fits the device's free memory with a margin.

The forward pass is measured, not guessed: its peak memory at one and at two groups gives a fixed
part and a per-group part; to the latter the batch's own input and output buffers are added (the
prefetch queue and the copy in flight hold more of them), and the largest batch that keeps the
total under ``(1 − margin)`` of the free memory is taken. Where memory cannot be read, the
configured batch size stays. The memory query is a parameter, so tests run the same arithmetic
against a fake limit. If the estimate is still too optimistic, the engine's out-of-memory
handling halves the batch and goes on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import torch

AUTO_MARGIN = 0.25
"""Fraction of the free memory left unused (allocator fragmentation, cuDNN workspaces, other processes)."""
AUTO_MAX_BATCH = {"cpu": 64}
"""Upper bound of an automatic batch per device type. On CPU larger batches gain no throughput (measured:
26, 34 and 27 patterns/s at batch 8, 32 and 128, gs2 N = 64, one thread) and make stepping and cancelling slow."""
AUTO_MAX_BATCH_DEFAULT = 4096


class MemoryProbe(Protocol):
    """What ``auto_batch_size`` needs to know about a device."""

    def free_bytes(self) -> int | None:
        """Bytes free on the device now; None where that cannot be told."""

    def forward_peak_bytes(self, forward: Callable[[int], object], batch: int) -> int:
        """Peak memory above what was held before, while ``forward(batch)`` runs."""


class DeviceMemoryProbe:
    """The real probe: CUDA's allocator peak, or elsewhere the largest layer's inputs + outputs (forward hooks)."""

    def __init__(self, device: torch.device, network: torch.nn.Module):
        self.device = device
        self.network = network

    def free_bytes(self) -> int | None:
        from ptycho_gui.engine.device import free_memory

        return free_memory(self.device)

    def forward_peak_bytes(self, forward: Callable[[int], object], batch: int) -> int:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            before = torch.cuda.memory_allocated(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            forward(batch)
            torch.cuda.synchronize(self.device)
            return int(torch.cuda.max_memory_allocated(self.device) - before)
        return self._largest_layer_bytes(forward, batch)

    def _largest_layer_bytes(self, forward: Callable[[int], object], batch: int) -> int:
        """Max over leaf modules of the bytes of their inputs plus outputs, the live set of an inference pass."""
        largest = 0

        def hook(module: torch.nn.Module, inputs: tuple, output: object) -> None:
            nonlocal largest
            largest = max(largest, _tensor_bytes(inputs) + _tensor_bytes(output))

        leaves = [m for m in self.network.modules() if not any(True for _ in m.children())]
        handles = [leaf.register_forward_hook(hook) for leaf in leaves]
        try:
            forward(batch)
        finally:
            for handle in handles:
                handle.remove()
        return largest


def _tensor_bytes(value: object) -> int:
    if isinstance(value, torch.Tensor):
        return value.numel() * value.element_size()
    if isinstance(value, (tuple, list)):
        return sum(_tensor_bytes(v) for v in value)
    return 0


def auto_batch_size(
    memory: MemoryProbe,
    forward: Callable[[int], object],
    io_bytes_per_group: int,
    reserved_bytes: int,
    limit: int,
    margin: float = AUTO_MARGIN,
) -> int | None:
    """The largest batch (1..limit) that fits ``(1 − margin) × free − reserved``; None if free memory is unknown.

    ``io_bytes_per_group``: host/device buffers per group besides the forward pass (inputs, outputs, copies);
    ``reserved_bytes``: memory the run needs whatever the batch (e.g. a canvas stitched on the device).
    """
    free = memory.free_bytes()
    if free is None:
        return None
    one = memory.forward_peak_bytes(forward, 1)
    two = memory.forward_peak_bytes(forward, 2)
    per_group = max(two - one, 1) + io_bytes_per_group
    fixed = max(one - (two - one), 0)
    budget = free * (1.0 - margin) - reserved_bytes - fixed
    return int(min(max(budget // per_group, 1), limit))


def auto_batch_limit(device: torch.device, n_groups: int) -> int:
    """The largest batch ``auto`` may pick on this device for a run of ``n_groups`` groups."""
    return max(1, min(n_groups, AUTO_MAX_BATCH.get(device.type, AUTO_MAX_BATCH_DEFAULT)))
