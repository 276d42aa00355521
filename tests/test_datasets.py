"""Scan dataset readers: the real PtychoPINN fixture (NPZ and an HDF5 copy), validation, warnings, laziness."""

from __future__ import annotations

import io
import json
import pathlib
import zipfile

import h5py
import numpy as np
import pytest

from ptycho_gui.errors import InvalidInputError
from ptycho_gui.io import datasets
from ptycho_gui.io.datasets import ScanDataset, open_dataset

SHUFFLED_ROWS = np.array([99, 5, 3, 3, 0, 57, 5, 98, 42, 42, 1])


@pytest.fixture(scope="module")
def shared_raw(shared_dataset_path: pathlib.Path) -> dict[str, np.ndarray]:
    """PtychoPINN's scan arrays as numpy reads them (``_metadata`` left out: it needs pickle)."""
    with np.load(shared_dataset_path, allow_pickle=False) as data:
        return {key: data[key] for key in data.files if key != "_metadata"}


@pytest.fixture(scope="module")
def raw(dataset_path: pathlib.Path) -> dict[str, np.ndarray]:
    """The generated scan's arrays as numpy reads them."""
    with np.load(dataset_path, allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


def fixture_metadata_json(shared_dataset_path: pathlib.Path) -> str:
    """The JSON text inside the fixture's ``_metadata`` pickle, located by plain byte search."""
    blob = zipfile.ZipFile(shared_dataset_path).read("_metadata.npy")
    start = blob.index(b'{\n  "schema_version"')
    end = blob.rindex(b"}") + 1
    return blob[start:end].decode()


def write_dataset(path: pathlib.Path, arrays: dict[str, np.ndarray], group: str | None = None) -> pathlib.Path:
    """Write ``arrays`` as NPZ (compressed) or HDF5 (chunked stacks) according to the suffix."""
    if path.suffix == ".npz":
        np.savez_compressed(path, **arrays)
        return path
    with h5py.File(path, "w") as file:
        target = file if group is None else file.create_group(group)
        for key, value in arrays.items():
            if value.ndim >= 3 and value.size:
                target.create_dataset(key, data=value, chunks=(1,) + value.shape[1:] if value.ndim == 3 else True)
            else:
                target[key] = value.item() if value.dtype.kind == "U" else value
    return path


def small_scan(m: int = 12, n: int = 8, seed: int = 0) -> dict[str, np.ndarray]:
    """A tiny valid amplitude scan (non-integer values, finite, non-negative)."""
    rng = np.random.default_rng(seed)
    return {
        "diff3d": rng.uniform(0.1, 3.0, size=(m, n, n)).astype(np.float32),
        "xcoords": rng.uniform(10, 50, size=m),
        "ycoords": rng.uniform(10, 50, size=m),
    }


@pytest.fixture(params=["npz", "h5"])
def suffix(request) -> str:
    return "." + request.param


def expect_invalid(path: pathlib.Path, *fragments: str, **kwargs) -> str:
    """Open ``path``, expect InvalidInputError naming the file and each fragment, on one line."""
    with pytest.raises(InvalidInputError) as info:
        open_dataset(path, **kwargs)
    message = str(info.value)
    assert message.startswith(str(path)), message
    assert "\n" not in message and "Traceback" not in message
    for fragment in fragments:
        assert fragment in message, message
    return message


# ----- PtychoPINN's own scan file (shared fixture) and the generated scan ------------------------------


def test_fixture_fields_shapes_and_positions(shared_dataset_path, shared_raw):
    raw = shared_raw
    with open_dataset(shared_dataset_path) as ds:
        assert isinstance(ds, ScanDataset)
        assert (ds.format, ds.n_patterns, ds.N, ds.diffraction_key) == ("npz", 102, 64, "diff3d")
        assert ds.xcoords.dtype == np.float64 and ds.xcoords.shape == (102,)
        np.testing.assert_array_equal(ds.xcoords, raw["xcoords"])
        np.testing.assert_array_equal(ds.ycoords, raw["ycoords"])
        np.testing.assert_array_equal(ds.positions, np.stack([raw["xcoords"], raw["ycoords"]], axis=1))
        np.testing.assert_array_equal(ds.xcoords_start, raw["xcoords_start"])
        np.testing.assert_array_equal(ds.ycoords_start, raw["ycoords_start"])
        np.testing.assert_array_equal(ds.scan_index, raw["scan_index"])
        assert ds.probe.dtype == np.complex64 and ds.probe.shape == (64, 64)
        np.testing.assert_array_equal(ds.probe, raw["probeGuess"])
        assert ds.object_shape == (224, 224)
        np.testing.assert_array_equal(ds.object_guess, raw["objectGuess"])
        assert ds.has_ground_truth_patches
        assert ds.pixel_size_m is None
        assert ds.notes == []


def test_fixture_metadata_parsed_without_unpickling(shared_dataset_path):
    with open_dataset(shared_dataset_path) as ds:
        assert ds.metadata == json.loads(fixture_metadata_json(shared_dataset_path))
        assert ds.metadata["physics_parameters"]["nphotons"] == 1e9
        assert ds.metadata["data_transformations"][0]["parameters"]["test_count"] == 102


def test_read_patterns_equals_raw_for_shuffled_repeated_rows(dataset_path, raw):
    with open_dataset(dataset_path) as ds:
        patterns = ds.read_patterns(SHUFFLED_ROWS)
        assert patterns.dtype == np.float32 and patterns.shape == (len(SHUFFLED_ROWS), 64, 64)
        np.testing.assert_array_equal(patterns, raw["diff3d"][SHUFFLED_ROWS])
        assert ds.read_patterns(np.array([], dtype=np.int64)).shape == (0, 64, 64)
        with pytest.raises(IndexError):
            ds.read_patterns(np.array([0, 100]))


def test_pattern_energies_exact(dataset_path, raw):
    with open_dataset(dataset_path) as ds:
        energies = ds.pattern_energies()
        assert energies.dtype == np.float64 and energies.shape == (100,)
        np.testing.assert_array_equal(energies, np.square(raw["diff3d"], dtype=np.float64).sum(axis=(1, 2)))
        assert ds.pattern_energies() is energies


def test_ground_truth_patches_by_row(dataset_path, raw):
    with open_dataset(dataset_path) as ds:
        patches = ds.ground_truth_patches(SHUFFLED_ROWS)
        assert patches.dtype == np.complex64 and patches.shape == (len(SHUFFLED_ROWS), 64, 64)
        np.testing.assert_array_equal(patches, raw["ground_truth_patches"][SHUFFLED_ROWS, :, :, 0])


def test_summary_is_json_and_complete(dataset_path, raw):
    with open_dataset(dataset_path) as ds:
        summary = json.loads(json.dumps(ds.summary()))
    assert summary["path"] == str(dataset_path)
    assert (summary["format"], summary["M"], summary["N"]) == ("npz", 100, 64)
    assert summary["members"]["diff3d"] == "float32 (100, 64, 64)"
    assert summary["x_range"] == pytest.approx([raw["xcoords"].min(), raw["xcoords"].max()])
    assert summary["object_shape"] == [136, 136] and summary["probe"] and summary["ground_truth_patches"]
    assert summary["patterns_checked"] and summary["notes"] == []


@pytest.mark.parametrize("group", [None, "entry"])
def test_hdf5_copy_of_a_scan_gives_identical_results(tmp_path, dataset_path, raw, group):
    h5_path = write_dataset(tmp_path / "scan.h5", dict(raw), group=group)
    with open_dataset(dataset_path) as ref, open_dataset(h5_path) as ds:
        assert ds.format == "hdf5" and ds.group == ("/" if group is None else f"/{group}")
        assert (ds.n_patterns, ds.N, ds.diffraction_key) == (ref.n_patterns, ref.N, ref.diffraction_key)
        for name in ("xcoords", "ycoords", "xcoords_start", "ycoords_start", "scan_index", "probe", "positions"):
            np.testing.assert_array_equal(getattr(ds, name), getattr(ref, name))
        np.testing.assert_array_equal(ds.object_guess, ref.object_guess)
        np.testing.assert_array_equal(ds.read_patterns(SHUFFLED_ROWS), ref.read_patterns(SHUFFLED_ROWS))
        np.testing.assert_array_equal(ds.pattern_energies(), ref.pattern_energies())
        np.testing.assert_array_equal(ds.ground_truth_patches(SHUFFLED_ROWS), ref.ground_truth_patches(SHUFFLED_ROWS))
        assert ds.metadata == ref.metadata and ds.metadata["generator"] == "ptycho_gui.demo"
        assert ds.notes == ref.notes == []


def test_hdf5_copy_of_ptychopinn_scan_keeps_its_pickled_metadata_as_json(tmp_path, shared_dataset_path, shared_raw):
    h5_path = write_dataset(tmp_path / "scan.h5", dict(shared_raw))
    with h5py.File(h5_path, "a") as file:
        file["_metadata"] = fixture_metadata_json(shared_dataset_path)
    with open_dataset(shared_dataset_path) as ref, open_dataset(h5_path) as ds:
        assert ds.metadata == ref.metadata and ds.notes == ref.notes == []


def test_uncompressed_npz_is_memory_mapped(tmp_path, raw):
    path = tmp_path / "stored.npz"
    np.savez(path, **raw)
    with open_dataset(path) as ds:
        assert ds.summary()["pattern_access"] == "memory-mapped"
        np.testing.assert_array_equal(ds.read_patterns(SHUFFLED_ROWS), raw["diff3d"][SHUFFLED_ROWS])
        np.testing.assert_array_equal(ds.ground_truth_patches(SHUFFLED_ROWS),
                                      raw["ground_truth_patches"][SHUFFLED_ROWS, :, :, 0])
        np.testing.assert_array_equal(
            ds.pattern_energies(), np.square(raw["diff3d"], dtype=np.float64).sum(axis=(1, 2))
        )


def test_legacy_layout_is_transposed(tmp_path, suffix):
    scan = small_scan(m=10, n=8)
    legacy = dict(scan, diff3d=np.ascontiguousarray(scan["diff3d"].transpose(1, 2, 0)))
    path = write_dataset(tmp_path / f"legacy{suffix}", legacy)
    with open_dataset(path) as ds:
        assert (ds.n_patterns, ds.N) == (10, 8)
        assert any("legacy layout" in note and "(8, 8, 10)" in note for note in ds.notes)
        np.testing.assert_array_equal(ds.read_patterns(np.array([9, 0, 4, 4])), scan["diff3d"][[9, 0, 4, 4]])
        np.testing.assert_array_equal(
            ds.pattern_energies(), np.square(scan["diff3d"], dtype=np.float64).sum(axis=(1, 2))
        )


def test_fields_under_several_groups_are_refused(tmp_path):
    path = tmp_path / "two.h5"
    with h5py.File(path, "w") as file:
        for name in ("a", "b"):
            for key, value in small_scan().items():
                file[f"{name}/{key}"] = value
    expect_invalid(path, "several groups", "/a", "/b")


# ----- validation errors -------------------------------------------------------------------------------


def test_not_a_dataset(tmp_path, bundle_path):
    text = tmp_path / "notes.txt"
    text.write_text("just text\n")
    expect_invalid(text, "not a dataset")
    expect_invalid(tmp_path / "absent.npz", "no such file")
    expect_invalid(bundle_path, "not a dataset", ".npy")


def test_missing_diffraction_key(tmp_path, suffix):
    scan = small_scan()
    scan["patterns"] = scan.pop("diff3d")
    expect_invalid(write_dataset(tmp_path / f"s{suffix}", scan), "'diff3d'", "'diffraction'", "patterns")


def test_missing_coordinate_key(tmp_path, suffix):
    scan = small_scan()
    del scan["ycoords"]
    expect_invalid(write_dataset(tmp_path / f"s{suffix}", scan), "missing coordinate key(s) ycoords")


def test_length_mismatch_names_both_counts(tmp_path, suffix):
    scan = small_scan(m=12)
    scan["diff3d"] = scan["diff3d"][:9]
    expect_invalid(write_dataset(tmp_path / f"s{suffix}", scan), "holds 9 patterns", "hold 12 positions")
    scan = small_scan(m=12)
    scan["ycoords"] = scan["ycoords"][:11]
    expect_invalid(write_dataset(tmp_path / f"t{suffix}", scan), "xcoords has 12", "ycoords has 11")


def test_non_square_and_non_3d_stacks(tmp_path, suffix):
    scan = small_scan(m=12, n=8)
    scan["diff3d"] = np.ones((12, 8, 6), np.float32)
    expect_invalid(write_dataset(tmp_path / f"a{suffix}", scan), "not square", "(12, 8, 6)")
    scan["diff3d"] = np.ones((12, 64), np.float32)
    expect_invalid(write_dataset(tmp_path / f"b{suffix}", scan), "3-D", "(12, 64)")


def test_non_finite_coordinates(tmp_path, suffix):
    scan = small_scan()
    scan["xcoords"][[2, 5]] = [np.nan, np.inf]
    expect_invalid(write_dataset(tmp_path / f"s{suffix}", scan), "xcoords has 2 non-finite")


def test_non_finite_patterns_on_open_when_small(tmp_path, suffix):
    scan = small_scan()
    scan["diff3d"][3, 0, :3] = np.nan
    scan["diff3d"][7, 1, 1] = np.inf
    expect_invalid(write_dataset(tmp_path / f"s{suffix}", scan), "4 non-finite", "2 pattern(s)", "first at row 3")


def test_non_finite_patterns_found_by_pattern_energies_when_large(tmp_path, suffix):
    scan = small_scan()
    scan["diff3d"][8, 2, 2] = np.nan
    path = write_dataset(tmp_path / f"s{suffix}", scan)
    with open_dataset(path, eager_scan_bytes=0) as ds:
        assert not ds.summary()["patterns_checked"]
        assert any("not checked yet" in note for note in ds.notes)
        with pytest.raises(InvalidInputError, match="1 non-finite value.*first at row 8") as info:
            ds.pattern_energies()
        assert str(info.value).startswith(str(path))


def test_empty_dataset(tmp_path, suffix):
    empty = {"diff3d": np.zeros((0, 8, 8), np.float32), "xcoords": np.zeros(0), "ycoords": np.zeros(0)}
    expect_invalid(write_dataset(tmp_path / f"s{suffix}", empty), "empty dataset")


def test_odd_pattern_size(tmp_path, suffix):
    expect_invalid(write_dataset(tmp_path / f"s{suffix}", small_scan(n=7)), "N=7", "even")


def test_complex_patterns_refused(tmp_path, suffix):
    scan = small_scan()
    scan["diff3d"] = scan["diff3d"].astype(np.complex64)
    expect_invalid(write_dataset(tmp_path / f"s{suffix}", scan), "diff3d has dtype complex64")


def test_pickled_object_stack_is_refused_without_unpickling(tmp_path):
    marker = tmp_path / "pwned"
    scan = small_scan()
    payload = np.empty((), dtype=object)
    payload[()] = Touch(marker)
    path = tmp_path / "obj.npz"
    np.savez(path, diff3d=payload, xcoords=scan["xcoords"], ycoords=scan["ycoords"])
    expect_invalid(path, "diff3d")
    assert not marker.exists()


# ----- warnings ----------------------------------------------------------------------------------------


class Touch:
    """A pickle payload that would create ``marker`` if it were ever unpickled."""

    def __init__(self, marker: pathlib.Path):
        self.marker = marker

    def __reduce__(self):
        return pathlib.Path.touch, (self.marker,)


def test_intensity_like_counts_warn(tmp_path, suffix):
    scan = small_scan()
    scan["diff3d"] = np.random.default_rng(1).poisson(50.0, size=scan["diff3d"].shape).astype(np.float32)
    with open_dataset(write_dataset(tmp_path / f"s{suffix}", scan)) as ds:
        assert any("looks like intensity" in note and "whole number" in note for note in ds.notes)


def test_implausibly_large_amplitudes_warn(tmp_path, suffix):
    scan = small_scan()
    scan["diff3d"] = scan["diff3d"] * 1e4
    with open_dataset(write_dataset(tmp_path / f"s{suffix}", scan)) as ds:
        assert any("looks like intensity" in note and "4096" in note for note in ds.notes)


def test_amplitudes_from_counts_do_not_warn(tmp_path, suffix):
    scan = small_scan()
    scan["diff3d"] = np.sqrt(np.random.default_rng(2).poisson(50.0, size=scan["diff3d"].shape)).astype(np.float32)
    with open_dataset(write_dataset(tmp_path / f"s{suffix}", scan)) as ds:
        assert ds.notes == []


def test_negative_amplitudes_warn(tmp_path, suffix):
    scan = small_scan()
    scan["diff3d"][2, 3, 3] = -0.5
    scan["diff3d"][4, 0, 0] = -1.25
    with open_dataset(write_dataset(tmp_path / f"s{suffix}", scan)) as ds:
        assert any("2 negative value(s)" in note and "-1.25" in note for note in ds.notes)


def test_deferred_scan_adds_warnings_and_drops_pending_note(tmp_path, suffix):
    scan = small_scan()
    scan["diff3d"][0, 0, 0] = -1.0
    with open_dataset(write_dataset(tmp_path / f"s{suffix}", scan), eager_scan_bytes=0) as ds:
        assert not any("negative value" in note for note in ds.notes)
        ds.pattern_energies()
        assert ds.summary()["patterns_checked"]
        assert not any("not checked yet" in note for note in ds.notes)
        assert any("1 negative value(s)" in note for note in ds.notes)


def test_both_diffraction_keys_noted(tmp_path, suffix):
    scan = small_scan()
    scan["diffraction"] = scan["diff3d"] * 2
    with open_dataset(write_dataset(tmp_path / f"s{suffix}", scan)) as ds:
        assert ds.diffraction_key == "diff3d"
        assert any("both diff3d and diffraction" in note for note in ds.notes)
        np.testing.assert_array_equal(ds.read_patterns(np.array([1])), scan["diff3d"][[1]])


def test_diffraction_key_alone_is_used(tmp_path, suffix):
    scan = small_scan()
    scan["diffraction"] = scan.pop("diff3d")
    with open_dataset(write_dataset(tmp_path / f"s{suffix}", scan)) as ds:
        assert ds.diffraction_key == "diffraction" and ds.notes == []


@pytest.mark.parametrize("shape", [(8, 8, 1), (3, 8, 8)])
def test_probe_modes_keep_the_first(tmp_path, suffix, shape):
    scan = small_scan(n=8)
    probe = (np.arange(np.prod(shape)).reshape(shape) * (1 + 1j)).astype(np.complex64)
    scan["probeGuess"] = probe
    with open_dataset(write_dataset(tmp_path / f"s{suffix}", scan)) as ds:
        expected = probe[..., 0] if shape == (8, 8, 1) else probe[0]
        assert ds.probe.dtype == np.complex64
        np.testing.assert_array_equal(ds.probe, expected)
        assert any(f"probeGuess has shape {shape}" in note for note in ds.notes)


def test_malformed_optional_members_are_ignored_with_notes(tmp_path, suffix):
    scan = small_scan(m=12, n=8)
    scan["probeGuess"] = np.ones((6, 6), np.complex64)
    scan["xcoords_start"] = np.zeros(5)
    scan["Y"] = np.ones((12, 8, 4), np.complex64)
    with open_dataset(write_dataset(tmp_path / f"s{suffix}", scan)) as ds:
        assert ds.probe is None and ds.xcoords_start is None and not ds.has_ground_truth_patches
        assert ds.ground_truth_patches(np.array([0])) is None
        assert len(ds.notes) == 3


def test_y_ground_truth_accepted(tmp_path, suffix):
    scan = small_scan(m=12, n=8)
    scan["Y"] = (np.random.default_rng(3).normal(size=(12, 8, 8)) * 1j).astype(np.complex64)
    with open_dataset(write_dataset(tmp_path / f"s{suffix}", scan)) as ds:
        np.testing.assert_array_equal(ds.ground_truth_patches(np.array([4, 1, 4])), scan["Y"][[4, 1, 4]])


# ----- metadata ------------------------------------------------------------------------------------------


def test_malicious_metadata_pickle_is_skipped_without_executing(tmp_path):
    marker = tmp_path / "pwned"
    payload = np.empty((), dtype=object)
    payload[()] = Touch(marker)
    path = tmp_path / "meta.npz"
    np.savez(path, _metadata=payload, **small_scan())
    with open_dataset(path) as ds:
        assert ds.metadata is None
        assert any(note.startswith("_metadata skipped") for note in ds.notes)
    assert not marker.exists()


def test_metadata_json_string_and_pixel_size(tmp_path, suffix):
    scan = small_scan()
    scan["metadata_json"] = np.array(json.dumps({"geometry": {"pixel_size_m": 1.5e-8}, "dose": 1e6}))
    path = write_dataset(tmp_path / f"s{suffix}", scan)
    with open_dataset(path) as ds:
        assert ds.metadata == {"geometry": {"pixel_size_m": 1.5e-8}, "dose": 1e6}
        assert ds.pixel_size_m == 1.5e-8


def test_unitless_pixel_size_too_large_for_metres_is_ignored(tmp_path):
    path = tmp_path / "s.npz"
    np.savez(path, _metadata=np.array(json.dumps({"pixel_size": 10.0})), **small_scan())
    with open_dataset(path) as ds:
        assert ds.pixel_size_m is None
        assert any("pixel_size=10.0" in note for note in ds.notes)


# ----- a larger-than-memory scan opens without reading the stack --------------------------------------


class CountingFile(io.FileIO):
    """A raw file whose ``readinto`` counts the bytes HDF5 actually reads."""

    bytes_read = 0

    def readinto(self, buffer) -> int:
        count = super().readinto(buffer)
        self.bytes_read += count or 0
        return count


def test_large_hdf5_opens_and_reads_only_the_needed_rows(tmp_path, monkeypatch):
    m, n = 4096, 32
    rng = np.random.default_rng(4)
    path = tmp_path / "big.h5"
    with h5py.File(path, "w") as file:
        stack = file.create_dataset("diff3d", shape=(m, n, n), dtype=np.float32, chunks=(16, n, n))
        for start in range(0, m, 512):
            stack[start:start + 512] = rng.uniform(0.0, 2.0, size=(512, n, n)).astype(np.float32)
        file["xcoords"] = rng.uniform(0, 500, m)
        file["ycoords"] = rng.uniform(0, 500, m)
    stack_bytes = m * n * n * 4
    handle = CountingFile(path, "r")
    monkeypatch.setattr(datasets, "_open_hdf5_file", lambda _path: h5py.File(handle, "r"))

    ds = open_dataset(path, eager_scan_bytes=stack_bytes // 2)
    opened = handle.bytes_read
    assert ds.n_patterns == m and not ds.summary()["patterns_checked"]
    assert opened < 200_000, f"open read {opened} bytes of a {stack_bytes}-byte stack"

    rows = np.array([4000, 17, 5, 17, 4001])
    patterns = ds.read_patterns(rows)
    read_rows = handle.bytes_read - opened
    assert read_rows <= 3 * 16 * n * n * 4 + 50_000, f"reading 4 rows read {read_rows} bytes"
    with h5py.File(path, "r") as file:
        np.testing.assert_array_equal(patterns, file["diff3d"][...][rows])

    ds.pattern_energies()
    assert handle.bytes_read - opened >= stack_bytes
    ds.close()
