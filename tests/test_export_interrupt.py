"""An export interrupted halfway never leaves a partial file under the destination name: a writer killed
with SIGKILL mid-write, and a write failing mid-file (full disk) for every format, old files kept intact."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
from matplotlib.backends import backend_pdf, backend_svg
from PIL import ImageFile

from ptycho_gui.engine.statistics import batch_statistics
from ptycho_gui.export.atomic import ExportError
from ptycho_gui.export.data import DataSelection, write_data
from ptycho_gui.export.images import write_figure, write_tiff
from ptycho_gui.render.annotations import Provenance
from ptycho_gui.render.colormaps import ImageStyle
from ptycho_gui.render.patch_grid import PatchTiles, render_patch_grid
from ptycho_gui.types import BatchResult, RunSettings

PROVENANCE = Provenance("wts.h5.zip", "scan.npz", "position", 20, "bridge", "cpu", "2026-01-01 00:00 UTC")

SLOW_WRITER = textwrap.dedent(
    """
    import sys, time
    import numpy as np
    from PIL import TiffImagePlugin
    from ptycho_gui.export.images import write_tiff

    new_frame = TiffImagePlugin.AppendingTiffWriter.newFrame
    def slow_new_frame(self):
        time.sleep(0.02)
        return new_frame(self)
    TiffImagePlugin.AppendingTiffWriter.newFrame = slow_new_frame
    pages = [np.full((256, 256), k, np.float32) for k in range(2000)]
    write_tiff(pages, sys.argv[1])
    """
)


def _full_disk(*_args, **_kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def _partial_then_full(fp_index: int):
    """A replacement writer that puts some bytes into its file argument, then fails like a full disk."""
    def write(*args, **_kwargs):
        fp = args[fp_index]
        fp.write(b"partial data " * 1000)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    return write


def test_a_writer_killed_mid_write_leaves_no_file_under_the_destination_name(tmp_path):
    destination = tmp_path / "pages.tiff"
    script = tmp_path / "slow_writer.py"
    script.write_text(SLOW_WRITER)
    process = subprocess.Popen([sys.executable, str(script), str(destination)])
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            parts = list(tmp_path.glob(".pages.tiff.*.part"))
            if parts and parts[0].stat().st_size > 1_000_000:
                break
            assert process.poll() is None, "the writer ended before it could be killed"
            time.sleep(0.02)
        else:
            pytest.fail("the writer never started writing")
        assert not destination.exists()
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == -signal.SIGKILL
    assert not destination.exists()
    assert list(tmp_path.glob(".pages.tiff.*.part")), "only the hidden temporary file may remain"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("pages")] == []


def _figure():
    rng = np.random.default_rng(0)
    patches = (rng.random((2, 4, 16, 16)) + 0j).astype(np.complex64)
    result = BatchResult(0, np.arange(2), rng.integers(0, 9, (2, 4)), rng.random((2, 4, 2)), patches,
                         batch_statistics(patches, 1.0), 0.1, 1.0)
    return result, render_patch_grid(PatchTiles.from_batches([result]), ImageStyle(), PROVENANCE, "t")


def _selection(result: BatchResult) -> DataSelection:
    return DataSelection([result], RunSettings(), PROVENANCE)


CASES = {
    "png": (ImageFile, "_save", _partial_then_full(1)),
    "tiff": (ImageFile, "_save", _partial_then_full(1)),
    "svg": (backend_svg.RendererSVG, "draw_image", _full_disk),
    "pdf": (backend_pdf.RendererPdf, "draw_text", _full_disk),
    "npz": (np.lib.format, "write_array", _partial_then_full(0)),
    "h5": (h5py.Group, "create_dataset", _full_disk),
}


@pytest.mark.parametrize("fmt", list(CASES))
def test_a_write_failing_mid_file_leaves_nothing_and_keeps_the_old_file(fmt, tmp_path, monkeypatch):
    result, figure = _figure()
    fresh, kept = tmp_path / f"new.{fmt}", tmp_path / f"old.{fmt}"
    kept.write_bytes(b"the previous export")

    def export(path: Path, overwrite: bool) -> Path:
        if fmt in ("npz", "h5"):
            return write_data(_selection(result), path, fmt, overwrite)
        if fmt == "tiff":
            return write_tiff([np.zeros((8, 8), np.float32)] * 3, path, overwrite=overwrite)
        return write_figure(figure, path, fmt, overwrite)

    owner, name, failing = CASES[fmt]
    monkeypatch.setattr(owner, name, failing)
    for path, overwrite in ((fresh, False), (kept, True)):
        with pytest.raises(ExportError, match="No space left on device"):
            export(path, overwrite)
    assert not fresh.exists()
    assert kept.read_bytes() == b"the previous export"
    assert sorted(p.name for p in tmp_path.iterdir()) == [kept.name]
    monkeypatch.undo()
    assert export(fresh, False).stat().st_size > 0


def test_atomic_writes_get_ordinary_file_permissions(tmp_path):
    import os
    import stat

    from ptycho_gui.export.atomic import FILE_MODE, write_text_atomic

    path = write_text_atomic(tmp_path / "a.json", "{}")
    assert stat.S_IMODE(os.stat(path).st_mode) == FILE_MODE
