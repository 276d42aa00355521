"""Data exports: the arrays behind a selection (complex patches, groups, positions, canvas, weights,
statistics) and the settings that produced them, as NPZ or HDF5, written atomically.

Both formats hold the same named arrays; HDF5 nests names with '/' as groups and gives ``/canvas``
the frame attributes of ``reconstruction.h5``. The settings (run settings, provenance, export options,
canvas frame) are one JSON document: NPZ member ``settings`` (a 0-d string array, readable without
pickle) and HDF5 root attribute ``settings``.

Diffraction exports (``write_diffraction_npz``) hold one batch's predicted and measured amplitudes in the
units compared (the network's normalized input; predicted × the fitted scale) and the per-pattern NMSE.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import h5py
import numpy as np

from ptycho_gui.analysis.residual import DiffractionResidual
from ptycho_gui.errors import InvalidInputError
from ptycho_gui.export.atomic import atomic_path
from ptycho_gui.export.reconstruction import write_canvas
from ptycho_gui.io.hdf5_audit import audit_hdf5, check_readable_array
from ptycho_gui.render.annotations import Provenance
from ptycho_gui.types import BatchResult, Canvas, RunSettings

DATA_FORMATS: tuple[str, ...] = ("npz", "h5")
SETTINGS_KEY = "settings"
PER_PATCH_FIELDS: tuple[str, ...] = ("mean", "std", "min", "max")


@dataclass
class DataSelection:
    """What a data export holds: chosen batches, and the canvas and per-batch statistics when known."""

    results: list[BatchResult]
    settings: RunSettings
    provenance: Provenance
    canvas: Canvas | None = None
    stats: dict[str, np.ndarray] | None = None
    """One (n_batches,) array per scalar statistic, NaN for batches not computed."""
    options: dict = field(default_factory=dict)
    """Export options that shaped the files written alongside (quantity, colormap, levels...)."""


def selection_arrays(selection: DataSelection) -> dict[str, np.ndarray]:
    """Every array of a data export by name ('stats/global_mean', 'per_patch/mean', ...)."""
    results = selection.results
    arrays: dict[str, np.ndarray] = {}
    if results:
        arrays["patches"] = np.concatenate([r.patches for r in results]).astype(np.complex64)
        arrays["group_indices"] = np.concatenate([r.group_indices for r in results]).astype(np.int64)
        arrays["groups"] = np.concatenate([r.groups for r in results]).astype(np.int64)
        arrays["positions"] = np.concatenate([r.positions for r in results]).astype(np.float64)
        arrays["batch_of_group"] = np.concatenate(
            [np.full(len(r.group_indices), r.index, dtype=np.int64) for r in results]
        )
        arrays["batches"] = np.array([r.index for r in results], dtype=np.int64)
        arrays["input_scale"] = np.float64(results[0].input_scale)
        for name in PER_PATCH_FIELDS:
            arrays[f"per_patch/{name}"] = np.concatenate(
                [np.asarray(getattr(r.stats, f"per_patch_{name}"), dtype=np.float64) for r in results]
            )
    if selection.canvas is not None:
        arrays["canvas"] = selection.canvas.image.astype(np.complex64)
        arrays["canvas_weight"] = selection.canvas.weight.astype(np.float32)
    for name, values in (selection.stats or {}).items():
        arrays[f"stats/{name}"] = np.asarray(values, dtype=np.float64)
    if not arrays:
        raise ValueError("nothing to export: no batch, no canvas, no statistics")
    return arrays


def selection_settings(selection: DataSelection) -> dict:
    """The JSON document of settings stored with the arrays."""
    canvas = selection.canvas
    frame = None
    if canvas is not None:
        frame = {"center_xy": [float(v) for v in canvas.center_xy], "stitch": canvas.stitch,
                 "crop": int(canvas.crop), "mirrored": bool(canvas.mirrored)}
    return {
        "run": asdict(selection.settings),
        "provenance": asdict(selection.provenance),
        "export": dict(selection.options),
        "canvas": frame,
    }


def write_npz(selection: DataSelection, destination: str | Path, overwrite: bool = False) -> Path:
    """The selection as an uncompressed NPZ (no pickled members)."""
    arrays = selection_arrays(selection)
    arrays[SETTINGS_KEY] = np.array(json.dumps(selection_settings(selection)))
    with atomic_path(destination, overwrite) as tmp:
        with open(tmp, "wb") as handle:
            np.savez(handle, **arrays)
    return Path(destination)


def write_hdf5(selection: DataSelection, destination: str | Path, overwrite: bool = False) -> Path:
    """The selection as HDF5 (reconstruction.h5 layout for the shared parts)."""
    arrays = selection_arrays(selection)
    settings = selection_settings(selection)
    with atomic_path(destination, overwrite) as tmp, h5py.File(tmp, "w") as file:
        for name, values in arrays.items():
            if name not in ("canvas", "canvas_weight"):
                file.create_dataset(name, data=values)
        if selection.canvas is not None:
            write_canvas(file, selection.canvas)
        file.attrs[SETTINGS_KEY] = json.dumps(settings)
        file.attrs.update({k: v for k, v in settings["provenance"].items() if v is not None})
    return Path(destination)


def write_data(selection: DataSelection, destination: str | Path, fmt: str, overwrite: bool = False) -> Path:
    """Write the selection as 'npz' or 'h5'."""
    if fmt == "npz":
        return write_npz(selection, destination, overwrite)
    if fmt == "h5":
        return write_hdf5(selection, destination, overwrite)
    raise ValueError(f"unknown data format {fmt!r}; choose one of {', '.join(DATA_FORMATS)}")


def write_diffraction_npz(residual: DiffractionResidual, result: BatchResult, destination: str | Path,
                          overwrite: bool = False) -> Path:
    """One batch's ``predicted``, ``measured`` float32 (B, C, N, N), ``residual_nmse`` (B, C) and their scale, as NPZ."""
    arrays = {
        "predicted": residual.predicted.astype(np.float32),
        "measured": residual.measured.astype(np.float32),
        "residual_nmse": residual.nmse.astype(np.float64),
        "group_indices": result.group_indices.astype(np.int64),
        "groups": result.groups.astype(np.int64),
        "positions": result.positions.astype(np.float64),
        "scale": np.float64(residual.scale),
        "scale_fitted": np.bool_(residual.scale_fitted),
    }
    with atomic_path(destination, overwrite) as tmp:
        with open(tmp, "wb") as handle:
            np.savez(handle, **arrays)
    return Path(destination)


def read_data_export(path: str | Path) -> tuple[dict[str, np.ndarray], dict]:
    """(arrays by name, settings document) of an NPZ or HDF5 data export (HDF5 audited first)."""
    path = Path(path)
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
        return arrays, json.loads(str(arrays.pop(SETTINGS_KEY)))
    with h5py.File(path, "r") as file:
        audit_hdf5(file)
        arrays = {}

        def collect(name: str, node: object) -> None:
            if isinstance(node, h5py.Dataset):
                check_readable_array(node, name)
                arrays[name] = node[()]

        file.visititems(collect)
        if SETTINGS_KEY not in file.attrs:
            raise InvalidInputError(path, "not a ptycho-gui data export (no settings attribute)")
        return arrays, json.loads(file.attrs[SETTINGS_KEY])
