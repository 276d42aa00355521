"""The results of one planned run: every computed patch, the statistics history and the stitched canvas.

Qt-free, so the desktop session, scripts and tests share it. ``accept`` keeps each BatchResult as it
arrives (in any order, once); ``batch`` rebuilds a computed batch from the stored patches; ``restitched``
builds a stitcher in another mode or crop from the stored patches (no forward pass), which ``adopt``
then brings up to date with batches that arrived meanwhile. ``plan`` makes a run and its empty results
in one call (the part of opening files that may take seconds, so the GUI runs it as a background job).
"""

from __future__ import annotations

from ptycho_gui.engine.patch_store import PatchStore
from ptycho_gui.engine.run import InferenceRun
from ptycho_gui.engine.statistics import StatsHistory
from ptycho_gui.engine.stitching import Stitcher
from ptycho_gui.io.checkpoints import LoadedModel
from ptycho_gui.io.datasets import ScanDataset
from ptycho_gui.types import BatchResult, Canvas, RunSettings

STORE_MEMORY_BYTES = 256 << 20
"""Patch tables larger than this live in a temporary file, outside the process's resident memory."""


class RunResults:
    """The patch table, statistics history and stitcher of one run, and which batches they hold."""

    def __init__(self, run: InferenceRun, memory_budget: int = STORE_MEMORY_BYTES):
        self.run = run
        self.store = PatchStore(run.n_groups, run.model.output_channels, run.model.N, memory_budget=memory_budget)
        self.history = StatsHistory(run.n_batches)
        self.stitcher = run.new_stitcher(run.settings.stitch, run.settings.crop)
        self.done: set[int] = set()
        """Indices of the batches held."""

    @property
    def finished(self) -> bool:
        """True when every batch of the run is held."""
        return len(self.done) == self.run.n_batches

    def accept(self, result: BatchResult) -> bool:
        """Keep a computed batch; False (nothing changes) when it is held already."""
        if result.index in self.done:
            return False
        self.done.add(result.index)
        self.store.put(result.group_indices, result.patches)
        self.history.record(result.index, result.stats)
        self.stitcher.add(result.group_indices, result.patches)
        return True

    def batch(self, index: int) -> BatchResult:
        """A held batch rebuilt from the stored patches (KeyError when it was not computed)."""
        if index not in self.done:
            raise KeyError(f"batch {index} has not been computed")
        return self.run.result_from_patches(index, self.store.get(self.run.batch_group_indices(index)))

    def canvas(self) -> Canvas | None:
        """The stitched canvas of the batches held (None before the first)."""
        return self.stitcher.canvas() if self.done else None

    def restitched(self, stitcher: Stitcher, batches: list[int]) -> Stitcher:
        """``stitcher`` (fresh, another mode or crop) fed the stored patches of ``batches``, its canvas brought
        up to date; safe to run in another thread while batches keep arriving here."""
        for index in batches:
            group_indices = self.run.batch_group_indices(index)
            stitcher.add(group_indices, self.store.get(group_indices))
        stitcher.canvas()
        return stitcher

    def adopt(self, stitcher: Stitcher, batches: frozenset[int]) -> None:
        """Use ``stitcher`` (holding ``batches``) from now on, adding the batches held since."""
        for index in sorted(self.done - batches):
            group_indices = self.run.batch_group_indices(index)
            stitcher.add(group_indices, self.store.get(group_indices))
        self.stitcher = stitcher

    def close(self) -> None:
        """Release the patch table's temporary file, if any."""
        self.store.close()


def plan(model: LoadedModel, dataset: ScanDataset, settings: RunSettings,
         memory_budget: int = STORE_MEMORY_BYTES) -> tuple[InferenceRun, RunResults]:
    """The run of ``model`` over ``dataset`` with ``settings`` and its empty results."""
    run = InferenceRun(model, dataset, settings)
    return run, RunResults(run, memory_budget)
