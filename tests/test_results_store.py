"""The Qt-free results store (``engine/results.py``): batches kept once, rebuilt from the table, re-stitched without
the network, and the same canvas as the headless run."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from ptycho_gui.engine.results import plan
from ptycho_gui.engine.stitching import stitch
from ptycho_gui.io.checkpoints import open_checkpoint
from ptycho_gui.io.datasets import open_dataset
from ptycho_gui.types import RunSettings

SETTINGS = RunSettings(device="cpu", batch_size=16, n_groups=32, num_threads=1)


def test_the_store_keeps_each_batch_once_and_restitches_from_its_table(bundle_path, dataset_path):
    run, results = plan(open_checkpoint(bundle_path), open_dataset(dataset_path), SETTINGS)
    first = run.compute_batch(1)
    assert results.canvas() is None
    assert results.accept(first) and not results.accept(first)
    assert results.done == {1} and not results.finished
    np.testing.assert_array_equal(results.batch(1).patches, first.patches)
    results.accept(run.compute_batch(0))
    assert results.finished
    patches = results.store.get(np.arange(run.n_groups))
    np.testing.assert_allclose(results.canvas().image,
                               stitch(SETTINGS.stitch, SETTINGS.crop, run.positions, patches).image, atol=1e-5)
    bridge = results.restitched(run.new_stitcher("ptychopinn-bridge", SETTINGS.crop), [0])
    results.adopt(bridge, frozenset({0}))
    np.testing.assert_allclose(results.canvas().image,
                               stitch("ptychopinn-bridge", SETTINGS.crop, run.positions, patches).image, atol=1e-5)
    results.close()


def test_planning_refuses_what_the_run_refuses(bundle_path, dataset_path):
    with pytest.raises(ValueError):
        plan(open_checkpoint(bundle_path), open_dataset(dataset_path), dataclasses.replace(SETTINGS, batch_size=0))
