"""Where computed patches live: in memory for ordinary scans, in a temporary memory map for huge ones.

Keeping every patch lets a view re-stitch with another mode or crop without running the network again;
spilling to disk past a budget keeps the process's memory bounded on 50,000-pattern scans.
"""

from __future__ import annotations

import mmap
import tempfile

import numpy as np

DEFAULT_MEMORY_BUDGET = 2 << 30


class PatchStore:
    """A (G, C, N, N) complex64 table of patches with a 'filled' flag per group."""

    def __init__(self, n_groups: int, C: int, N: int, memory_budget: int = DEFAULT_MEMORY_BUDGET):
        shape = (n_groups, C, N, N)
        nbytes = int(np.prod(shape)) * np.dtype(np.complex64).itemsize
        self._tempfile = None
        self._map: mmap.mmap | None = None
        if nbytes <= memory_budget:
            self.patches = np.zeros(shape, dtype=np.complex64)
        else:
            self._tempfile = tempfile.NamedTemporaryFile(prefix="ptycho-gui-patches-", suffix=".bin")
            self._tempfile.truncate(nbytes)
            self._map = mmap.mmap(self._tempfile.fileno(), nbytes)
            self.patches = np.ndarray(shape, dtype=np.complex64, buffer=self._map)
        self.filled = np.zeros(n_groups, dtype=bool)

    @property
    def on_disk(self) -> bool:
        """True when the table is a temporary memory-mapped file rather than RAM."""
        return self._tempfile is not None

    def put(self, group_indices: np.ndarray, patches: np.ndarray) -> None:
        """Store one batch's patches at their group rows."""
        self.patches[group_indices] = patches
        self.filled[group_indices] = True
        self._release(np.asarray(group_indices))

    def _release(self, group_indices: np.ndarray) -> None:
        """On disk: drop the pages just written from this process's resident memory (they stay in the file and
        the page cache), so a 50,000-pattern table does not count against the process however much was stored."""
        if self._map is None or group_indices.size == 0:
            return
        row = self.patches[0].nbytes
        start = int(group_indices.min()) * row // mmap.PAGESIZE * mmap.PAGESIZE
        stop = (int(group_indices.max()) + 1) * row
        self._map.madvise(mmap.MADV_DONTNEED, start, stop - start)

    def get(self, group_indices: np.ndarray) -> np.ndarray:
        """Copy of the patches of these groups (they must have been stored)."""
        if not self.filled[group_indices].all():
            raise KeyError("some requested groups have not been computed yet")
        return np.array(self.patches[group_indices])

    def close(self) -> None:
        """Release the temporary file, if any."""
        if self._tempfile is not None:
            self.patches = None
            self._map = None
            self._tempfile.close()
            self._tempfile = None
