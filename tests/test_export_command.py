"""``ptycho-inspect export`` end to end on the generated gridsize-2 files: only the chosen batches are computed
(the whole run for a canvas), files are consistent with each other, overwrite needs --force, an unwritable
folder or a full disk gives a one-line message and exit code 3, malformed options exit 2."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile, ImageSequence

from ptycho_gui.cli import main
from ptycho_gui.engine.run import InferenceRun
from ptycho_gui.export.data import read_data_export
from ptycho_gui.export.images import read_png_metadata
from ptycho_gui.render.colormaps import ImageStyle
from ptycho_gui.render.patch_grid import tile_rgb
from ptycho_gui.types import RunSettings


@pytest.fixture
def computed(monkeypatch) -> list[int]:
    """Indices of every batch the engine computes during the test."""
    seen: list[int] = []
    original = InferenceRun._launch

    def counting(self, index, inputs):
        seen.append(index)
        return original(self, index, inputs)

    monkeypatch.setattr(InferenceRun, "_launch", counting)
    return seen


def export(bundle: Path, dataset: Path, out: Path, *options: str) -> int:
    return main(["export", str(bundle), str(dataset), "-o", str(out), "--device", "cpu", "--threads", "1", *options])


@pytest.fixture(scope="module")
def partial_export(bundle_path, dataset_path, tmp_path_factory):
    out = tmp_path_factory.mktemp("partial")
    seen: list[int] = []
    original = InferenceRun._launch
    InferenceRun._launch = lambda self, i, inputs: (seen.append(i), original(self, i, inputs))[1]
    try:
        code = export(bundle_path, dataset_path, out, "--batches", "0,2", "--what", "patches,stats,data",
                      "--format", "png,tiff,npz,h5", "--quantity", "phase", "--cmap", "gray", "--levels=-1:1")
    finally:
        InferenceRun._launch = original
    return code, out, seen


@pytest.fixture(scope="module")
def whole_export(bundle_path, dataset_path, tmp_path_factory):
    out = tmp_path_factory.mktemp("whole")
    code = export(bundle_path, dataset_path, out, "--batches", "1", "--what", "canvas,stats,data",
                  "--format", "png,svg,tiff,h5")
    return code, out


def test_only_the_chosen_batches_are_computed_and_written(partial_export):
    code, out, seen = partial_export
    assert code == 0 and sorted(seen) == [0, 2]
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted([
        "patches_batch0000_phase.png", "patches_batch0000_phase.tiff", "patches_batch0002_phase.png",
        "patches_batch0002_phase.tiff", "statistics.png", "data.npz", "data.h5",
    ])


def test_partial_export_files_agree_with_each_other(partial_export):
    _, out, _ = partial_export
    arrays, settings = read_data_export(out / "data.npz")
    h5_arrays, h5_settings = read_data_export(out / "data.h5")
    assert settings == h5_settings and set(arrays) == set(h5_arrays)
    np.testing.assert_array_equal(arrays["batches"], [0, 2])
    assert RunSettings(**settings["run"]) == RunSettings(device="cpu", num_threads=1, keep_patches=False)
    assert settings["export"]["levels"] == "-1:1" and settings["export"]["colormap"] == "gray"
    means = arrays["stats/global_mean"]
    assert np.isnan(means[[1, 3]]).all() and np.isfinite(means[[0, 2]]).all()
    patches = arrays["patches"][arrays["batch_of_group"] == 2]
    with Image.open(out / "patches_batch0002_phase.tiff") as tiff:
        pages = np.stack([np.array(f) for f in ImageSequence.Iterator(tiff)])
    np.testing.assert_array_equal(pages, np.angle(patches).reshape(-1, 64, 64))
    meta = read_png_metadata(out / "patches_batch0002_phase.png")
    style = ImageStyle("phase", "gray", (-1.0, 1.0))
    assert meta["style"] == {"quantity": "phase", "colormap": "gray", "levels": [-1.0, 1.0], "per_tile": False}
    pixels = np.asarray(Image.open(out / "patches_batch0002_phase.png"))
    flat = patches.reshape(-1, 64, 64)
    for k, tile in enumerate(meta["tiles"]):
        left, top, w, h = tile["box"]
        np.testing.assert_array_equal(pixels[top:top + h, left:left + w], tile_rgb(flat[k], style, meta["scale"]))


def test_a_canvas_export_runs_the_whole_scan_and_writes_the_debug_dump(whole_export):
    code, out = whole_export
    assert code == 0
    arrays, settings = read_data_export(out / "data.h5")
    assert np.isfinite(arrays["stats/global_mean"]).all() and arrays["stats/global_mean"].size == 4
    np.testing.assert_array_equal(arrays["batches"], [1])
    with Image.open(out / "canvas_amplitude.tiff") as tiff:
        page = np.array(tiff)
        frame = json.loads(tiff.tag_v2[270])
    np.testing.assert_array_equal(page, np.abs(arrays["canvas"]))
    assert frame["center_xy"] == settings["canvas"]["center_xy"] and frame["stitch"] == "position"
    meta = read_png_metadata(out / "canvas_amplitude.png")
    assert meta["kind"] == "canvas" and -1.0 <= meta["comparison"]["correlation"] <= 1.0  # untrained network
    assert "<text" in (out / "canvas_amplitude.svg").read_text()
    offsets = json.loads((out / "debug_dump" / "offsets.json").read_text())
    assert offsets["count"] == 100 * 4
    assert {"patch_amplitude", "canvas_amplitude"} <= set(json.loads((out / "debug_dump" / "stats.json").read_text()))
    assert len(json.loads((out / "analysis" / "torch_patch_stats.json").read_text())) == 4


def test_existing_files_are_refused_without_force_before_any_computing(bundle_path, dataset_path, tmp_path, computed,
                                                                       capsys):
    options = ("--batches", "3", "--what", "stats")
    assert export(bundle_path, dataset_path, tmp_path, *options) == 0
    target = tmp_path / "statistics.png"
    before = target.read_bytes()
    computed.clear()
    capsys.readouterr()
    assert export(bundle_path, dataset_path, tmp_path, *options) == 3
    err = capsys.readouterr().err
    assert "statistics.png: already exists (use --force to overwrite)" in err and len(err.strip().splitlines()) == 1
    assert computed == [] and target.read_bytes() == before
    assert export(bundle_path, dataset_path, tmp_path, *options, "--force") == 0 and computed == [3]


def test_an_unwritable_destination_gives_a_message_and_exit_code_3(bundle_path, dataset_path, tmp_path, computed,
                                                                   capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    assert export(bundle_path, dataset_path, blocker / "out", "--batches", "3") == 3
    err = capsys.readouterr().err
    assert "cannot write here" in err and str(blocker / "out") in err and "Traceback" not in err
    assert computed == []


def test_a_full_disk_gives_a_message_exit_code_3_and_no_partial_file(bundle_path, dataset_path, tmp_path, monkeypatch,
                                                                    capsys):
    def full(_image, fp, *_args, **_kwargs):
        fp.write(b"x" * 4096)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(ImageFile, "_save", full)
    assert export(bundle_path, dataset_path, tmp_path, "--batches", "3", "--what", "stats") == 3
    err = capsys.readouterr().err
    assert "statistics.png: write failed (No space left on device)" in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("options, message", [
    (("--batches", "4"), "outside 0..3"),
    (("--batches", "1-x"), "not an index"),
    (("--what", "pictures"), "pictures not among"),
    (("--what", "stats", "--format", "tiff"), "nothing to write for stats"),
    (("--levels", "3:1"), "LO < HI"),
    (("--levels", "tiles"), "levels must be 'auto' or LO:HI"),
    (("--cmap", "no-such-map"), "unknown colormap"),
    (("--overlays", "stars"), "stars not among"),
])
def test_malformed_options_are_usage_errors(bundle_path, dataset_path, tmp_path, computed, capsys, options, message):
    assert export(bundle_path, dataset_path, tmp_path / "out", *options) == 2
    assert message in capsys.readouterr().err
    assert computed == [] and not (tmp_path / "out").exists()


def test_a_comparison_export_writes_the_figure_and_the_arrays_drawn(bundle_path, dataset_path, tmp_path):
    from ptycho_gui.analysis.comparison import compare_with_object
    from ptycho_gui.io.reconstruction_file import open_reconstruction

    code = export(bundle_path, dataset_path, tmp_path / "out", "--what", "comparison", "--format", "png,svg,npz",
                  "--quantity", "phase", "--levels=-1:1")
    assert code == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["comparison.npz", "comparison.png",
                                                                     "comparison.svg"]
    meta = read_png_metadata(tmp_path / "out" / "comparison.png")
    assert meta["kind"] == "comparison" and meta["mode"] == "phase" and meta["levels"] == [-1.0, 1.0]
    with np.load(tmp_path / "out" / "comparison.npz", allow_pickle=False) as data:
        np.testing.assert_array_equal(data["levels"], [-1.0, 1.0])
        mask = data["mask"]
        assert mask.any() and data["reconstruction_shown"].shape == mask.shape
        metrics = json.loads(str(data["metrics_json"]))
    assert "objectGuess of" in (tmp_path / "out" / "comparison.svg").read_text()
    run = main(["run", str(bundle_path), str(dataset_path), "-o", str(tmp_path / "run"), "--device", "cpu",
                "--threads", "1"])
    assert run == 0
    with np.load(dataset_path) as scan:
        direct = compare_with_object(open_reconstruction(tmp_path / "run" / "reconstruction.h5").canvas,
                                     scan["objectGuess"])
    assert metrics["pixels"] == direct.pixels
    assert metrics["amplitude"]["corr"] == pytest.approx(direct.amplitude.corr, abs=1e-6)


def test_a_comparison_against_a_file_without_object_fails_before_computing(bundle_path, dataset_path, tmp_path,
                                                                          computed, capsys):
    empty = tmp_path / "no_object.npz"
    with np.load(dataset_path) as scan:
        np.savez(empty, **{k: scan[k] for k in scan.files if k != "objectGuess"})
    code = export(bundle_path, dataset_path, tmp_path / "out", "--what", "comparison", "--truth", str(empty))
    assert code == 3 and computed == []
    assert "no_object.npz" in capsys.readouterr().err
