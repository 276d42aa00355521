"""``reconstruction.h5``: every patch, group, position, the canvas and per-batch statistics of a run.

Patches are written batch by batch as they are computed, so a 50,000-pattern run never holds them all
in memory. Layout (all object positions are (x, y) pixels, x = column):
``/patches`` complex64 (G, C, N, N), ``/groups`` int64 (G, C), ``/positions`` float64 (G, C, 2),
``/input_scale`` float64, ``/canvas`` complex64 (H, W) [attrs stitch, crop, center_xy],
``/canvas_weight`` float32 (H, W), run-level canvas statistics (coverage fraction included) as JSON in
``/canvas`` attribute ``statistics_json``, ``/stats/<name>`` float64 (n_batches,), root attributes naming the
checkpoint (with its SHA-256), dataset, N, gridsize, device and the app version.
Physics residual (when a probe is known): ``/residual_nmse`` float64 (G, C) per-pattern NMSE under the run
scale [attrs ``scale``, ``scale_fitted``, ``probe_source``] and ``/stats/residual_nmse_mean`` (n_batches,).
Comparison with the dataset's ``objectGuess`` (when present): ``/metrics`` group whose attributes hold the
scalars (``amplitude_scale``, ``phase_rmse_rad``...), attribute ``json`` the whole ``metrics --json`` object,
and datasets ``frc_frequency``, ``frc_curve``, ``frc_half_bit``, ``amplitude_error``, ``phase_error``, ``mask``.
"""

from __future__ import annotations

import errno
import os
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType

import h5py
import numpy as np

from ptycho_gui import __version__
from ptycho_gui.analysis.comparison import Comparison
from ptycho_gui.analysis.residual import ResidualAccumulator
from ptycho_gui.engine.device import device_label
from ptycho_gui.engine.run import InferenceRun, RunOutput
from ptycho_gui.engine.statistics import canvas_statistics, per_batch_means
from ptycho_gui.export.json_text import dumps_finite
from ptycho_gui.types import BatchResult, Canvas


class ReconstructionWriter:
    """Writes one run into an HDF5 file: open, ``write_batch`` per result, then ``finish``."""

    def __init__(self, path: str | Path, run: InferenceRun):
        self._file = h5py.File(path, "w")
        n, c = run.model.N, run.model.output_channels
        self._patches = self._file.create_dataset(
            "patches", shape=(run.n_groups, c, n, n), dtype=np.complex64, chunks=(1, c, n, n)
        )
        self._file.create_dataset("groups", data=run.groups.astype(np.int64))
        self._file.create_dataset("positions", data=run.positions.astype(np.float64))
        self._file.create_dataset("input_scale", data=np.float64(run.input_scale))
        self._file.attrs.update(run_attributes(run))

    def write_batch(self, result: BatchResult) -> None:
        """Store one batch's patches at their group rows (batches are contiguous ranges)."""
        first, last = int(result.group_indices[0]), int(result.group_indices[-1]) + 1
        _h5_write(lambda: self._patches.__setitem__(slice(first, last), result.patches))

    def finish(
        self,
        output: RunOutput,
        residual: ResidualAccumulator | None = None,
        probe_source: str = "",
        comparison: Comparison | None = None,
    ) -> None:
        """Write the canvas, statistics, residual and metrics (when given), then close the file."""
        _h5_write(lambda: self._finish(output, residual, probe_source, comparison))

    def _finish(
        self,
        output: RunOutput,
        residual: ResidualAccumulator | None,
        probe_source: str,
        comparison: Comparison | None,
    ) -> None:
        write_canvas(self._file, output.canvas)
        stats = self._file.create_group("stats")
        for name, values in output.history.as_arrays().items():
            stats.create_dataset(name, data=np.asarray(values, dtype=np.float64))
        if residual is not None:
            nmse = residual.nmse()
            ds = self._file.create_dataset("residual_nmse", data=nmse)
            ds.attrs.update(scale=residual.scale, scale_fitted=True, probe_source=probe_source)
            stats.create_dataset("residual_nmse_mean", data=per_batch_means(nmse, output.run.settings.batch_size))
        if comparison is not None:
            write_metrics(self._file, comparison)
        self._file.attrs["batches_done"] = output.n_batches_done
        self._file.attrs["cancelled"] = output.cancelled
        self._file.close()

    def close(self) -> None:
        """Close without finishing (after a failure); the caller discards the file.

        The dataset handle is released before the file, so no h5py object outlives a file whose last
        write failed (a full disk): deallocating one afterwards crashed the process.
        """
        with _quiet_h5py_release():
            self._patches = None
            if self._file.id.valid:
                try:
                    self._file.close()
                except (OSError, RuntimeError):
                    # The write already failed and the caller deletes this file; HDF5 cannot flush it.
                    return


