"""The session: the one GUI-thread object that owns the loaded files, the run and its results.

Views never compute science and never talk to each other: they read what they show from the session
and listen to its ``sig…`` signals (silx style). The export dialog reads the same state, so an export
reproduces what is on screen. The state a view or an exporter may read:

- ``model`` (LoadedModel), ``dataset`` (ScanDataset), ``settings`` (RunSettings: device, batch size,
  stitch mode, crop, torch threads), ``run`` (the InferenceRun plan: groups, positions, input scale);
- ``state``: one of ``RUN_STATES`` (``app/run_controller.py``); ``run`` and ``state`` are the run controller's (``runner``,
  ``app/run_controller.py``: the plan, the worker, batch requests, run state and progress);
- ``results`` (the Qt-free ``RunResults`` store) and, read through it, ``store`` (PatchStore of every
  computed patch), ``history`` (StatsHistory), ``done`` (batch indices computed), ``stitcher``;
  ``canvas`` (the stitched Canvas, mode ``settings.stitch``, crop ``settings.crop``);
- ``current`` (the BatchResult shown), ``selection`` (PatchSelection or None), ``follow_live``;
- ``patch_display`` / ``canvas_display`` / ``compare_display``: the style objects (``app/view_styles.py``);
- ``patch_mosaic()``, ``canvas_image()``, ``ground_truth_image()``: the exact pictures the views draw
  (``app/pictures.py``; reading them changes nothing), ``drawn_levels(kind)`` their levels.

The session composes the run controller, the results store, the style objects, the picture functions
and the selection, and keeps the batches shown (navigation, the recently-shown cache, the live canvas).
Opening files, planning and re-stitching run as background jobs (``app/jobs.py``); the methods wait for
them with the event loop turning, so their callers keep a synchronous API and the window stays live.
"""
from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal, Slot

from ptycho_gui.app.batch_cache import BatchCache
from ptycho_gui.app.jobs import Job, JobCancelled, JobLane
from ptycho_gui.app.pictures import MosaicImage as MosaicImage
from ptycho_gui.app.pictures import ObjectImage as ObjectImage
from ptycho_gui.app.pictures import canvas_display_xy as canvas_display_xy
from ptycho_gui.app.pictures import canvas_object_xy as canvas_object_xy
from ptycho_gui.app.pictures import canvas_picture, mosaic_picture, truth_picture
from ptycho_gui.app.pictures import canvas_rect as canvas_rect
from ptycho_gui.app.redraw_queue import RedrawQueue
from ptycho_gui.app.run_controller import Progress, RunController, default_num_threads
from ptycho_gui.app.view_styles import CanvasDisplay as CanvasDisplay
from ptycho_gui.app.view_styles import CompareDisplay
from ptycho_gui.app.view_styles import PatchDisplay as PatchDisplay
from ptycho_gui.app.worker import SHUTDOWN_WAIT_MS
from ptycho_gui.engine.patch_store import PatchStore
from ptycho_gui.engine.results import RunResults
from ptycho_gui.engine.run import InferenceRun
from ptycho_gui.engine.statistics import StatsHistory
from ptycho_gui.engine.stitching import STITCH_MODES, Stitcher
from ptycho_gui.io.checkpoints import LoadedModel, open_checkpoint
from ptycho_gui.io.datasets import ScanDataset, open_dataset
from ptycho_gui.render.canvas_picture import CanvasPicture
from ptycho_gui.types import BatchResult, Canvas, RunSettings

CANVAS_REFRESH_MS = 100
"""The live canvas is re-rendered at most this often (stitching itself happens per batch) ..."""
CANVAS_TIME_SHARE = 0.1
"""... and less often when rendering it is slow, so it never takes more than this share of the GUI thread."""


@dataclass(frozen=True)
class PatchSelection:
    """One patch: a group of the run's group table and one of its channels."""

    group: int
    channel: int


