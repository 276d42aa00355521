"""Statistics: PatchStatsLogger fields against torch formulas, canvas stats against PtychoPINN's stats.json."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from ptycho_gui.engine.grouping import group_positions
from ptycho_gui.engine.statistics import (
    StatsHistory,
    batch_statistics,
    canvas_statistics,
    patch_stats_logger_entry,
)
from ptycho_gui.engine.stitching import stitch
from ptycho_gui.types import BatchStats, Canvas


def _torch_reference(patches: np.ndarray) -> dict:
    """PtychoPINN's PatchStatsLogger formulas in torch float64 on the float32 |t| and angle of the patches.

    (|t| comes from NumPy: torch's float32 complex abs rounds some values one ulp differently.)
    """
    a = torch.from_numpy(np.abs(patches)).double()
    phase = torch.from_numpy(np.angle(patches)).double()
    flat = a.reshape(a.shape[0], -1)
    return {
        "global_mean": a.mean().item(),
        "global_std": torch.std(a).item(),
        "var_zero_mean": ((a - a.mean(dim=(2, 3), keepdim=True)) ** 2).mean().item(),
        "per_patch_mean": flat.mean(dim=1).numpy(),
        "per_patch_std": flat.std(dim=1).numpy(),
        "per_patch_min": flat.min(dim=1).values.numpy(),
        "per_patch_max": flat.max(dim=1).values.numpy(),
        "amp_min": a.min().item(),
        "amp_max": a.max().item(),
        "phase_mean": phase.mean().item(),
        "phase_std": torch.std(phase).item(),
    }


def _assert_matches(stats: BatchStats, expected: dict, rtol: float) -> None:
    for name, value in expected.items():
        np.testing.assert_allclose(getattr(stats, name), value, rtol=rtol, atol=1e-12, err_msg=name)


def test_batch_statistics_match_torch_formulas_on_random_data():
    rng = np.random.default_rng(3)
    shape = (5, 4, 16, 16)
    patches = (rng.gamma(2.0, 1.5, shape) * np.exp(1j * rng.uniform(-3, 3, shape))).astype(np.complex64)
    stats = batch_statistics(patches, input_scale=1.7)
    _assert_matches(stats, _torch_reference(patches), rtol=1e-9)
    assert stats.nonfinite == 0 and stats.input_scale == 1.7
    assert stats.per_patch_mean.shape == (5,)


def test_batch_statistics_match_torch_formulas_on_network_patches(generated_reference):
    patches = generated_reference["pred_patches"][:32]
    _assert_matches(batch_statistics(patches, 1.0), _torch_reference(patches), rtol=1e-9)


def test_patch_amplitude_matches_ptychopinn_debug_dump(workflow_reference, ptychopinn_dir):
    """stats.json's patch_amplitude is over these very patches (population std there, unbiased here)."""
    dump = json.loads((ptychopinn_dir / "reference" / "gs2_debug_dump" / "stats.json").read_text())
    expected = dump["patch_amplitude"]
    patches = workflow_reference["pred_patches"]
    stats = batch_statistics(patches, 1.0)
    count = patches.size
    assert stats.global_mean == pytest.approx(expected["mean"], rel=1e-6)
    assert stats.global_std * np.sqrt((count - 1) / count) == pytest.approx(expected["std"], rel=1e-6)
    assert stats.var_zero_mean == pytest.approx(expected["var_zero_mean"], rel=1e-6)
    assert stats.amp_min == pytest.approx(expected["min"], rel=1e-6)
    assert stats.amp_max == pytest.approx(expected["max"], rel=1e-6)


def test_nonfinite_values_are_counted_and_left_out():
    rng = np.random.default_rng(4)
    patches = (rng.normal(size=(3, 2, 8, 8)) + 1j * rng.normal(size=(3, 2, 8, 8))).astype(np.complex64)
    dirty = patches.copy()
    dirty[0, 1, 2, 3] = np.nan
    dirty[2, 0, 0, 0] = complex(np.inf, 0.0)
    dirty[1] = np.nan
    stats = batch_statistics(dirty, 1.0)
    assert stats.nonfinite == 2 + 2 * 64
    finite = np.isfinite(dirty)
    amp = np.abs(patches).astype(np.float64)
    kept = amp[finite]
    assert stats.global_mean == pytest.approx(kept.mean(), rel=1e-12)
    assert stats.global_std == pytest.approx(kept.std(ddof=1), rel=1e-12)
    assert stats.amp_max == pytest.approx(kept.max(), rel=1e-12)
    assert stats.phase_mean == pytest.approx(np.angle(patches).astype(np.float64)[finite].mean(), rel=1e-12)
    image_means = np.where(finite, amp, 0.0).sum(axis=(2, 3)) / np.maximum(finite.sum(axis=(2, 3)), 1)
    deviations = (amp - image_means[:, :, None, None]) ** 2
    assert stats.var_zero_mean == pytest.approx(deviations[finite].mean(), rel=1e-12)
    assert stats.per_patch_mean[0] == pytest.approx(amp[0][finite[0]].mean(), rel=1e-12)
    assert stats.per_patch_std[2] == pytest.approx(amp[2][finite[2]].std(ddof=1), rel=1e-12)
    assert np.isnan(stats.per_patch_mean[1]) and np.isnan(stats.per_patch_min[1])
    assert np.isnan(stats.per_patch_std[1]) and np.isnan(stats.per_patch_max[1])


def test_all_nonfinite_batch_gives_nan_not_an_error():
    stats = batch_statistics(np.full((2, 1, 4, 4), np.nan, dtype=np.complex64), 1.0)
    assert stats.nonfinite == 32
    assert np.isnan(stats.global_mean) and np.isnan(stats.global_std) and np.isnan(stats.amp_max)


def test_canvas_statistics_match_ptychopinn_stats_json(workflow_reference, ptychopinn_dir, shared_dataset_path):
    dump = json.loads((ptychopinn_dir / "reference" / "gs2_debug_dump" / "stats.json").read_text())
    reference = Canvas(
        image=workflow_reference["canvas"],
        weight=(np.abs(workflow_reference["canvas"]) > 0).astype(np.float32),
        center_xy=(0.0, 0.0),
        stitch="ptychopinn-bridge",
        crop=20,
    )
    with np.load(shared_dataset_path, allow_pickle=False) as data:
        positions = group_positions(workflow_reference["groups"], data["xcoords"], data["ycoords"])
    ours = stitch("ptychopinn-bridge", 20, positions, workflow_reference["pred_patches"])
    for canvas in (reference, ours):
        summary = canvas_statistics(canvas)["canvas_amplitude"]
        for key, value in dump["canvas_amplitude"].items():
            assert summary[key] == pytest.approx(value, rel=1e-5, abs=1e-6), key


def test_canvas_statistics_covered_region_and_frame(generated_reference):
    ref = generated_reference
    positions = group_positions(ref["groups"], ref["xcoords"], ref["ycoords"])
    canvas = stitch("position", 20, positions, ref["pred_patches"])
    result = canvas_statistics(canvas)
    covered = canvas.weight > 1e-6
    amplitude = np.abs(canvas.image[covered]).astype(np.float64)
    assert result["covered_amplitude"]["mean"] == pytest.approx(amplitude.mean(), rel=1e-12)
    assert result["covered_amplitude"]["min"] == pytest.approx(amplitude.min(), rel=1e-12)
    assert result["covered_phase"]["std"] == pytest.approx(np.angle(canvas.image[covered]).std(), rel=1e-6)
    assert result["coverage_fraction"] == pytest.approx(covered.mean())
    assert result["shape"] == list(canvas.image.shape)
    assert result["center_xy"] == list(canvas.center_xy)
    json.dumps(result)


def _stats(value: float) -> BatchStats:
    per = np.full(2, value)
    return BatchStats(value, value, value, value, value, value, value, 0, value, per, per, per, per)


def test_stats_history_stores_by_index_with_nan_gaps():
    history = StatsHistory(4)
    history.record(2, _stats(2.0))
    history.record(0, _stats(0.5))
    arrays = history.as_arrays()
    assert set(arrays) == set(BatchStats.scalar_names())
    np.testing.assert_array_equal(arrays["global_mean"], [0.5, np.nan, 2.0, np.nan])
    np.testing.assert_array_equal(history.recorded, [True, False, True, False])
    arrays["global_mean"][:] = 9.0
    assert history.as_arrays()["global_mean"][0] == 0.5
    with pytest.raises(IndexError):
        history.record(4, _stats(1.0))


def test_patch_stats_logger_entry_has_ptychopinn_fields_for_every_patch(generated_reference):
    patches = generated_reference["pred_patches"][:10]
    stats = batch_statistics(patches, 1.0)
    entry = patch_stats_logger_entry(stats, batch_idx=3, batch_size=10)
    fields = ["phase", "batch_idx", "batch_size", "global_mean", "global_std", "var_zero_mean", "per_patch"]
    assert list(entry) == fields
    assert entry["phase"] == "inference" and entry["batch_idx"] == 3 and entry["batch_size"] == 10
    assert len(entry["per_patch"]) == 10
    assert entry["per_patch"][7] == {
        "mean": pytest.approx(float(np.abs(patches[7]).mean()), rel=1e-6),
        "std": pytest.approx(float(torch.std(torch.from_numpy(np.abs(patches[7])))), rel=1e-5),
        "min": pytest.approx(float(np.abs(patches[7]).min()), rel=1e-6),
        "max": pytest.approx(float(np.abs(patches[7]).max()), rel=1e-6),
    }
    json.dumps(entry)
