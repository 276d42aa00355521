"""Stitching and statistics on the compute device equal the host's: the device stitcher (run here with
the device a parameter, on CPU) gives the host Stitcher's canvas in every mode, the engine stitches on
the device when the canvas fits and on the host otherwise, and device-side moments give the host's
statistics, non-finite values included."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ptycho_gui.demo import demo_paths
from ptycho_gui.engine import run as run_module
from ptycho_gui.engine.device_stitching import DeviceStitcher, canvas_bytes
from ptycho_gui.engine.run import InferenceRun
from ptycho_gui.engine.statistics import batch_statistics, statistics_from_moments, tensor_image_moments
from ptycho_gui.engine.stitching import Stitcher
from ptycho_gui.io.checkpoints import open_checkpoint
from ptycho_gui.io.datasets import open_dataset
from ptycho_gui.types import STITCH_MODES, RunSettings

DEVICE = torch.device("cpu")


def _random_batch(seed: int, groups: int = 30, channels: int = 4, n: int = 16):
    rng = np.random.default_rng(seed)
    positions = rng.uniform(10, 60, size=(groups, channels, 2))
    patches = (rng.normal(size=(groups, channels, n, n)) + 1j * rng.normal(size=(groups, channels, n, n)))
    return positions, patches.astype(np.complex64)


@pytest.mark.parametrize("mode", STITCH_MODES)
def test_device_stitcher_equals_host_stitcher(mode: str):
    positions, patches = _random_batch(1)
    host = Stitcher(mode, 8, 16, positions)
    device = DeviceStitcher(mode, 8, 16, positions, DEVICE)
    for batch in (np.arange(20, 30), np.arange(0, 7), np.arange(7, 20)):
        host.add(batch, patches[batch])
        device.add(batch, torch.from_numpy(patches[batch]).to(DEVICE))
        assert device.last_add_updates == host.last_add_updates and device.n_added == host.n_added
    a, b = host.canvas(), device.canvas()
    np.testing.assert_allclose(b.image, a.image, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(b.weight, a.weight, rtol=1e-12, atol=1e-12)
    assert (b.center_xy, b.stitch, b.crop, b.mirrored) == (a.center_xy, a.stitch, a.crop, a.mirrored)
    with pytest.raises(ValueError, match="added twice"):
        device.add(np.arange(0, 1), patches[:1])
    device.reset()
    assert not device.canvas().weight.any()


def test_engine_stitches_on_the_device_when_the_canvas_fits_else_on_the_host(monkeypatch):
    checkpoint, dataset = demo_paths()
    run = InferenceRun(open_checkpoint(checkpoint), open_dataset(dataset),
                       RunSettings(device="cpu", batch_size=16, n_groups=48))
    stitcher = run.run_stitcher()
    assert isinstance(stitcher, DeviceStitcher) and stitcher.device == DEVICE
    output = run.execute()
    host = run.new_stitcher()
    host.add(np.arange(run.n_groups), output.patches.get(np.arange(run.n_groups)))
    np.testing.assert_allclose(output.canvas.image, host.canvas().image, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(output.canvas.weight, host.canvas().weight, rtol=1e-12, atol=1e-12)
    too_small = canvas_bytes(stitcher) * 2
    monkeypatch.setattr(run_module, "free_memory", lambda device: too_small)
    assert type(run.run_stitcher()) is Stitcher


def test_device_moments_give_the_host_statistics_nonfinite_included():
    _, patches = _random_batch(2, groups=5)
    patches[1, 2, 3, 4] = np.nan
    patches[3] = np.inf
    host = batch_statistics(patches, 0.5)
    device = statistics_from_moments(tensor_image_moments(torch.from_numpy(patches).to(DEVICE)).cpu().numpy(),
                                     16 * 16, 0.5)
    assert device.nonfinite == host.nonfinite == 1 + 4 * 16 * 16
    # torch's and numpy's complex64 |z| and arg z may differ by one float32 ulp per element.
    for name, value in host.scalars().items():
        np.testing.assert_allclose(device.scalars()[name], value, rtol=1e-6, equal_nan=True, err_msg=name)
    for name in ("per_patch_mean", "per_patch_std", "per_patch_min", "per_patch_max"):
        np.testing.assert_allclose(getattr(device, name), getattr(host, name), rtol=1e-6, equal_nan=True)
