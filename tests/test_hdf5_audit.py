"""HDF5 safety audit: files that would make a reader return another file's bytes are refused unread."""

from __future__ import annotations

import os
import pathlib

import h5py
import numpy as np
import pytest

from ptycho_gui.errors import InvalidInputError
from ptycho_gui.io.datasets import open_dataset
from ptycho_gui.io.hdf5_audit import audit_hdf5, check_readable_array

M, N = 3, 8
SECRET = (b"TOPSECRET-" * 80)[: M * N * N * 4]
OLD_ATIME = 1_000_000


@pytest.fixture
def secret_raw(tmp_path) -> pathlib.Path:
    path = tmp_path / "secret.bin"
    path.write_bytes(SECRET)
    return path


@pytest.fixture
def secret_h5(tmp_path) -> pathlib.Path:
    path = tmp_path / "secret.h5"
    with h5py.File(path, "w") as file:
        file["diff3d"] = np.frombuffer(SECRET, dtype=np.float32).reshape(M, N, N)
    return path


def scan_file(path: pathlib.Path, with_stack: bool = True) -> h5py.File:
    """An open writable HDF5 scan with coordinates (and a harmless stack unless told otherwise)."""
    file = h5py.File(path, "w")
    file["xcoords"] = np.arange(M, dtype=np.float64)
    file["ycoords"] = np.arange(M, dtype=np.float64)
    if with_stack:
        file["diff3d"] = np.ones((M, N, N), np.float32)
    return file


def expect_refused(path: pathlib.Path, *fragments: str) -> None:
    """open_dataset and audit_hdf5 both refuse, naming the file and the problem, never the secret."""
    with pytest.raises(InvalidInputError) as info:
        open_dataset(path)
    message = str(info.value)
    assert message.startswith(str(path)) and "\n" not in message
    for fragment in fragments:
        assert fragment in message, message
    assert "TOPSECRET" not in message
    with h5py.File(path, "r") as file, pytest.raises(InvalidInputError):
        audit_hdf5(file)


def age_atime(path: pathlib.Path) -> None:
    """Set the access time before the modification time, so that any read updates it (relatime)."""
    os.utime(path, (OLD_ATIME, path.stat().st_mtime))


def atime_tracked(tmp_path: pathlib.Path) -> bool:
    """Whether this filesystem records reads in atime (not mounted noatime)."""
    probe = tmp_path / "atime_probe"
    probe.write_bytes(b"x")
    age_atime(probe)
    probe.read_bytes()
    return probe.stat().st_atime != OLD_ATIME


def test_external_raw_storage_is_refused(tmp_path, secret_raw):
    path = tmp_path / "external.h5"
    with scan_file(path, with_stack=False) as file:
        file.create_dataset("diff3d", shape=(M, N, N), dtype=np.float32, external=[(str(secret_raw), 0, len(SECRET))])
    with h5py.File(path, "r") as file:
        assert file["diff3d"][()].tobytes() == SECRET  # the attack is real: a plain read leaks the file
    expect_refused(path, "external file", str(secret_raw))


def test_external_link_is_refused_without_opening_its_target(tmp_path, secret_h5):
    path = tmp_path / "elink.h5"
    with scan_file(path, with_stack=False) as file:
        file["diff3d"] = h5py.ExternalLink(str(secret_h5), "/diff3d")
    with h5py.File(path, "r") as file:
        assert file["diff3d"][()].tobytes() == SECRET
    age_atime(secret_h5)
    expect_refused(path, "external link /diff3d", str(secret_h5))
    if atime_tracked(tmp_path):
        assert secret_h5.stat().st_atime == OLD_ATIME, "the audit opened the external link's target"


def test_external_link_to_a_non_hdf5_file_is_refused(tmp_path, secret_raw):
    path = tmp_path / "elink_raw.h5"
    with scan_file(path) as file:
        file.create_group("extra")["leak"] = h5py.ExternalLink(str(secret_raw), "/x")
    age_atime(secret_raw)
    expect_refused(path, "external link /extra/leak")
    if atime_tracked(tmp_path):
        assert secret_raw.stat().st_atime == OLD_ATIME


def test_virtual_dataset_is_refused(tmp_path, secret_h5):
    path = tmp_path / "vds.h5"
    layout = h5py.VirtualLayout(shape=(M, N, N), dtype=np.float32)
    layout[:] = h5py.VirtualSource(str(secret_h5), "diff3d", shape=(M, N, N))
    with scan_file(path, with_stack=False) as file:
        file.create_virtual_dataset("diff3d", layout)
    with h5py.File(path, "r") as file:
        assert file["diff3d"][()].tobytes() == SECRET
    expect_refused(path, "virtual dataset", "/diff3d")


def test_absurd_logical_size_is_refused_before_reading(tmp_path):
    path = tmp_path / "huge.h5"
    with scan_file(path, with_stack=False) as file:
        file.create_dataset("diff3d", shape=(10**9, 64, 64), dtype=np.float32, chunks=(1, 64, 64))
    assert path.stat().st_size < 100_000
    expect_refused(path, "/diff3d", "declares 16384000000000 bytes")


def test_dangling_soft_link_is_refused(tmp_path):
    path = tmp_path / "dangling.h5"
    with scan_file(path) as file:
        file["probeGuess"] = h5py.SoftLink("/nowhere/probe")
    expect_refused(path, "soft link /probeGuess -> /nowhere/probe points to nothing")


def test_soft_link_inside_the_file_and_hard_link_cycle_are_accepted(tmp_path):
    path = tmp_path / "links.h5"
    stack = np.random.default_rng(0).uniform(0.1, 1.0, size=(M, N, N)).astype(np.float32)
    with scan_file(path, with_stack=False) as file:
        raw = file.create_group("raw")
        raw["stack"] = stack
        raw["again"] = raw
        file["diff3d"] = h5py.SoftLink("/raw/stack")
    with open_dataset(path) as ds:
        np.testing.assert_array_equal(ds.read_patterns(np.array([2, 0])), stack[[2, 0]])


def write_ragged(file: h5py.File) -> None:
    file.create_dataset("bad", shape=(M,), dtype=h5py.vlen_dtype(np.float32))
    for row in range(M):
        file["bad"][row] = np.ones(row + 1, np.float32)


def write_strings(file: h5py.File) -> None:
    file.create_dataset("bad", data=["a"] * M, dtype=h5py.string_dtype())


def write_compound(file: h5py.File) -> None:
    file.create_dataset("bad", data=np.zeros(M, dtype=[("a", "<f4"), ("b", "<i4")]))


@pytest.mark.parametrize(
    ("write", "kind"),
    [(write_ragged, "variable-length"), (write_strings, "string"), (write_compound, "compound")],
)
def test_non_numeric_dtypes_are_refused_for_arrays_read(tmp_path, write, kind):
    path = tmp_path / "dtype.h5"
    with scan_file(path) as file:
        write(file)
        del file["xcoords"]
        file["xcoords"] = file["bad"]
    with h5py.File(path, "r") as file:
        audit_hdf5(file)  # the tree itself is fine; only reading such an array is refused
        with pytest.raises(InvalidInputError, match=f"xcoords \\(/xcoords\\) has dtype {kind}"):
            check_readable_array(file["xcoords"], "xcoords")
    with pytest.raises(InvalidInputError, match="xcoords"):
        open_dataset(path)
