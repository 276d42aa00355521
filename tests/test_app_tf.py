"""The desktop app on a TensorFlow bundle: it opens, runs every batch, stores one merged patch per group at
the group centre, matches the headless engine, and the Offsets dock still lists every member."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from app_harness import open_fixture, run_to_end
from tf_bundle_factory import build_tf_bundle

from ptycho_gui.engine.run import InferenceRun
from ptycho_gui.types import RunSettings


def test_gui_runs_a_tf_gridsize2_bundle_like_the_headless_engine(qtbot, make_window, tmp_path: Path):
    bundle = build_tf_bundle(gridsize=2).write(tmp_path / "wts.h5.zip")
    rng = np.random.default_rng(0)
    scan = tmp_path / "scan.npz"
    np.savez(scan, xcoords=rng.uniform(40, 70, 16), ycoords=rng.uniform(40, 70, 16),
             diff3d=rng.random((16, 64, 64)).astype(np.float32))
    window = make_window(RunSettings(device="cpu", batch_size=8, num_threads=1))
    open_fixture(window, bundle, scan)
    session = window.session
    assert (session.model.family, session.model.era) == ("tf-diffraction_to_obj", "current")
    run_to_end(qtbot, window)

    headless = InferenceRun(session.model, session.dataset, session.settings).execute()
    np.testing.assert_array_equal(session.canvas.image, headless.canvas.image)
    assert session.run.positions.shape == (16, 1, 2)
    assert session.current.patches.shape[1] == 1
    table = window.views["offsets"].model
    assert table.rowCount() == session.current.groups.size