@contextmanager
def _quiet_h5py_release() -> Iterator[None]:
    """Drop the reports h5py prints when freeing a handle fails (its cached chunks cannot be flushed to a
    full disk): Cython prints that traceback through ``sys.excepthook``, then ``sys.unraisablehook``.

    The write failure itself is reported once by the caller; other exceptions still reach the hooks.
    """
    excepthook, unraisablehook = sys.excepthook, sys.unraisablehook

    def from_h5py(tb: TracebackType | None) -> bool:
        return any("h5py" in frame.filename for frame in traceback.extract_tb(tb)) if tb else False

    def quiet_excepthook(kind, value, tb) -> None:
        if not from_h5py(tb):
            excepthook(kind, value, tb)

    def quiet_unraisablehook(unraisable) -> None:
        if not (from_h5py(unraisable.exc_traceback) or "h5py" in repr(unraisable.object)):
            unraisablehook(unraisable)

    sys.excepthook, sys.unraisablehook = quiet_excepthook, quiet_unraisablehook
    try:
        yield
    finally:
        sys.excepthook, sys.unraisablehook = excepthook, unraisablehook


def _h5_write(action: Callable[[], None]) -> None:
    """Run an h5py write; a failure (full disk) is re-raised as a plain OSError *after* the except block,

    so h5py's own frames (holding dataset handles) are released while the file is still open. A
    handle freed after its file was closed in that state crashed the process (segfault).
    """
    failure: tuple[int, str] | None = None
    try:
        action()
    except (OSError, RuntimeError) as exc:
        code = getattr(exc, "errno", None) or errno.EIO
        failure = (code, os.strerror(code) if getattr(exc, "errno", None) else " ".join(str(exc).split())[:160])
    if failure is not None:
        raise OSError(*failure)


def run_attributes(run: InferenceRun) -> dict[str, object]:
    """Root attributes that say where a result came from and how it was produced."""
    return {
        "checkpoint": str(run.model.path),
        "checkpoint_sha256": run.model.sha256,
        "checkpoint_format": run.model.format,
        "family": run.model.family,
        "dataset": str(run.dataset.path),
        "N": run.model.N,
        "gridsize": run.model.gridsize,
        "model_family": run.model.family,
        "model_era": run.model.era or "",
        "network_input_scale": run.network_input_scale,
        "device": device_label(run.device),
        "ptycho_gui_version": __version__,
        "normalization": run.normalization_description,
        "neighbors": run.neighbors,
        "seed": -1 if run.settings.seed is None else run.settings.seed,
        "batch_size": run.settings.batch_size,
    }


def write_canvas(group: h5py.Group, canvas: Canvas) -> None:
    """``/canvas`` with its frame attributes and ``/canvas_weight``."""
    ds = group.create_dataset("canvas", data=canvas.image.astype(np.complex64))
    ds.attrs["stitch"] = canvas.stitch
    ds.attrs["crop"] = canvas.crop
    ds.attrs["center_xy"] = np.asarray(canvas.center_xy, dtype=np.float64)
    ds.attrs["mirrored"] = canvas.mirrored
    ds.attrs["statistics_json"] = dumps_finite(canvas_statistics(canvas))
    group.create_dataset("canvas_weight", data=canvas.weight.astype(np.float32))


def write_metrics(group: h5py.Group, comparison: Comparison) -> None:
    """``/metrics``: the comparison's scalars as attributes, its JSON, FRC curves and error maps as datasets."""
    metrics = group.create_group("metrics")
    document = comparison.as_dict()
    metrics.attrs["json"] = dumps_finite(document)
    scalars = {"pixels": document["pixels"], "shift_xy": document["shift_xy"],
               "ramp_rad_per_px": document["phase"]["ramp_rad_per_px"],
               "frc_resolution_px": document["frc"]["resolution_px"], "frc_resolution_m": document["frc"]["resolution_m"]}
    scalars.update({f"amplitude_{k}": v for k, v in document["amplitude"].items()})
    scalars.update({f"phase_{k}": v for k, v in document["phase"].items() if k != "ramp_rad_per_px"})
    for name, value in scalars.items():
        metrics.attrs[name] = np.nan if value is None else np.asarray(value, dtype=np.float64)
    metrics.create_dataset("frc_frequency", data=comparison.frc.frequency.astype(np.float64))
    metrics.create_dataset("frc_curve", data=comparison.frc.curve.astype(np.float64))
    metrics.create_dataset("frc_half_bit", data=comparison.frc.half_bit.astype(np.float64))
    metrics.create_dataset("amplitude_error", data=comparison.amplitude_error)
    metrics.create_dataset("phase_error", data=comparison.phase_error)
    metrics.create_dataset("mask", data=comparison.mask)
