"""The recently-shown batches: an LRU of BatchResults bounded in bytes, and the raw inputs of the last few."""
from __future__ import annotations

from collections import OrderedDict

import numpy as np

from ptycho_gui.types import BatchResult

CACHE_BYTES = 128 << 20
"""Budget of the recently-shown batch cache (every patch is also in the PatchStore)."""
INPUT_BATCHES_CACHED = 4


class BatchCache:
    """An LRU of recently shown BatchResults bounded in bytes (always keeping the newest), and raw inputs."""

    def __init__(self, budget_bytes: int = CACHE_BYTES):
        self._budget = budget_bytes
        self._results: OrderedDict[int, BatchResult] = OrderedDict()
        self._inputs: OrderedDict[int, np.ndarray] = OrderedDict()

    def get(self, index: int) -> BatchResult | None:
        result = self._results.get(index)
        if result is not None:
            self._results.move_to_end(index)
        return result

    def put(self, result: BatchResult) -> None:
        self._results[result.index] = result
        self._results.move_to_end(result.index)
        while len(self._results) > 1 and sum(r.patches.nbytes for r in self._results.values()) > self._budget:
            self._results.popitem(last=False)

    def inputs(self, index: int) -> np.ndarray | None:
        return self._inputs.get(index)

    def put_inputs(self, index: int, inputs: np.ndarray) -> None:
        self._inputs[index] = inputs
        while len(self._inputs) > INPUT_BATCHES_CACHED:
            self._inputs.popitem(last=False)

    def clear(self) -> None:
        self._results.clear()
        self._inputs.clear()
