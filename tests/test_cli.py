"""ptycho-inspect: the output layout of `run`, `info`, and exit codes for bad input and usage errors."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest

from ptycho_gui.cli import main


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, bundle_path: Path, dataset_path: Path) -> Path:
    out = tmp_path_factory.mktemp("run")
    code = main(["run", str(bundle_path), str(dataset_path), "-o", str(out), "--batch-size", "32", "--device", "cpu"])
    assert code == 0
    return out


def test_run_shows_progress_on_stderr(tmp_path: Path, bundle_path: Path, dataset_path: Path, capsys):
    code = main(["run", str(bundle_path), str(dataset_path), "-o", str(tmp_path), "--n-groups", "16",
                 "--batch-size", "8", "--device", "cpu"])
    assert code == 0
    assert "batches" in capsys.readouterr().err  # the progress bar


def test_run_writes_reconstruction_h5_layout(run_dir: Path, bundle_path: Path, dataset_path: Path):
    with h5py.File(run_dir / "reconstruction.h5", "r") as f:
        g = f["groups"].shape[0]
        assert f["patches"].dtype == np.complex64 and f["patches"].shape == (g, 4, 64, 64)
        assert f["groups"].dtype == np.int64 and f["groups"].shape == (g, 4)
        assert f["positions"].dtype == np.float64 and f["positions"].shape == (g, 4, 2)
        assert f["input_scale"].shape == () and f["input_scale"].dtype == np.float64
        canvas = f["canvas"]
        assert canvas.dtype == np.complex64 and canvas.ndim == 2
        assert canvas.attrs["stitch"] == "position" and canvas.attrs["crop"] == 20
        assert canvas.attrs["center_xy"].shape == (2,)
        canvas_stats = json.loads(canvas.attrs["statistics_json"])
        assert canvas_stats["coverage_fraction"] == pytest.approx(float((f["canvas_weight"][()] > 1e-6).mean()))
        assert canvas_stats["canvas_amplitude"]["max"] == pytest.approx(float(np.abs(canvas[()]).max()), rel=1e-6)
        assert f["canvas_weight"].dtype == np.float32 and f["canvas_weight"].shape == canvas.shape
        for name in ("global_mean", "global_std", "var_zero_mean"):
            assert f[f"stats/{name}"].dtype == np.float64 and f[f"stats/{name}"].shape == (4,)  # 100 groups / 32
        attrs = dict(f.attrs)
        assert attrs["checkpoint"] == str(bundle_path) and attrs["dataset"] == str(dataset_path)
        assert len(attrs["checkpoint_sha256"]) == 64 and attrs["N"] == 64 and attrs["gridsize"] == 2
        assert attrs["device"] == "cpu" and attrs["ptycho_gui_version"]
        assert np.abs(f["patches"][()]).max() > 0  # every batch was written
        with np.load(dataset_path, allow_pickle=False) as d:
            x, y = d["xcoords"], d["ycoords"]
        groups, positions = f["groups"][()], f["positions"][()]
        np.testing.assert_array_equal(positions[..., 0], x[groups])
        np.testing.assert_array_equal(positions[..., 1], y[groups])


def test_run_writes_ptychopinn_debug_files(run_dir: Path):
    dump = run_dir / "debug_dump"
    offsets = json.loads((dump / "offsets.json").read_text())
    assert offsets["count"] == 100 * 4 and len(offsets["first_offsets_px"]) == 16
    assert set(json.loads((dump / "canvas.json").read_text())) == {
        "patch_size", "canvas_size", "num_patch_slots", "max_abs_dx", "max_abs_dy"}
    stats = json.loads((dump / "stats.json").read_text())
    assert set(stats["patch_amplitude"]) == {"mean", "std", "min", "max", "var_zero_mean"}
    assert (dump / "pred_patches_amp_grid.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    log = json.loads((run_dir / "analysis" / "torch_patch_stats.json").read_text())
    assert [e["batch_idx"] for e in log] == [0, 1, 2, 3]
    assert len(log[0]["per_patch"]) == 32  # every patch, not only four
    grid = run_dir / "analysis" / "torch_patch_grid.png"
    assert grid.stat().st_size > 50_000  # a real image grid, not PtychoPINN's placeholder


def test_run_refuses_to_overwrite_without_force(run_dir: Path, bundle_path: Path, dataset_path: Path, capsys):
    code = main(["run", str(bundle_path), str(dataset_path), "-o", str(run_dir)])
    assert code == 3
    assert "already exist" in capsys.readouterr().err


def test_info_prints_resolved_checkpoint_config(bundle_path: Path, capsys):
    assert main(["info", str(bundle_path), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["kind"] == "checkpoint" and summary["N"] == 64 and summary["gridsize"] == 2
    assert summary["family"] == "cnn" and summary["format"] == "ptychopinn-bundle"
    assert summary["config_sources"]["N"] == "torch_scaling_metadata.pt data_config"
    assert main(["info", str(bundle_path)]) == 0
    text = capsys.readouterr().out
    assert "gridsize: 2" in text and "torch_scaling_metadata.pt" in text


def test_info_prints_dataset_summary(dataset_path: Path, capsys):
    assert main(["info", str(dataset_path), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["kind"] == "dataset"
    assert "100" in json.dumps(summary)


@pytest.mark.parametrize("content", [b"", b"not a checkpoint at all", b"PK\x03\x04broken zip"])
def test_bad_files_exit_3_with_one_line(tmp_path: Path, content: bytes, dataset_path: Path, capsys):
    bad = tmp_path / "bad.ckpt"
    bad.write_bytes(content)
    for args in (["info", str(bad)], ["run", str(bad), str(dataset_path), "-o", str(tmp_path / "o")]):
        code = main(args)
        err = capsys.readouterr().err
        assert code == 3, err
        lines = err.strip().splitlines()
        assert len(lines) == 1 and str(bad) in lines[0] and "Traceback" not in err


def test_missing_file_exit_3(tmp_path: Path, capsys):
    assert main(["info", str(tmp_path / "absent.npz")]) == 3
    assert "absent.npz" in capsys.readouterr().err


def test_usage_errors_exit_2(bundle_path: Path, capsys):
    assert main(["run", str(bundle_path), "-o", "x"]) == 2
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "--stitch", "nonsense"])
    assert exit_info.value.code == 2


def test_debug_dump_matches_ptychopinn_own_dump(tmp_path: Path, shared_bundle_path: Path, shared_dataset_path: Path,
                                                 workflow_reference, ptychopinn_dir: Path):
    groups = tmp_path / "groups.npy"
    np.save(groups, workflow_reference["groups"])
    out = tmp_path / "out"
    assert main(["run", str(shared_bundle_path), str(shared_dataset_path), "-o", str(out), "--groups", str(groups),
                 "--stitch", "ptychopinn-bridge", "--normalization", "bridge", "--device", "cpu"]) == 0
    reference = ptychopinn_dir / "reference" / "gs2_debug_dump"
    for name in ("offsets.json", "canvas.json", "stats.json"):
        ours = json.loads((out / "debug_dump" / name).read_text())
        theirs = json.loads((reference / name).read_text())
        assert _close(ours, theirs), name


def _close(a, b, rel: float = 1e-4) -> bool:
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k], rel) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_close(x, y, rel) for x, y in zip(a, b))
    return a == pytest.approx(b, rel=rel, abs=1e-5)
