"""Reopening a saved ``reconstruction.h5`` (as written by ``ptycho-inspect run``), Qt-free and audited.

The file is audited (``hdf5_audit``) before any array is read; every array read must be plain numeric.
Patches are not loaded (they can be huge); ``read_patches`` fetches chosen groups on demand.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

from ptycho_gui.errors import InvalidInputError
from ptycho_gui.io.hdf5_audit import audit_hdf5, check_readable_array
from ptycho_gui.types import Canvas

REQUIRED = ("canvas", "canvas_weight", "groups", "positions")


@dataclass
class SavedReconstruction:
    """What a reconstruction.h5 holds, patches excepted."""

    path: Path
    canvas: Canvas
    groups: np.ndarray
    positions: np.ndarray
    input_scale: float | None
    attributes: dict
    stats: dict[str, np.ndarray] = field(default_factory=dict)
    residual_nmse: np.ndarray | None = None
    metrics: dict | None = None

    @property
    def dataset_path(self) -> str | None:
        """The scan this reconstruction was computed from, as recorded."""
        value = self.attributes.get("dataset")
        return None if value is None else str(value)


def is_reconstruction_file(path: str | Path) -> bool:
    """True for an HDF5 file with the reconstruction.h5 members (no data read)."""
    path = Path(path)
    if not h5py.is_hdf5(path):
        return False
    with h5py.File(path, "r") as file:
        return all(name in file for name in REQUIRED)


def _array(file: h5py.File, name: str) -> np.ndarray:
    node = file[name]
    if not isinstance(node, h5py.Dataset):
        raise InvalidInputError(Path(file.filename), f"{name} is not a dataset")
    check_readable_array(node, name)
    return node[()]


def _plain(value: object) -> object:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def open_reconstruction(path: str | Path) -> SavedReconstruction:
    """Read a reconstruction.h5 (canvas with its frame, groups, positions, statistics, residual, metrics)."""
    path = Path(path)
    if not path.is_file():
        raise InvalidInputError(path, "no such file")
    if not h5py.is_hdf5(path):
        raise InvalidInputError(path, "not an HDF5 file")
    with h5py.File(path, "r") as file:
        audit_hdf5(file)
        missing = [name for name in REQUIRED if name not in file]
        if missing:
            raise InvalidInputError(path, f"not a reconstruction.h5: missing {', '.join(missing)}")
        image = _array(file, "canvas")
        weight = _array(file, "canvas_weight")
        if image.ndim != 2 or weight.shape != image.shape:
            raise InvalidInputError(path, f"canvas {image.shape} and canvas_weight {weight.shape} do not match")
        attrs = file["canvas"].attrs
        center = np.asarray(attrs.get("center_xy", (0.0, 0.0)), dtype=np.float64).ravel()
        if center.size != 2 or not np.isfinite(center).all():
            raise InvalidInputError(path, "canvas attribute center_xy is not two finite numbers")
        canvas = Canvas(
            image=image.astype(np.complex64),
            weight=weight.astype(np.float32),
            center_xy=(float(center[0]), float(center[1])),
            stitch=str(_plain(attrs.get("stitch", "position"))),
            crop=int(attrs.get("crop", 0)),
            mirrored=bool(attrs.get("mirrored", False)),
        )
        stats = {}
        if "stats" in file and isinstance(file["stats"], h5py.Group):
            stats = {name: _array(file, f"stats/{name}").astype(np.float64) for name in file["stats"]}
        metrics = None
        if "metrics" in file and "json" in file["metrics"].attrs:
            metrics = json.loads(_plain(file["metrics"].attrs["json"]))
        return SavedReconstruction(
            path=path,
            canvas=canvas,
            groups=_array(file, "groups").astype(np.int64),
            positions=_array(file, "positions").astype(np.float64),
            input_scale=float(_array(file, "input_scale")) if "input_scale" in file else None,
            attributes={key: _plain(value) for key, value in file.attrs.items()},
            stats=stats,
            residual_nmse=_array(file, "residual_nmse").astype(np.float64) if "residual_nmse" in file else None,
            metrics=metrics,
        )


def read_patches(path: str | Path, group_indices: np.ndarray) -> np.ndarray:
    """Complex64 (k, C, N, N) patches of the given groups of a reconstruction.h5."""
    path = Path(path)
    rows = np.asarray(group_indices, dtype=np.int64).ravel()
    with h5py.File(path, "r") as file:
        audit_hdf5(file)
        if "patches" not in file:
            raise InvalidInputError(path, "no /patches in this reconstruction")
        node = file["patches"]
        check_readable_array(node, "patches")
        if rows.size and (rows.min() < 0 or rows.max() >= node.shape[0]):
            raise InvalidInputError(path, f"group index outside 0..{node.shape[0] - 1}")
        unique, inverse = np.unique(rows, return_inverse=True)
        return np.asarray(node[unique], dtype=np.complex64)[inverse]
