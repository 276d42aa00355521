"""The inference engine: groups a scan, normalizes it, and runs the network batch by batch.

An ``InferenceRun`` is a plan (groups, positions, input scale, device) plus the means to compute any
batch of it on demand. ``execute`` walks every batch once, stitching and collecting statistics as it
goes; a GUI worker instead calls ``compute_batch`` itself so it can pause, step and cancel.

Keeping the device busy: a loader thread reads and normalizes the next batches while one computes
(``Prefetcher``; into pinned host memory on CUDA); statistics are reduced on the device and only a
small moment array crosses back; ``execute`` stitches on the device when the canvas fits; results
come back through pinned buffers with asynchronous copies, and on CUDA the next batch is queued
before the previous one's copy is waited for (``pipeline_depth``). Out of device memory, a batch is
computed in halves (and later ones too), and the run says so. The same code runs on every device.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace

import numpy as np
import torch

from ptycho_gui.engine.batch_size import (
    DeviceMemoryProbe,
    MemoryProbe,
    auto_batch_limit,
    auto_batch_size,
)
from ptycho_gui.engine.device import (
    copy_done_marker,
    free_memory,
    host_buffer,
    resolve_device,
    set_tf32,
)
from ptycho_gui.engine.device_stitching import (
    DeviceStitcher,
    canvas_bytes,
    device_stitching_supported,
)
from ptycho_gui.engine.grouping import (
    group_neighbors,
    group_positions,
    load_groups_file,
)
from ptycho_gui.engine.normalization import resolve_input_scale
from ptycho_gui.engine.patch_store import PatchStore
from ptycho_gui.engine.precision import (
    PRECISION_SAMPLE_GROUPS,
    check_precision,
    precision_context,
    relative_error,
)
from ptycho_gui.engine.prefetch import Prefetcher
from ptycho_gui.engine.statistics import (
    StatsHistory,
    batch_statistics,
    statistics_from_moments,
    tensor_image_moments,
)
from ptycho_gui.engine.stitching import (
    CanvasTooLargeError,
    Stitcher,
    canvas_side,
    check_canvas_size,
)
from ptycho_gui.errors import IncompatibleInputsError, InvalidInputError
from ptycho_gui.io.checkpoints import LoadedModel
from ptycho_gui.io.datasets import ScanDataset
from ptycho_gui.types import STITCH_MODES, BatchResult, BatchStats, Canvas, RunSettings

DEFAULT_NEIGHBORS = 4
CANVAS_DEVICE_FRACTION = 0.25
"""``execute`` stitches on the device when the canvas accumulators take at most this share of its free memory."""


class InferenceRun:
    """A planned pass of one checkpoint over one dataset, computable batch by batch."""

    def __init__(
        self, model: LoadedModel, dataset: ScanDataset, settings: RunSettings, memory: MemoryProbe | None = None
    ):
        _check_compatible(model, dataset, settings)
        self.model = model
        self.dataset = dataset
        self.settings = settings
        self.device = resolve_device(settings.device)
        check_precision(settings.precision, self.device)
        self.neighbors = settings.neighbors or model.training_neighbors or DEFAULT_NEIGHBORS
        self.groups = self._make_groups()
        self.member_positions = group_positions(self.groups, dataset.xcoords, dataset.ycoords)
        self.positions = output_positions(self.member_positions, model.output_channels)
        self._check_canvas_extent()
        energies = dataset.pattern_energies()[self.groups.ravel()]
        self.input_scale, self.normalization_description = resolve_input_scale(
            settings.normalization, model.normalization, energies, model.N
        )
        self.network_input_scale = self.input_scale * model.input_gain
        if model.input_gain != 1.0:
            self.normalization_description += (
                f"; the network is fed this × its own input gain {model.input_gain:.9g} "
                f"(intensity_scale) = {self.network_input_scale:.6g}"
            )
        self._network_device: torch.device | None = None
        self.notices: list[str] = []
        """Things the user should know about this run (e.g. the batch was halved after running out of memory)."""
        self.on_notice: Callable[[str], None] | None = None
        """Called with each notice as it happens (the CLI prints them)."""
        self.pipeline_depth = 1 if self.device.type == "cuda" else 0
        """Batches queued on the device before the oldest one's results are collected (CUDA runs asynchronously)."""
        self._prefetcher: Prefetcher[torch.Tensor] = Prefetcher(self._load_batch, settings.prefetch)
        if settings.precision != "fp32" and self.device.type == "cpu":
            self._notify(f"{settings.precision} on a CPU is usually much slower than fp32 (it is meant for GPUs)")
        if settings.auto_batch_size:
            self.settings = replace(settings, batch_size=self._auto_batch_size(memory))
        self.chunk_size = self.settings.batch_size
        """Groups per forward pass: the batch size, until running out of memory halves it."""

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
        set_tf32(self.settings.tf32)

    def _network(self) -> torch.nn.Module:
        if self._network_device != self.device:
            self.model.network.to(self.device)
            self._network_device = self.device
        return self.model.network

    def _predict(self, x: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
        """The network's complex patches for scaled inputs ``x`` on the device: the one place the network runs."""
        self._network()
        return self.model.predict(x, offsets)

    def read_inputs(self, group_indices: np.ndarray) -> np.ndarray:
        """The raw (un-normalized) diffraction amplitudes of these groups, float32 (B, C, N, N)."""
        rows = self.groups[group_indices]
        n = self.model.N
        return self.dataset.read_patterns(rows.ravel()).reshape(len(group_indices), self.model.C, n, n)

    def _load_batch(self, index: int) -> torch.Tensor:
        """Batch ``index``'s network input (read and scaled) in a host buffer, pinned when the device is CUDA."""
        raw = self.read_inputs(self.batch_group_indices(index))
        inputs = host_buffer(raw.shape, torch.float32, self.device)
        np.multiply(raw, np.float32(self.network_input_scale), out=inputs.numpy())
        return inputs

    def compute_batch(self, index: int) -> BatchResult:
        """Run the network on batch ``index`` and return its host-side result (the next batch is read ahead)."""
        upcoming = [index + 1] if index + 1 < self.n_batches else []
        with torch.inference_mode():
            inputs = self._prefetcher.get(index, upcoming)
            return self._collect(self._launch(index, inputs))

    def result_from_patches(self, index: int, patches: np.ndarray, seconds: float = float("nan")) -> BatchResult:
        """The BatchResult of batch ``index`` for these patches (computed now, or stored earlier)."""
        return self._result(index, patches, batch_statistics(patches, self.input_scale), seconds)

    def _result(self, index: int, patches: np.ndarray, stats: BatchStats, seconds: float) -> BatchResult:
        group_indices = self.batch_group_indices(index)
        return BatchResult(
            index=index,
            group_indices=group_indices,
            groups=self.groups[group_indices],
            positions=self.positions[group_indices],
            patches=patches,
            stats=stats,
            seconds=seconds,
            input_scale=self.input_scale,
        )

    def _launch(self, index: int, inputs: torch.Tensor) -> _Launched:
        """Queue batch ``index`` on the device: forward pass, statistics moments, fp32 check, copies back."""
        start = time.perf_counter()
        x = inputs.to(self.device, non_blocking=True)
        offsets = torch.from_numpy(self.network_offsets(self.batch_group_indices(index))).to(self.device)
        patches = self._forward(x, offsets)
        moments = tensor_image_moments(patches)
        error = self._precision_error(x, offsets, patches)
        return _Launched(
            index=index,
            start=start,
            device_patches=patches,
            patches=_to_host(patches, self.device),
            moments=_to_host(moments, self.device),
            precision_error=None if error is None else _to_host(error, self.device),
            done=copy_done_marker(self.device),
        )

    def _collect(self, launched: _Launched, stitcher: Stitcher | None = None) -> BatchResult:
        """Wait for a launched batch's copies, stitch it (on the device when the stitcher is there), build its result."""
        if launched.done is not None:
            launched.done.synchronize()
        patches = launched.patches.numpy()
        if stitcher is not None:
            on_device = isinstance(stitcher, DeviceStitcher)
            stitcher.add(self.batch_group_indices(launched.index), launched.device_patches if on_device else patches)
        error = 0.0 if launched.precision_error is None else float(launched.precision_error)
        n = self.model.N
        stats = statistics_from_moments(launched.moments.numpy(), n * n, self.input_scale, error)
        return self._result(launched.index, patches, stats, time.perf_counter() - launched.start)

    def _forward(self, x: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
        """complex64 patches of a batch, in passes of ``chunk_size`` groups, halving it on out-of-memory."""
        while True:
            try:
                with precision_context(self.settings.precision, self.device):
                    parts = [
                        self._predict(x[s : s + self.chunk_size], offsets[s : s + self.chunk_size])
                        for s in range(0, x.shape[0], self.chunk_size)
                    ]
                return (parts[0] if len(parts) == 1 else torch.cat(parts)).to(torch.complex64)
            except torch.OutOfMemoryError:
                if min(self.chunk_size, x.shape[0]) <= 1:
                    raise
            _release_cached_memory(self.device)
            failed = min(self.chunk_size, x.shape[0])
            self.chunk_size = failed // 2
            self._notify(
                f"{self.device} ran out of memory on a forward pass of {failed} groups; "
                f"continuing with {self.chunk_size} groups per pass"
            )

    def _precision_error(self, x: torch.Tensor, offsets: torch.Tensor, patches: torch.Tensor) -> torch.Tensor | None:
        """For reduced precision: relative RMS difference of the first groups from an fp32 recompute."""
        if self.settings.precision == "fp32":
            return None
        sample = min(PRECISION_SAMPLE_GROUPS, x.shape[0])
        reference = self._predict(x[:sample], offsets[:sample]).to(torch.complex64)
        return relative_error(patches[:sample], reference)

    def _notify(self, message: str) -> None:
        self.notices.append(message)
        if self.on_notice is not None:
            self.on_notice(message)

    def _auto_batch_size(self, memory: MemoryProbe | None) -> int:
        """The largest batch that fits free device memory (the configured size where memory cannot be read)."""
        memory = memory or DeviceMemoryProbe(self.device, self._network())
        n, c = self.model.N, self.model.C
        io_bytes = c * n * n * (4 * (self.settings.prefetch + 2) + 8 * (self.pipeline_depth + 2))

        def forward(batch: int) -> None:
            x = torch.zeros((batch, c, n, n), dtype=torch.float32, device=self.device)
            offsets = torch.zeros((batch, c, 2), dtype=torch.float32, device=self.device)
            with torch.inference_mode(), precision_context(self.settings.precision, self.device):
                self._predict(x, offsets)

        reserved = canvas_bytes(self.new_stitcher()) if device_stitching_supported(self.device) else 0
        chosen = auto_batch_size(memory, forward, io_bytes, reserved, auto_batch_limit(self.device, self.n_groups))
        return self.settings.batch_size if chosen is None else chosen


    def network_offsets(self, group_indices: np.ndarray) -> np.ndarray:
        """(B, C, 2) float32 (x, y) offsets the network is fed: group centre − member position.

        This is PtychoPINN's ``coords_relative`` (``local_offset_sign`` = −1); a group-merging network
        moves each channel's content by −offset = +(position − centre).
        """
        members = self.member_positions[group_indices]
        return (members.mean(axis=1, keepdims=True) - members).astype(np.float32)


    def iter_batches(
        self,
        indices: Iterable[int] | None = None,
        should_stop: Callable[[], bool] | None = None,
        stitcher: Stitcher | None = None,
    ) -> Iterator[BatchResult]:
        """Yield batch results in order, checking ``should_stop`` between batches; stitch each into ``stitcher``.

        The next ``settings.prefetch`` batches are read ahead; on CUDA ``pipeline_depth`` batches are queued
        before the oldest is collected (a batch queued when a stop comes is dropped, never half-counted).
        """
        order = list(range(self.n_batches) if indices is None else indices)
        in_flight: deque[_Launched] = deque()
        try:
            for position, index in enumerate(order):
                if should_stop is not None and should_stop():
                    return
                upcoming = order[position + 1 : position + 1 + self._prefetcher.depth]
                inputs = self._prefetcher.get(index, upcoming)
                with torch.inference_mode():
                    in_flight.append(self._launch(index, inputs))
                while len(in_flight) > self.pipeline_depth:
                    yield self._collect_inference(in_flight.popleft(), stitcher)
            while in_flight:
                yield self._collect_inference(in_flight.popleft(), stitcher)
        finally:
            self._prefetcher.close()

    def _collect_inference(self, launched: _Launched, stitcher: Stitcher | None) -> BatchResult:
        """``_collect`` in inference mode (entered per batch, so it never leaks to the caller across a yield)."""
        with torch.inference_mode():
            return self._collect(launched, stitcher)

    def run_stitcher(self) -> Stitcher:
        """The stitcher ``execute`` uses: on the device when it can stitch and the canvas fits, else on the host."""
        host = self.new_stitcher()
        if not device_stitching_supported(self.device):
            return host
        free = free_memory(self.device)
        if free is None or canvas_bytes(host) > CANVAS_DEVICE_FRACTION * free:
            return host
        return DeviceStitcher(host.mode, host.crop, host.N, host.positions, self.device)

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
        stitcher = self.run_stitcher()
        history = StatsHistory(self.n_batches)
        keep = self.settings.keep_patches if keep_patches is None else keep_patches
        store = PatchStore(self.n_groups, self.model.output_channels, self.model.N) if keep else None
        done = 0
        start = time.perf_counter()
        indices = range(self.n_batches) if indices is None else list(indices)
        for result in self.iter_batches(indices, should_stop=should_stop, stitcher=stitcher):
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
class _Launched:
    """A batch queued on the device: its device patches and the host buffers its copies land in."""

    index: int
    start: float
    device_patches: torch.Tensor
    patches: torch.Tensor
    moments: torch.Tensor
    precision_error: torch.Tensor | None
    done: torch.cuda.Event | None
    """Recorded after the copies (CUDA); wait on it before reading the host buffers."""


def _to_host(tensor: torch.Tensor, device: torch.device) -> torch.Tensor:
    """The tensor on the host: itself on CPU, else an asynchronous copy into a (pinned) host buffer."""
    if device.type == "cpu":
        return tensor
    host = host_buffer(tuple(tensor.shape), tensor.dtype, device)
    host.copy_(tensor, non_blocking=True)
    return host


def _release_cached_memory(device: torch.device) -> None:
    """Give the allocator's cached blocks back after an out-of-memory, so the smaller retry can use them."""
    if device.type == "cuda":
        torch.cuda.empty_cache()
    elif device.type == "mps":
        torch.mps.empty_cache()


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


def output_positions(member_positions: np.ndarray, output_channels: int) -> np.ndarray:
    """(G, C', 2) positions of the patches a network returns: its members', or each group's centre when merged."""
    if output_channels == member_positions.shape[1]:
        return member_positions
    if output_channels != 1:
        raise ValueError(f"a network returning {output_channels} patches per {member_positions.shape[1]}-member "
                         "group has no defined positions")
    return member_positions.mean(axis=1, keepdims=True)


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
