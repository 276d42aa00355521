"""``ptycho-inspect run`` writes residual and metrics; ``ptycho-inspect metrics`` scores a saved reconstruction."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest

from ptycho_gui.cli import main
from ptycho_gui.io.reconstruction_file import open_reconstruction, read_patches


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("demo_run")
    assert main(["run", "--demo", "-o", str(out), "--n-groups", "48", "--batch-size", "16"]) == 0
    return out / "reconstruction.h5"


def test_run_writes_residual_and_metrics(demo_run: Path):
    with h5py.File(demo_run, "r") as file:
        assert file["residual_nmse"].shape == (48, 1)
        assert np.isfinite(file["residual_nmse"][()]).all()
        assert file["stats/residual_nmse_mean"].shape == (3,)
        assert file["residual_nmse"].attrs["scale"] > 0
        metrics = json.loads(file["metrics"].attrs["json"])
        assert metrics["pixels"] > 0 and file["metrics"].attrs["amplitude_corr"] == metrics["amplitude"]["corr"]
        assert file["metrics/frc_curve"].shape == file["metrics/frc_frequency"].shape


def test_saved_reconstruction_reopens(demo_run: Path):
    saved = open_reconstruction(demo_run)
    assert saved.canvas.image.shape == saved.canvas.weight.shape
    assert saved.groups.shape == (48, 1) and saved.residual_nmse.shape == (48, 1)
    assert read_patches(demo_run, np.array([3, 1])).shape[:2] == (2, 1)


def test_metrics_against_the_true_object(demo_run: Path, capsys):
    from ptycho_gui.demo import demo_paths

    assert main(["metrics", str(demo_run), "--truth", str(demo_paths()[1]), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert set(document) == {"shift_xy", "pixels", "amplitude", "phase", "frc"}
    assert -1.0 <= document["amplitude"]["corr"] <= 1.0
    assert main(["metrics", str(demo_run), "--truth", str(demo_paths()[1])]) == 0
    assert "amplitude ssim" in capsys.readouterr().out


def test_metrics_of_a_run_against_itself_is_zero_error(demo_run: Path, capsys):
    assert main(["metrics", str(demo_run), "--truth", str(demo_run), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["shift_xy"] == [0.0, 0.0]
    assert document["amplitude"]["rmse"] == pytest.approx(0.0, abs=1e-6)
    assert document["amplitude"]["ssim"] == pytest.approx(1.0)
    assert document["amplitude"]["psnr_db"] >= 100
    assert document["phase"]["rmse_rad"] == pytest.approx(0.0, abs=1e-6)


def test_metrics_refuses_a_truth_without_object(demo_run: Path, tmp_path: Path, capsys):
    scan = tmp_path / "scan.npz"
    np.savez(scan, diff3d=np.ones((4, 8, 8), np.float32), xcoords=np.arange(4.0), ycoords=np.arange(4.0))
    assert main(["metrics", str(demo_run), "--truth", str(scan)]) == 3
    assert "objectGuess" in capsys.readouterr().err
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"not hdf5")
    assert main(["metrics", str(junk), "--truth", str(scan)]) == 3


def test_export_diffraction_npz_per_batch(tmp_path: Path, capsys):
    out = tmp_path / "export"
    assert main(["export", "--demo", "-o", str(out), "--what", "diffraction", "--format", "npz", "--batches", "0,2",
                 "--n-groups", "48", "--batch-size", "16"]) == 0
    written = sorted(p.name for p in out.iterdir())
    assert written == ["diffraction_batch0000.npz", "diffraction_batch0002.npz"]
    with np.load(out / "diffraction_batch0002.npz", allow_pickle=False) as data:
        assert data["predicted"].dtype == np.float32 and data["predicted"].shape == (16, 1, 64, 64)
        assert data["measured"].shape == data["predicted"].shape and data["measured"].dtype == np.float32
        assert data["residual_nmse"].shape == (16, 1)
        predicted, measured = data["predicted"].astype(np.float64), data["measured"].astype(np.float64)
        nmse = ((predicted - measured) ** 2).sum(axis=(-2, -1)) / (measured**2).sum(axis=(-2, -1))
        assert np.allclose(data["residual_nmse"], nmse, rtol=1e-4)


def test_metrics_refuses_an_hdf5_that_is_not_a_reconstruction(demo_run: Path, tmp_path: Path, capsys):
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as file:
        file.create_dataset("canvas", data=np.zeros((4, 4), np.complex64))
    assert main(["metrics", str(other), "--truth", str(demo_run)]) == 3
    assert "missing" in capsys.readouterr().err


def test_run_of_a_group_merging_tf_model_writes_a_residual_per_member(tmp_path: Path, dataset_path: Path):
    """A TF gridsize-2 bundle returns one merged patch per group; the residual is still one value per pattern."""
    from tf_bundle_factory import build_tf_bundle

    bundle = build_tf_bundle(gridsize=2).write(tmp_path / "wts.h5.zip")
    assert main(["run", str(bundle), str(dataset_path), "-o", str(tmp_path / "out"), "--device", "cpu"]) == 0
    with h5py.File(tmp_path / "out" / "reconstruction.h5") as f:
        nmse = f["residual_nmse"][()]
        assert nmse.shape == (f["groups"].shape[0], 4)
        assert np.isfinite(nmse).all()
