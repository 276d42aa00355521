"""Data exports: NPZ and HDF5 round-trip every array and every setting, need no pickle, and HDF5 keeps
the reconstruction.h5 canvas attributes."""

from __future__ import annotations

import dataclasses
import json

import h5py
import numpy as np
import pytest

from ptycho_gui.engine.statistics import StatsHistory, batch_statistics
from ptycho_gui.engine.stitching import stitch
from ptycho_gui.errors import InvalidInputError
from ptycho_gui.export.data import DataSelection, read_data_export, selection_arrays, write_data
from ptycho_gui.render.annotations import Provenance
from ptycho_gui.types import BatchResult, RunSettings

PROVENANCE = Provenance("wts.h5.zip", "scan.npz", "position", 20, "bridge: scale 0.45", "cpu", "2026-01-01 00:00 UTC",
                        pixel_size_m=None)
SETTINGS = RunSettings(device="cpu", batch_size=3, n_groups=9, seed=4, stitch="position", crop=12, num_threads=1)


def batch(index: int, rng: np.random.Generator) -> BatchResult:
    patches = (rng.normal(size=(3, 4, 16, 16)) + 1j * rng.normal(size=(3, 4, 16, 16))).astype(np.complex64)
    return BatchResult(index=index, group_indices=np.arange(3 * index, 3 * index + 3),
                       groups=rng.integers(0, 40, (3, 4)), positions=rng.uniform(20, 60, (3, 4, 2)),
                       patches=patches, stats=batch_statistics(patches, 0.45), seconds=0.2, input_scale=0.45)


@pytest.fixture(scope="module")
def selection() -> DataSelection:
    rng = np.random.default_rng(7)
    results = [batch(i, rng) for i in range(3)]
    history = StatsHistory(5)
    for r in results:
        history.record(r.index, r.stats)
    positions = np.concatenate([r.positions for r in results])
    canvas = stitch("position", 12, positions, np.concatenate([r.patches for r in results]))
    return DataSelection([results[0], results[2]], SETTINGS, PROVENANCE, canvas, history.as_arrays(),
                         {"quantity": "phase", "levels": "auto", "batches": "0,2"})


@pytest.mark.parametrize("fmt", ["npz", "h5"])
def test_every_array_and_setting_round_trips(selection, tmp_path, fmt):
    path = write_data(selection, tmp_path / f"data.{fmt}", fmt)
    arrays, settings = read_data_export(path)
    expected = selection_arrays(selection)
    assert set(arrays) == set(expected)
    for name, values in expected.items():
        assert np.asarray(arrays[name]).dtype == np.asarray(values).dtype, name
        np.testing.assert_array_equal(arrays[name], values, err_msg=name)
    np.testing.assert_array_equal(arrays["batches"], [0, 2])
    np.testing.assert_array_equal(arrays["batch_of_group"], [0, 0, 0, 2, 2, 2])
    np.testing.assert_array_equal(arrays["patches"][3:], selection.results[1].patches)
    np.testing.assert_array_equal(arrays["canvas"], selection.canvas.image)
    assert np.isnan(arrays["stats/global_mean"][3:]).all() and np.isfinite(arrays["stats/global_mean"][:3]).all()
    assert RunSettings(**settings["run"]) == SETTINGS
    assert Provenance(**settings["provenance"]) == PROVENANCE
    assert settings["export"] == selection.options
    assert settings["canvas"] == {"center_xy": list(selection.canvas.center_xy), "stitch": "position", "crop": 12,
                                  "mirrored": False}


def test_npz_needs_no_pickle_and_hdf5_has_reconstruction_canvas_attributes(selection, tmp_path):
    with np.load(write_data(selection, tmp_path / "d.npz", "npz"), allow_pickle=False) as archive:
        assert all(archive[name].dtype != object for name in archive.files)
    with h5py.File(write_data(selection, tmp_path / "d.h5", "h5"), "r") as file:
        assert file["canvas"].attrs["stitch"] == "position" and file["canvas"].attrs["crop"] == 12
        np.testing.assert_array_equal(file["canvas"].attrs["center_xy"], selection.canvas.center_xy)
        assert file.attrs["checkpoint"] == "wts.h5.zip"
        assert json.loads(file.attrs["settings"])["run"]["seed"] == 4


def test_selection_without_canvas_or_batches(tmp_path, selection):
    stats_only = dataclasses.replace(selection, results=[], canvas=None)
    arrays, settings = read_data_export(write_data(stats_only, tmp_path / "s.npz", "npz"))
    assert set(arrays) == {f"stats/{name}" for name in selection.stats} and settings["canvas"] is None
    with pytest.raises(ValueError, match="nothing to export"):
        write_data(dataclasses.replace(stats_only, stats=None), tmp_path / "empty.npz", "npz")


def test_foreign_hdf5_is_refused(tmp_path):
    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as file:
        file.create_dataset("x", data=np.arange(3))
    with pytest.raises(InvalidInputError, match="not a ptycho-gui data export"):
        read_data_export(path)
