"""Image files from a computed batch of the generated gridsize-2 files: the PNG decodes to the exact tile colours
at the recorded levels with DPI metadata, TIFF round-trips float32 exactly, SVG and PDF keep labels as text."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageSequence

from ptycho_gui.engine.run import InferenceRun
from ptycho_gui.export.images import read_png_metadata, write_figure, write_tiff
from ptycho_gui.export.job import tile_pages
from ptycho_gui.io.checkpoints import open_checkpoint
from ptycho_gui.io.datasets import open_dataset
from ptycho_gui.render.annotations import provenance_of
from ptycho_gui.render.colormaps import ImageStyle
from ptycho_gui.render.patch_grid import PatchTiles, render_patch_grid, tile_rgb
from ptycho_gui.types import RunSettings


@pytest.fixture(scope="module")
def real_batch(bundle_path: Path, dataset_path: Path):
    run = InferenceRun(open_checkpoint(bundle_path), open_dataset(dataset_path),
                       RunSettings(device="cpu", num_threads=1, keep_patches=False))
    run.prepare_thread()
    return run, run.compute_batch(1)


@pytest.fixture(scope="module")
def grid(real_batch):
    run, batch = real_batch
    tiles = PatchTiles.from_batches([batch])
    return tiles, render_patch_grid(tiles, ImageStyle("amplitude", "magma"), provenance_of(run), "batch 1")


def test_png_patch_grid_reproduces_every_patch_under_the_recorded_colormap_and_levels(grid, tmp_path):
    tiles, figure = grid
    path = write_figure(figure, tmp_path / "grid.png", "png")
    with Image.open(path) as image:
        assert image.mode == "RGB" and image.format == "PNG"
        assert image.info["dpi"] == pytest.approx((100, 100), abs=0.01)
        pixels = np.asarray(image)
    meta = read_png_metadata(path)
    recorded = ImageStyle(meta["style"]["quantity"], meta["style"]["colormap"], tuple(meta["style"]["levels"]))
    assert recorded.cmap == "magma" and len(meta["tiles"]) == 32 * 4
    for k, tile in enumerate(meta["tiles"]):
        assert (tile["group"], tile["channel"], tile["row"]) == (tiles.groups[k], tiles.channels[k], tiles.rows[k])
        left, top, w, h = tile["box"]
        expected = tile_rgb(tiles.patches[k], recorded, meta["scale"])
        np.testing.assert_array_equal(pixels[top:top + h, left:left + w], expected)
        lleft, ltop, lw, lh = tile["label_box"]
        assert (pixels[ltop:ltop + lh, lleft:lleft + lw].min(axis=2) < 128).sum() > 20, f"label {k} is empty"
    distinct = {tuple(pixels[t["box"][1] + 5, t["box"][0] + 5]) for t in meta["tiles"]}
    assert len(distinct) > 10, "tiles look uniform: a blank export must not pass"


def test_tiff_round_trips_every_patch_value_exactly(real_batch, tmp_path):
    _, batch = real_batch
    tiles = PatchTiles.from_batches([batch])
    for quantity in ("amplitude", "phase"):
        pages, texts = tile_pages(tiles, quantity, batch.index)
        path = write_tiff(pages, tmp_path / f"{quantity}.tiff", texts)
        with Image.open(path) as image:
            frames = [(np.array(f), f.tag_v2[270]) for f in ImageSequence.Iterator(image)]
        assert len(frames) == len(tiles) == 128
        for k, (values, text) in enumerate(frames):
            assert values.dtype == np.float32
            np.testing.assert_array_equal(values, pages[k])
            described = json.loads(text)
            assert (described["group"], described["channel"], described["row"]) == (
                tiles.groups[k], tiles.channels[k], tiles.rows[k])
        expected = np.abs(batch.patches) if quantity == "amplitude" else np.angle(batch.patches)
        np.testing.assert_array_equal(np.stack([f[0] for f in frames]).reshape(expected.shape), expected)


def test_tiff_keeps_non_finite_values(tmp_path):
    page = np.array([[np.nan, np.inf], [-0.0, 1e-42]], dtype=np.float32)
    with Image.open(write_tiff([page], tmp_path / "odd.tiff")) as image:
        np.testing.assert_array_equal(np.array(image), page)


def test_svg_parses_as_xml_and_holds_every_tile_label_as_text(grid, tmp_path):
    tiles, figure = grid
    path = write_figure(figure, tmp_path / "grid.svg", "svg")
    root = ET.parse(path).getroot()
    texts = {"".join(el.itertext()) for el in root.iter("{http://www.w3.org/2000/svg}text")}
    for k in range(len(tiles)):
        first, second = tiles.label(k)
        assert first in texts and second in texts
    assert "batch 1" in texts and any("wts.h5.zip" in t for t in texts)


def test_pdf_opens_and_holds_the_labels_as_text(grid, dataset_path, tmp_path):
    if shutil.which("pdftotext") is None:
        if os.environ.get("CI"):
            raise RuntimeError("CI must install poppler-utils (.ci/run does)")
        pytest.skip("poppler-utils (pdftotext) is not installed")
    tiles, figure = grid
    path = write_figure(figure, tmp_path / "grid.pdf", "pdf")
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
    assert "Pages:           1" in info
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
    for k in range(len(tiles)):
        first, second = tiles.label(k)
        assert first in text and second in text
    assert dataset_path.name in text
