"""Files are recognised by content, whatever their names."""

from __future__ import annotations

import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest

from ptycho_gui.errors import InvalidInputError
from ptycho_gui.io.detect import detect_kind


def test_real_files_recognised_under_misleading_names(tmp_path: Path, bundle_path, ckpt_path, dataset_path):
    cases = {bundle_path: "checkpoint", ckpt_path: "checkpoint", dataset_path: "dataset"}
    for source, kind in cases.items():
        disguised = tmp_path / f"{source.stem}.txt"
        shutil.copy(source, disguised)
        assert detect_kind(disguised) == kind


def test_hdf5_scan_recognised(tmp_path: Path):
    path = tmp_path / "scan.bin"
    with h5py.File(path, "w") as f:
        f["diff3d"] = np.zeros((2, 4, 4), np.float32)
    assert detect_kind(path) == "dataset"


@pytest.mark.parametrize("content", [b"hello", b""])
def test_unknown_content_refused_with_the_path(tmp_path: Path, content: bytes):
    path = tmp_path / "thing.npz"
    path.write_bytes(content)
    with pytest.raises(InvalidInputError, match="thing.npz"):
        detect_kind(path)
