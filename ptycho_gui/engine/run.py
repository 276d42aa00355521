"""The inference engine: groups a scan, normalizes it, and runs the network batch by batch.

An ``InferenceRun`` is a plan (groups, positions, input scale, device) plus the means to compute any
batch of it on demand. ``execute`` walks every batch once, stitching and collecting statistics as it
goes; a GUI worker instead calls ``compute_batch`` itself so it can pause, step and cancel.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import torch

from ptycho_gui.engine.device import resolve_device
from ptycho_gui.engine.grouping import (
    group_neighbors,
    group_positions,
    load_groups_file,
)
from ptycho_gui.engine.normalization import resolve_input_scale
from ptycho_gui.engine.patch_store import PatchStore
from ptycho_gui.engine.statistics import StatsHistory, batch_statistics
from ptycho_gui.engine.stitching import (
    CanvasTooLargeError,
    Stitcher,
    canvas_side,
    check_canvas_size,
)
from ptycho_gui.errors import IncompatibleInputsError, InvalidInputError
from ptycho_gui.io.checkpoints import LoadedModel
from ptycho_gui.io.datasets import ScanDataset
from ptycho_gui.types import STITCH_MODES, BatchResult, Canvas, RunSettings

DEFAULT_NEIGHBORS = 4


class InferenceRun:
    """A planned pass of one checkpoint over one dataset, computable batch by batch."""

    def __init__(self, model: LoadedModel, dataset: ScanDataset, settings: RunSettings):
        _check_compatible(model, dataset, settings)
        self.model = model
        self.dataset = dataset
        self.settings = settings
        self.device = resolve_device(settings.device)
        self.neighbors = settings.neighbors or model.training_neighbors or DEFAULT_NEIGHBORS
        self.groups = self._make_groups()
        self.positions = group_positions(self.groups, dataset.xcoords, dataset.ycoords)
        self._check_canvas_extent()
        energies = dataset.pattern_energies()[self.groups.ravel()]
        self.input_scale, self.normalization_description = resolve_input_scale(
            settings.normalization, model.normalization, energies, model.N
        )
        self._network_device: torch.device | None = None

    def _make_groups(self) -> np.ndarray:
        if self.settings.groups_file:
            return load_groups_file(self.settings.groups_file, self.dataset.n_patterns, self.model.C)
        return group_neighbors(
            self.dataset.xcoords,
            self.dataset.ycoords,
            self.model.C,
            self.settings.n_groups,
            self.neighbors,
            self.settings.seed,
        )

    def _check_canvas_extent(self) -> None:
        """Refuse, before any allocation, positions that would need an absurd canvas (the dataset is at fault)."""
        side = canvas_side(self.settings.stitch, self.settings.crop, self.model.N, self.positions)
        try:
            check_canvas_size(side)
        except CanvasTooLargeError as exc:
            raise InvalidInputError(self.dataset.path, str(exc)) from exc

    @property
    def n_groups(self) -> int:
        """Number of groups (solution regions) in the plan."""
        return int(self.groups.shape[0])

    @property
    def n_batches(self) -> int:
        """Number of batches of ``settings.batch_size`` groups (the last may be shorter)."""
        return math.ceil(self.n_groups / self.settings.batch_size)

    def batch_group_indices(self, index: int) -> np.ndarray:
        """Indices into the group table of batch ``index``."""
        if not 0 <= index < self.n_batches:
            raise IndexError(f"batch {index} out of range 0..{self.n_batches - 1}")
        start = index * self.settings.batch_size
        return np.arange(start, min(start + self.settings.batch_size, self.n_groups))

    def prepare_thread(self) -> None:
        """Per-thread torch setup; call once in whichever thread computes batches."""
        if self.settings.num_threads:
            torch.set_num_threads(self.settings.num_threads)
        if self.device.type == "cuda":
            torch.cuda.set_device(self.device)

    def _network(self) -> torch.nn.Module:
        if self._network_device != self.device:
            self.model.network.to(self.device)
            self._network_device = self.device
        return self.model.network

    def read_inputs(self, group_indices: np.ndarray) -> np.ndarray:
        """The raw (un-normalized) diffraction amplitudes of these groups, float32 (B, C, N, N)."""
        rows = self.groups[group_indices]
        n = self.model.N
        return self.dataset.read_patterns(rows.ravel()).reshape(len(group_indices), self.model.C, n, n)

    def compute_batch(self, index: int) -> BatchResult:
        """Run the network on batch ``index`` and return its host-side result."""
        inputs = self.read_inputs(self.batch_group_indices(index))
        start = time.perf_counter()
        patches = self._forward(inputs)
        return self.result_from_patches(index, patches, time.perf_counter() - start)

    def result_from_patches(self, index: int, patches: np.ndarray, seconds: float = float("nan")) -> BatchResult:
        """The BatchResult of batch ``index`` for these patches (computed now, or stored earlier)."""
        group_indices = self.batch_group_indices(index)
        return BatchResult(
            index=index,
            group_indices=group_indices,
            groups=self.groups[group_indices],
            positions=self.positions[group_indices],
            patches=patches,
            stats=batch_statistics(patches, self.input_scale),
            seconds=seconds,
            input_scale=self.input_scale,
        )

    def _forward(self, inputs: np.ndarray) -> np.ndarray:
        network = self._network()
        with torch.inference_mode():
            x = torch.from_numpy(inputs)
            if self.device.type == "cuda":
                x = x.pin_memory().to(self.device, non_blocking=True)
            else:
                x = x.to(self.device)
            y = network(x * self.input_scale)
            return y.cpu().numpy()

    def iter_batches(
        self,
        indices: Iterable[int] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> Iterator[BatchResult]:
        """Yield batch results in order, checking ``should_stop`` between batches."""
        for index in range(self.n_batches) if indices is None else indices:
            if should_stop is not None and should_stop():
                return
            yield self.compute_batch(index)

    def new_stitcher(self, stitch: str | None = None, crop: int | None = None) -> Stitcher:
        """A stitcher over this run's positions (the run's settings unless overridden)."""
        return Stitcher(stitch or self.settings.stitch, crop or self.settings.crop, self.model.N, self.positions)

    def execute(
        self,
        on_batch: Callable[[BatchResult], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
        indices: Iterable[int] | None = None,
        keep_patches: bool | None = None,
    ) -> RunOutput:
        """Compute every batch (or those of ``indices``) once, stitching and recording statistics as each finishes.

        ``keep_patches`` overrides ``settings.keep_patches`` for callers that need the patches afterwards.
        """
        self.prepare_thread()
        stitcher = self.new_stitcher()
        history = StatsHistory(self.n_batches)
        keep = self.settings.keep_patches if keep_patches is None else keep_patches
        store = PatchStore(self.n_groups, self.model.C, self.model.N) if keep else None
        done = 0
        start = time.perf_counter()
        indices = range(self.n_batches) if indices is None else list(indices)
        for result in self.iter_batches(indices, should_stop=should_stop):
            stitcher.add(result.group_indices, result.patches)
            history.record(result.index, result.stats)
            if store is not None:
                store.put(result.group_indices, result.patches)
            done += 1
            if on_batch is not None:
                on_batch(result)
        return RunOutput(
            run=self,
            canvas=stitcher.canvas(),
            history=history,
            patches=store,
            n_batches_done=done,
            cancelled=done < len(indices),
            seconds=time.perf_counter() - start,
        )


@dataclass
class RunOutput:
    """What ``InferenceRun.execute`` leaves: the canvas, per-batch statistics and (optionally) patches."""

    run: InferenceRun
    canvas: Canvas
    history: StatsHistory
    patches: PatchStore | None
    n_batches_done: int
    cancelled: bool
    seconds: float


def _check_compatible(model: LoadedModel, dataset: ScanDataset, settings: RunSettings) -> None:
    if dataset.N != model.N:
        raise IncompatibleInputsError(
            f"checkpoint {model.path.name} expects {model.N}×{model.N} patterns but dataset "
            f"{dataset.path.name} holds {dataset.N}×{dataset.N}"
        )
    if dataset.n_patterns < model.C and not settings.groups_file:
        raise IncompatibleInputsError(
            f"dataset {dataset.path.name} has {dataset.n_patterns} patterns; gridsize {model.gridsize} needs "
            f"at least {model.C}"
        )
    if settings.batch_size < 1:
        raise ValueError("batch size must be at least 1")
    if settings.stitch not in STITCH_MODES:
        raise ValueError(f"unknown stitch mode {settings.stitch!r}; choose one of {', '.join(STITCH_MODES)}")
    if not 1 <= settings.crop <= model.N:
        raise ValueError(f"crop {settings.crop} must be between 1 and N = {model.N}")