class Session(QObject):
    """Owns the files and composes the run controller, the results store, the view styles and the selection."""

    sigFilesChanged = Signal()
    """A checkpoint or dataset was opened."""
    sigResultsCleared = Signal()
    """Every result was dropped (a re-plan began): work on the old results must stop."""
    sigPlanChanged = Signal()
    """A re-plan ended: ``run`` is the new plan (None when the files cannot be planned); emitted once per re-plan."""
    sigRunStateChanged = Signal(str)
    sigBatchComputed = Signal(int)
    """A batch finished computing (statistics and progress changed)."""
    sigBatchChanged = Signal(object)
    """The shown batch changed (a BatchResult, or None)."""
    sigSelectionChanged = Signal(object)
    """PatchSelection or None."""
    sigCanvasChanged = Signal(object)
    """The stitched Canvas (or None) was refreshed."""
    sigDisplayChanged = Signal(str)
    """'patches' or 'canvas': a display setting (quantity, colormap, levels, overlays) changed."""
    sigProgress = Signal(object)
    sigError = Signal(str, str, str)
    """title, message, details: something failed that the user must be told about."""
    sigStatus = Signal(str)
    """A transient status-bar message."""

    def __init__(self, settings: RunSettings | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self.settings = settings or RunSettings(num_threads=default_num_threads())
        self.model: LoadedModel | None = None
        self.dataset: ScanDataset | None = None
        self.results: RunResults | None = None
        """Patches, statistics and stitcher of the planned run (the Qt-free results store)."""
        self.canvas: Canvas | None = None
        self.current: BatchResult | None = None
        self.selection: PatchSelection | None = None
        self.follow_live = True
        self.patch_display = PatchDisplay()
        self.canvas_display = CanvasDisplay()
        self.compare_display = CompareDisplay()
        self.canvas_picture = CanvasPicture()
        """The canvas view's picture, recomputed only in the tiles each refresh changed."""
        self.truth_levels: tuple[float, float] | None = None
        """The ground truth's fixed levels (None: automatic)."""
        self.redraws = RedrawQueue(self)
        """Views queue their redraws here so each is painted in its own event-loop turn."""
        self._cache = BatchCache()
        self._wanted: int | None = None
        self.runner = RunController(lambda: self.done, self)
        """The plan, the worker thread, batch requests, run state and progress."""
        self.runner.sigStateChanged.connect(self._on_state_changed)
        self.runner.sigBatch.connect(self._on_batch)
        self.runner.sigFetched.connect(self._on_fetched)
        self.runner.sigRunComplete.connect(self._on_run_complete)
        self.runner.sigFailed.connect(self._on_failed)
        self._stitch_jobs = JobLane("re-stitching", self)
        self._canvas_timer = QTimer(self)
        self._canvas_timer.setSingleShot(True)
        self._canvas_timer.timeout.connect(self._queue_canvas_refresh)
        self._last_canvas_refresh = 0.0
        self._canvas_cost_ms = 0.0

    # ------------------------------------------------------------------ files and plan
    def load_checkpoint(self, path: str | Path) -> LoadedModel:
        """Replace the checkpoint (raises PtychoGuiError); call ``replan`` once every file is in.

        Reading and hashing run as a background job; the event loop turns meanwhile.
        """
        self.sigStatus.emit(f"opening checkpoint {Path(path).name}…")
        model = Job("opening the checkpoint", open_checkpoint, path).start().outcome()
        self.shutdown()
        self.model = model
        self.sigFilesChanged.emit()
        return model

    def load_dataset(self, path: str | Path) -> ScanDataset:
        """Replace the dataset (raises PtychoGuiError); call ``replan`` once every file is in."""
        self.sigStatus.emit(f"opening dataset {Path(path).name}…")
        dataset = Job("opening the dataset", open_dataset, path).start().outcome()
        self.shutdown()
        if self.dataset is not None:
            self.runner.when_idle(self.dataset.close)
        self.dataset = dataset
        self.sigFilesChanged.emit()
        return dataset

    def set_batch_size(self, batch_size: int) -> None:
        """Change the batch size (re-plans: every result is cleared). Refused while running."""
        self._change_plan_settings(batch_size=int(batch_size))

    def set_device(self, device: str) -> None:
        """Change the compute device (re-plans: every result is cleared). Refused while running."""
        self._change_plan_settings(device=device)

    def set_plan_options(self, **changes: object) -> None:
        """Change how groups are formed and inputs normalized, as the CLI's options do (re-plans).

        Accepts RunSettings fields: ``neighbors`` (None: the checkpoint's K), ``seed``, ``groups_file``
        (None: neighbour grouping), ``normalization`` ('auto', 'bridge', 'mmap' or a number as text),
        ``n_groups``. Refused while running; a setting the files cannot use is undone and raised.
        """
        self._change_plan_settings(**changes)

    def _change_plan_settings(self, **changes: object) -> None:
        if self.state in ("running", "paused"):
            raise RuntimeError("stop the run before changing the run settings")
        new = dataclasses.replace(self.settings, **changes)
        if new == self.settings:
            return
        old = self.settings
        self.settings = new
        try:
            self.replan()
        except ValueError:
            self.settings = old
            self.replan()
            raise

    def replan(self) -> None:
        """Drop every result and plan the run of the loaded files; on an error the session stays 'empty'.

        Grouping, the pattern-energy pass and the allocations run as a background job (the event loop
        turns meanwhile); a newer ``replan`` supersedes this one. ``sigResultsCleared`` fires as the old
        results go, ``sigPlanChanged`` once the outcome is known (a plan, or none after an error; a
        superseded replan leaves it to the newer one). Raises IncompatibleInputsError or ValueError when
        the files or settings cannot be run together.
        """
        self._canvas_timer.stop()
        self.runner.clear()
        self._clear_results()
        self.runner.set_state("empty")
        superseded = False
        try:
            self._plan_loaded_files()
        except JobCancelled:
            superseded = True
        finally:
            if not superseded:
                self.sigPlanChanged.emit()
        if self.run is not None and not superseded:
            self._emit_progress()
            self._refresh_canvas()

    def _plan_loaded_files(self) -> None:
        """Plan the loaded files in a background job (nothing without both); raises JobCancelled when superseded."""
        if self.model is None or self.dataset is None:
            return
        self.sigStatus.emit("planning the run…")
        self.results = self.runner.plan(self.model, self.dataset, self.settings)

    def _clear_results(self) -> None:
        self._stitch_jobs.cancel()
        if self.results is not None:
            self.results.close()
        self.results = None
        self.canvas = None
        self.current = None
        self.selection = None
        self.follow_live = True
        self._cache.clear()
        self._wanted = None
        self.patch_display.levels = None
        self.canvas_display.levels = None
        self.sigResultsCleared.emit()
        self.sigBatchChanged.emit(None)
        self.sigSelectionChanged.emit(None)
        self.sigCanvasChanged.emit(None)

    # ------------------------------------------------------------------ the results store, as views read it
    @property
    def done(self) -> AbstractSet[int]:
        """Indices of the batches computed (read-only: the results store adds to it)."""
        return self.results.done if self.results is not None else frozenset()

    @property
    def store(self) -> PatchStore | None:
        return self.results.store if self.results is not None else None

    @property
    def history(self) -> StatsHistory | None:
        return self.results.history if self.results is not None else None

    @property
    def stitcher(self) -> Stitcher | None:
        return self.results.stitcher if self.results is not None else None

    # ------------------------------------------------------------------ the run, as the run controller drives it
    @property
    def run(self) -> InferenceRun | None:
        """The planned run (None until both files are in and planned)."""
        return self.runner.run

    @property
    def state(self) -> str:
        """One of ``run_controller.RUN_STATES``."""
        return self.runner.state

    @property
    def n_batches(self) -> int:
        return self.runner.n_batches

    def start(self) -> None:
        """Compute every batch not yet computed, following the newest batch in the views."""
        if self.run is not None and self.state != "running" and len(self.done) < self.n_batches:
            self.follow_live = True
        self.runner.start()

    def pause(self) -> None:
        """Stop starting new batches; stepping still works and the run can be resumed."""
        self.runner.pause()

    def resume(self) -> None:
        """Continue a paused run."""
        if self.state == "paused":
            self.start()

    def stop(self) -> None:
        """End the run after the batch in progress; computed results are kept."""
        self.runner.stop()

    def toggle_run(self) -> None:
        """Space-bar behaviour: run when idle, pause when running, resume when paused."""
        if self.state == "running":
            self.pause()
        else:
            self.start()

    def shutdown(self, timeout_ms: int = SHUTDOWN_WAIT_MS) -> bool:
        """Stop the worker thread, waiting at most ``timeout_ms`` (False: it is still finishing its batch
        in the background, results ignored; ``worker_busy`` says when it has ended)."""
        self._canvas_timer.stop()
        return self.runner.shutdown(timeout_ms)

    @property
    def worker_busy(self) -> bool:
        """True while any worker thread, a retired one included, is still running."""
        return self.runner.busy

    @property
    def sigWorkerStopped(self):
        """The run controller's signal that a worker thread has ended."""
        return self.runner.worker.sigStopped

    @Slot(str)
    def _on_state_changed(self, state: str) -> None:
        self.sigRunStateChanged.emit(state)
        self._emit_progress()

    # ------------------------------------------------------------------ navigation and selection
    def go_to(self, index: int) -> None:
        """Show batch ``index``: at once if computed, otherwise compute just that batch."""
        if self.run is None:
            return
        index = int(np.clip(index, 0, self.n_batches - 1))
        self.follow_live = False
        self._wanted = index
        result = self._cached_or_stored(index)
        if result is not None:
            self._show(result)
            return
        self.runner.request(index)
        self.sigStatus.emit(f"computing batch {index} (batches 0–{self.n_batches - 1})…")

    def step(self, delta: int) -> None:
        """Show the batch ``delta`` away from the current one."""
        if self.run is None:
            return
        here = self._wanted if self._wanted is not None else (self.current.index if self.current else -1)
        self.go_to(max(0, here + delta))

    def first(self) -> None:
        self.go_to(0)

    def last(self) -> None:
        self.go_to(self.n_batches - 1)

    def set_follow_live(self, follow: bool) -> None:
        """Show each new batch as it arrives (True) or stay on the batch chosen by the user."""
        self.follow_live = bool(follow)

    def select(self, group: int, channel: int) -> None:
        """Select one patch (group of the run's table, channel); every view highlights it."""
        if self.run is None or not (0 <= group < self.run.n_groups and 0 <= channel < self.run.groups.shape[1]):
            return
        selection = PatchSelection(int(group), int(channel))
        if selection != self.selection:
            self.selection = selection
            self.sigSelectionChanged.emit(selection)

    def select_nearest(self, x: float, y: float) -> None:
        """Select the patch whose scan position is nearest object point (x, y), showing its batch."""
        if self.run is None:
            return
        positions = self.run.positions.reshape(-1, 2)
        flat = int(np.argmin((positions[:, 0] - x) ** 2 + (positions[:, 1] - y) ** 2))
        group, channel = divmod(flat, self.run.groups.shape[1])
        batch = self.batch_of_group(group)
        if self.current is None or self.current.index != batch:
            self.go_to(batch)
        self.select(group, channel)

    def batch_of_group(self, group: int) -> int:
        """Index of the batch holding a group of the run's table."""
        return group // self.settings.batch_size

    def _cached_or_stored(self, index: int) -> BatchResult | None:
        result = self._cache.get(index)
        if result is not None or index not in self.done or self.results is None:
            return result
        result = self.results.batch(index)
        self._cache.put(result)
        return result

    def _show(self, result: BatchResult) -> None:
        self._wanted = None
        self.current = result
        self.sigBatchChanged.emit(result)

    # ------------------------------------------------------------------ results from the worker
    @Slot(object)
    def _on_batch(self, result: BatchResult) -> None:
        if result.index not in self.done:
            self._accept(result)
        if self.follow_live or result.index == self._wanted:
            self._show(result)

    def _accept(self, result: BatchResult) -> None:
        self.results.accept(result)
        self._cache.put(result)
        self.runner.count(result)
        self._schedule_canvas()
        self.sigBatchComputed.emit(result.index)
        self._emit_progress()

    @Slot(object)
    def _on_fetched(self, result: BatchResult) -> None:
        """A batch computed for an export or a preview: kept like any other, but not shown."""
        if result.index not in self.done and self.results is not None:
            self._accept(result)

    def batch_fetcher(self) -> Callable[[int], BatchResult]:
        """A function computing batch ``index`` through the worker (callable from any thread; exports use it)."""
        return self.runner.batch_fetcher()

    @Slot()
    def _on_run_complete(self) -> None:
        self._refresh_canvas()
        self._emit_progress()

    @Slot(str, str)
    def _on_failed(self, message: str, details: str) -> None:
        self.sigError.emit("Inference failed", message, details)

    def progress(self) -> Progress:
        """Batches done, throughput (patterns/s over active run time) and time left (only while running)."""
        return self.runner.progress()

    def _emit_progress(self) -> None:
        self.sigProgress.emit(self.progress())

    def device_status(self) -> str:
        """'device · memory' text for the status bar."""
        return self.runner.device_status(self.settings)

    # ------------------------------------------------------------------ stitching
    def set_stitch(self, stitch: str | None = None, crop: int | None = None) -> None:
        """Change the stitch mode and/or crop and re-stitch from the stored patches (no forward pass)."""
        new = dataclasses.replace(
            self.settings,
            stitch=stitch if stitch is not None else self.settings.stitch,
            crop=int(crop) if crop is not None else self.settings.crop,
        )
        if new == self.settings:
            return
        if new.stitch not in STITCH_MODES:
            raise ValueError(f"unknown stitch mode {new.stitch!r}; expected one of {STITCH_MODES}")
        if self.model is not None and not 1 <= new.crop <= self.model.N:
            raise ValueError(f"crop {new.crop} must be between 1 and N = {self.model.N}")
        results = self.results
        stitcher = self.run.new_stitcher(new.stitch, new.crop) if self.run is not None else None
        self.settings = new
        if results is None or stitcher is None:
            return
        self.sigStatus.emit(f"re-stitching ({new.stitch}, crop {new.crop})…")
        done = frozenset(results.done)
        job = self._stitch_jobs.submit(results.restitched, stitcher, sorted(done))
        try:
            job.outcome()
        except JobCancelled:
            return
        results.adopt(stitcher, done)
        self._refresh_canvas()

    def _schedule_canvas(self) -> None:
        if self._canvas_timer.isActive():
            return
        interval = max(CANVAS_REFRESH_MS, self._canvas_cost_ms / CANVAS_TIME_SHARE)
        since = (time.perf_counter() - self._last_canvas_refresh) * 1000
        self._canvas_timer.start(int(max(0.0, interval - since)))

    @Slot()
    def _queue_canvas_refresh(self) -> None:
        """A live refresh takes its own event-loop turn in the redraw queue, never one shared with a view's redraw."""
        self.redraws.request((self, "canvas"), self._refresh_canvas)

    @Slot()
    def _refresh_canvas(self) -> None:
        self._canvas_timer.stop()
        start = time.perf_counter()
        self.canvas = self.results.canvas() if self.results is not None else None
        self.sigCanvasChanged.emit(self.canvas)
        self._last_canvas_refresh = time.perf_counter()
        self._canvas_cost_ms = (self._last_canvas_refresh - start) * 1000

    # ------------------------------------------------------------------ display state
    def set_patch_quantity(self, quantity: str) -> None:
        if quantity != self.patch_display.quantity:
            self.patch_display.quantity = quantity
            self.patch_display.levels = None
            self.sigDisplayChanged.emit("patches")

    def set_patch_colormap(self, name: str) -> None:
        if name != self.patch_display.colormap:
            self.patch_display.colormaps[self.patch_display.quantity] = name
            self.sigDisplayChanged.emit("patches")

    def set_patch_levels_mode(self, mode: str) -> None:
        """'auto per batch', 'locked' (freezes the levels in use now) or 'per patch'."""
        display = self.patch_display
        if mode != display.levels_mode:
            if display.levels_mode == "per patch":
                display.levels = None
            elif mode == "locked" and display.levels_mode == "auto per batch":
                display.levels = self.drawn_levels("patches")
            display.levels_mode = mode
            self.sigDisplayChanged.emit("patches")

    def set_patch_levels(self, levels: tuple[float, float]) -> None:
        """Levels chosen by hand: they are locked across batches."""
        self.patch_display.levels = (float(levels[0]), float(levels[1]))
        self.patch_display.levels_mode = "locked"
        self.sigDisplayChanged.emit("patches")

    def set_show_labels(self, show: bool) -> None:
        if bool(show) != self.patch_display.show_labels:
            self.patch_display.show_labels = bool(show)
            self.sigDisplayChanged.emit("patches")

    def set_canvas_quantity(self, quantity: str) -> None:
        if quantity != self.canvas_display.quantity:
            self.canvas_display.quantity = quantity
            self._canvas_levels_to_auto()

    def set_canvas_phase_view(self, how: str) -> None:
        """Draw the canvas and ground-truth phase raw (±π) or with the global offset removed (auto levels)."""
        if how != self.canvas_display.phase_view:
            self.canvas_display.phase_view = how
            self._canvas_levels_to_auto()

    def _canvas_levels_to_auto(self) -> None:
        """Canvas and ground truth back to automatic levels (a new quantity or phase view has other numbers)."""
        self.canvas_display.levels = None
        self.canvas_display.levels_mode = "auto"
        self.truth_levels = None
        self.sigDisplayChanged.emit("canvas")

    def set_canvas_colormap(self, name: str) -> None:
        if name != self.canvas_display.colormap:
            self.canvas_display.colormaps[self.canvas_display.quantity] = name
            self.sigDisplayChanged.emit("canvas")

    def set_canvas_levels(self, levels: tuple[float, float] | None) -> None:
        """Lock the canvas levels (None returns to automatic levels)."""
        self.canvas_display.levels = None if levels is None else (float(levels[0]), float(levels[1]))
        self.canvas_display.levels_mode = "auto" if levels is None else "locked"
        self.sigDisplayChanged.emit("canvas")

    def set_truth_levels(self, levels: tuple[float, float] | None) -> None:
        """Fix the ground truth's levels (None returns to automatic levels)."""
        self.truth_levels = None if levels is None else (float(levels[0]), float(levels[1]))
        self.sigDisplayChanged.emit("canvas")

    def set_canvas_overlay(self, name: str, show: bool) -> None:
        """Toggle 'show_all_positions', 'show_batch_positions' or 'show_selection'."""
        if name not in ("show_all_positions", "show_batch_positions", "show_selection"):
            raise ValueError(f"unknown overlay {name!r}")
        setattr(self.canvas_display, name, bool(show))
        self.sigDisplayChanged.emit("canvas")

    # ------------------------------------------------------------------ pictures for views and export
    def batch_inputs(self, result: BatchResult) -> np.ndarray:
        """Raw diffraction amplitudes fed to the network for this batch, (B, C, N, N) float32."""
        inputs = self._cache.inputs(result.index)
        if inputs is None:
            inputs = self.run.read_inputs(result.group_indices)
            self._cache.put_inputs(result.index, inputs)
        return inputs

    def patch_mosaic(self) -> MosaicImage | None:
        """The current batch as the patch grid draws it."""
        batch = self.current
        if batch is None or self.run is None:
            return None
        raw = self.batch_inputs(batch) if self.patch_display.quantity == "input (log)" else batch.patches
        return mosaic_picture(batch, raw, self.patch_display)

    def canvas_image(self) -> ObjectImage | None:
        """The stitched canvas as the canvas view draws it.

        Its image may be the session's live canvas picture, updated in place by the next call: copy it to keep it.
        """
        return canvas_picture(self.canvas, self.canvas_display, self.canvas_picture) if self.canvas is not None else None

    def ground_truth_image(self) -> ObjectImage | None:
        """The dataset's objectGuess in the canvas quantity (weight shows amplitude), or None."""
        if self.dataset is None or self.dataset.object_guess is None:
            return None
        return truth_picture(self.dataset.object_guess, self.canvas_display, self.truth_levels)

    def drawn_levels(self, kind: str) -> tuple[float, float] | None:
        """The levels the patch grid ('patches') or the canvas ('canvas') draws with now; with nothing shown yet,
        the locked range (None: automatic)."""
        picture = self.patch_mosaic() if kind == "patches" else self.canvas_image()
        if picture is not None:
            return picture.levels
        return (self.patch_display if kind == "patches" else self.canvas_display).locked_levels

