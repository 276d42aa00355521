"""``ptycho-inspect sweep``: rows equal to ``metrics --json``, identical in-process and on Dask, fault tolerant,
and a scan sharded across workers (``--shards``) stitches the canvas and writes the rows of a single run."""

from __future__ import annotations

import csv
import json
import os
import signal
from pathlib import Path

import h5py
import numpy as np
import pytest

from ptycho_gui.cli import main
from ptycho_gui.engine.run import InferenceRun
from ptycho_gui.io.checkpoints import open_checkpoint
from ptycho_gui.io.datasets import open_dataset
from ptycho_gui.io.reconstruction_file import open_reconstruction
from ptycho_gui.sweep.execute import run_on_client, run_sweep
from ptycho_gui.sweep.pairs import expand_checkpoints, make_pairs
from ptycho_gui.sweep.shards import sharded_canvas
from ptycho_gui.types import RunSettings

distributed = pytest.importorskip("distributed")

SMALL = ["--n-groups", "16", "--batch-size", "8", "--prefetch", "0"]
SETTINGS = RunSettings(n_groups=16, batch_size=8, keep_patches=False, prefetch=0)


def _metrics_cli(reconstruction: str, dataset: str, capsys) -> dict:
    """What ``ptycho-inspect metrics RECON --truth DATASET --json`` prints."""
    capsys.readouterr()
    assert main(["metrics", reconstruction, "--truth", dataset, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def _sweep(tmp: Path, checkpoints: list[Path], datasets: list[Path], *extra: str) -> list[dict]:
    code = main(["sweep", *map(str, checkpoints), "--data", *map(str, datasets), "-o", str(tmp), *SMALL, *extra])
    assert code == 0
    return json.loads((tmp / "sweep.json").read_text())["rows"]


def _comparable(row: dict) -> dict:
    """A row without what legitimately differs between two sweeps (run time, output folder)."""
    return {k: v for k, v in row.items() if k not in ("seconds", "reconstruction")}


@pytest.fixture(scope="module")
def cluster():
    """A 2-worker LocalCluster (one thread each), shared by the tests that do not kill workers."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as c:
        yield c


def test_generated_sweep_rows_match_metrics_and_failures_get_a_reason(generated_files, tmp_path, capsys):
    listing = tmp_path / "checkpoints.txt"
    listing.write_text(f"# models\n{generated_files.bundle}\n{generated_files.ckpt}\n")
    not_a_scan = generated_files.bundle
    rows = _sweep(tmp_path / "out", [listing], [generated_files.dataset, not_a_scan], "--workers", "1")
    assert [(Path(r["checkpoint"]["path"]).name, Path(r["dataset"]).name) for r in rows] == [
        ("wts.h5.zip", "small_scan.npz"), ("wts.h5.zip", "wts.h5.zip"),
        ("last.ckpt", "small_scan.npz"), ("last.ckpt", "wts.h5.zip")]
    ok, failed = rows[0::2], rows[1::2]
    for row in ok:
        assert row["status"] == "ok" and row["groups"] == 16
        assert set(row["checkpoint"]) == {"path", "sha256", "format", "family", "gridsize"}
        assert row["checkpoint"]["gridsize"] == 2 and len(row["checkpoint"]["sha256"]) == 64
        assert row["metrics"] == _metrics_cli(row["reconstruction"], row["dataset"], capsys)
        assert row["residual_nmse_mean"] > 0
    for row in failed:
        assert row["status"] == "failed" and "not a dataset" in row["reason"] and row["metrics"] is None
    table = list(csv.DictReader((tmp_path / "out" / "sweep.csv").open()))
    assert [t["status"] for t in table] == ["ok", "failed", "ok", "failed"]
    assert float(table[0]["amplitude_ssim"]) == ok[0]["metrics"]["amplitude"]["ssim"]
    page = (tmp_path / "out" / "sweep.html").read_text()
    assert page.count("<figure>") == 2 and "<th>amplitude_ssim</th>" in page
    assert (tmp_path / "out" / "thumbnails" / "000.png").stat().st_size > 0


def test_folders_are_searched_for_checkpoints_by_content(generated_files, tmp_path):
    folder = tmp_path / "models" / "nested"
    folder.mkdir(parents=True)
    (folder / "model_a").write_bytes(generated_files.ckpt.read_bytes())
    (folder / "notes.txt").write_text("not a checkpoint")
    assert expand_checkpoints([tmp_path / "models"]) == [folder / "model_a"]


def test_local_cluster_gives_the_in_process_table(generated_files, tmp_path, cluster):
    checkpoints, datasets = [generated_files.bundle, generated_files.ckpt], [generated_files.dataset]
    alone = _sweep(tmp_path / "alone", checkpoints, datasets, "--workers", "1")
    on_dask = _sweep(tmp_path / "dask", checkpoints, datasets, "--scheduler", cluster.scheduler_address)
    assert [_comparable(r) for r in on_dask] == [_comparable(r) for r in alone]
    assert all(r["status"] == "ok" for r in on_dask)


def test_a_sharded_scan_gives_the_canvas_of_a_single_run(generated_files, cluster):
    settings = RunSettings(n_groups=40, batch_size=8, keep_patches=False, prefetch=0)
    with open_dataset(generated_files.dataset) as scan:
        single = InferenceRun(open_checkpoint(generated_files.bundle), scan, settings).execute().canvas
    with distributed.Client(cluster) as client:
        merged = sharded_canvas(client, str(generated_files.bundle), str(generated_files.dataset), settings, 3)
    assert merged.center_xy == single.center_xy and merged.image.shape == single.image.shape
    assert np.abs(merged.weight - single.weight).max() <= 1e-6 * np.abs(single.weight).max()
    assert np.abs(merged.image - single.image).max() <= 1e-6 * np.abs(single.image).max()


def _canvases_agree(a_path: str, b_path: str) -> None:
    a, b = open_reconstruction(a_path).canvas, open_reconstruction(b_path).canvas
    assert a.center_xy == b.center_xy and a.image.shape == b.image.shape
    assert np.abs(a.weight - b.weight).max() <= 1e-6 * np.abs(b.weight).max()
    assert np.abs(a.image - b.image).max() <= 1e-6 * np.abs(b.image).max()


def test_cli_shards_give_the_canvas_and_rows_of_an_unsharded_sweep(generated_files, tmp_path):
    checkpoints, datasets = [generated_files.bundle], [generated_files.dataset]
    single = _sweep(tmp_path / "one", checkpoints, datasets, "--workers", "1", "--shards", "1")
    sharded = _sweep(tmp_path / "two", checkpoints, datasets, "--workers", "1", "--shards", "2")
    assert [_comparable(r) for r in sharded] == [_comparable(r) for r in single]
    assert single[0]["status"] == "ok" and single[0]["metrics"] is not None
    _canvases_agree(sharded[0]["reconstruction"], single[0]["reconstruction"])
    with h5py.File(sharded[0]["reconstruction"]) as written, h5py.File(single[0]["reconstruction"]) as reference:
        assert np.array_equal(written["patches"][()], reference["patches"][()])
        assert sorted(written["stats"]) == sorted(reference["stats"])


def test_shards_on_a_cluster_include_empty_shards_and_fail_like_a_pair(generated_files, tmp_path, cluster):
    pairs = make_pairs([generated_files.bundle, generated_files.dataset], [generated_files.dataset], tmp_path / "a")
    single = run_sweep(pairs, SETTINGS, lambda row: None, workers=1)
    with distributed.Client(cluster) as client:
        sharded = run_on_client(client, make_pairs([generated_files.bundle, generated_files.dataset],
                                                   [generated_files.dataset], tmp_path / "b"),
                                SETTINGS, lambda row: None, shards=3)
    assert [_comparable(sharded[i]) for i in range(2)] == [_comparable(r) for r in single]
    assert sharded[1]["status"] == "failed" and sharded[1]["reason"]
    _canvases_agree(sharded[0]["reconstruction"], single[0]["reconstruction"])


def test_sweep_help_documents_shards(capsys):
    with pytest.raises(SystemExit):
        main(["sweep", "--help"])
    assert "--shards N" in capsys.readouterr().out


def test_one_worker_runs_in_process(generated_files, tmp_path):
    pairs = make_pairs([generated_files.bundle], [generated_files.dataset], tmp_path)
    rows = run_sweep(pairs, SETTINGS, lambda row: None, workers=1)
    assert rows[0]["status"] == "ok" and Path(rows[0]["reconstruction"]).is_file()


def test_shared_fixture_sweep_matches_metrics(shared_bundle_path, shared_ckpt_path, shared_dataset_path,
                                              ptychopinn_dir, tmp_path, capsys):
    tf_folder = ptychopinn_dir.parent / "ptychopinn-tf" / "head_gs2_swish_s1"
    rows = _sweep(tmp_path, [shared_bundle_path, shared_ckpt_path, tf_folder], [shared_dataset_path],
                  "--workers", "1")
    assert [r["checkpoint"]["format"] for r in rows][:2] == ["ptychopinn-bundle", "lightning-ckpt"]
    assert len(rows) == 3
    for row in rows:
        assert row["status"] == "ok", row["reason"]
        assert row["metrics"] == _metrics_cli(row["reconstruction"], row["dataset"], capsys)
        assert row["residual_nmse_mean"] is not None


def test_stitcher_partial_sums_merge_exactly_and_refuse_a_group_twice():
    from ptycho_gui.engine.stitching import Stitcher

    rng = np.random.default_rng(0)
    positions = rng.uniform(0, 30, (12, 4, 2))
    patches = (rng.normal(size=(12, 4, 16, 16)) + 1j * rng.normal(size=(12, 4, 16, 16))).astype(np.complex64)
    whole, merged = Stitcher("position", 8, 16, positions), Stitcher("position", 8, 16, positions)
    whole.add(np.arange(12), patches)
    for part in (np.arange(0, 5), np.arange(5, 12)):
        shard = Stitcher("position", 8, 16, positions)
        shard.add(part, patches[part])
        merged.merge_partial(*shard.partial_sums())
    np.testing.assert_allclose(merged.canvas().image, whole.canvas().image, rtol=1e-6, atol=1e-7)
    with pytest.raises(ValueError, match="added twice"):
        merged.merge_partial(*shard.partial_sums())


def test_a_missing_checkpoint_argument_is_invalid_input(generated_files, tmp_path, capsys):
    code = main(["sweep", str(tmp_path / "nowhere"), "--data", str(generated_files.dataset), "-o", str(tmp_path)])
    assert code == 3
    assert "nowhere: file not found" in capsys.readouterr().err


def test_a_killed_worker_still_yields_every_row_once(generated_files, tmp_path, cluster):
    """Last in this module: it kills one of the shared cluster's workers (its nanny starts a new one)."""
    checkpoints = [generated_files.bundle, generated_files.ckpt] * 2
    pairs = make_pairs(checkpoints, [generated_files.dataset], tmp_path)
    delivered, killed = [], []
    with distributed.Client(cluster) as client:

        def kill_a_busy_worker(row: dict) -> None:
            delivered.append(row["index"])
            busy = [address for address, keys in client.processing().items() if keys]
            if not killed and busy:
                pid = client.run(os.getpid, workers=[busy[0]])[busy[0]]
                os.kill(pid, signal.SIGKILL)
                killed.append(busy[0])

        rows = run_on_client(client, pairs, SETTINGS, kill_a_busy_worker)
    assert killed, "no worker was busy when the first row arrived"
    assert sorted(delivered) == sorted(rows) == list(range(len(pairs)))
    assert all(rows[i]["status"] == "ok" for i in rows)
