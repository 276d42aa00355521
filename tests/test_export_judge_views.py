"""The Compare and Diffraction docks' exports through the common export path (Qt-free): the data files hold
exactly the arrays and levels the docks draw, and the PNG, SVG and PDF figures carry their labels as text."""

from __future__ import annotations

import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import h5py
import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from ptycho_gui.analysis.comparison import compare
from ptycho_gui.analysis.residual import diffraction_residual
from ptycho_gui.export.comparison import ComparisonView
from ptycho_gui.export.comparison_figure import compare_figure, metrics_rows
from ptycho_gui.export.diffraction_figure import pattern_pictures
from ptycho_gui.export.images import read_png_metadata
from ptycho_gui.export.job import ExportSources, run_export
from ptycho_gui.export.plan import ExportRequest, plan_files
from ptycho_gui.render.annotations import Provenance
from ptycho_gui.types import RunSettings

PROVENANCE = Provenance("model.zip", "scan.npz", "position", 20, "bridge", "cpu", "2026-12-03 12:00")


@pytest.fixture(scope="module")
def views():
    rng = np.random.default_rng(4)
    amp = 1 + np.abs(gaussian_filter(rng.normal(size=(96, 96)), 3)) * 5
    truth = (amp * np.exp(1j * gaussian_filter(rng.normal(size=(96, 96)), 3) * 5)).astype(np.complex64)
    recon = (1.4 * np.roll(truth, (1, -2), axis=(0, 1)) * np.exp(0.4j)).astype(np.complex64)
    weight = np.zeros((96, 96), dtype=np.float32)
    weight[10:-10, 10:-10] = 1
    comparison = compare(recon, truth, weight)
    pictures = compare_figure(comparison, "phase", levels=(-0.6, 0.6))
    raw = rng.random((2, 1, 16, 16)).astype(np.float32)
    residual = diffraction_residual(raw, 0.5 * raw + 0.01 * rng.random((2, 1, 16, 16)).astype(np.float32))
    pattern = pattern_pictures(residual, group=7, channel=0, row=1)
    return ComparisonView(comparison, pictures, "objectGuess of scan.npz", "canvas of 3 batches compared"), pattern


def sources(views) -> ExportSources:
    comparison, pattern = views
    return ExportSources(provenance=PROVENANCE, settings=RunSettings(), n_batches=1,
                         get_batch=lambda index: pytest.fail("no batch is needed"), patch_size=16,
                         group_positions=np.zeros((1, 1, 2)), comparison=comparison, pattern=pattern)


def export(views, tmp_path: Path, formats: tuple[str, ...]) -> list[Path]:
    request = ExportRequest(out_dir=tmp_path, what=("comparison", "pattern"), formats=formats)
    report = run_export(request, sources(views))
    assert report.files == [p.path for p in plan_files(request)]
    return report.files


def test_data_files_hold_the_arrays_and_levels_the_docks_draw(views, tmp_path):
    view, pattern = views
    files = export(views, tmp_path, ("npz", "h5"))
    assert [p.name for p in files] == ["comparison.npz", "comparison.h5", "diffraction_pattern.npz",
                                       "diffraction_pattern.h5"]
    with np.load(files[0], allow_pickle=False) as data:
        np.testing.assert_array_equal(data["reconstruction_shown"], view.pictures.reconstruction)
        np.testing.assert_array_equal(data["reference_shown"], view.pictures.reference)
        np.testing.assert_array_equal(data["error_shown"], view.pictures.error)
        np.testing.assert_array_equal(data["levels"], [-0.6, 0.6])
        np.testing.assert_array_equal(data["error_levels"], view.pictures.error_levels)
        np.testing.assert_array_equal(data["aligned"], view.comparison.aligned)
        assert '"mode": "phase"' in str(data["display_json"])
    with h5py.File(files[1], "r") as file:
        np.testing.assert_array_equal(file["reconstruction_shown"][()], view.pictures.reconstruction)
        np.testing.assert_array_equal(file["frc_curve"][()], view.comparison.frc.curve)
        assert '"ssim"' in file.attrs["metrics_json"]
    for path in files[2:]:
        with (np.load(path, allow_pickle=False) if path.suffix == ".npz" else h5py.File(path, "r")) as data:
            np.testing.assert_array_equal(data["measured_log10"][()], pattern.measured)
            np.testing.assert_array_equal(data["predicted_log10"][()], pattern.predicted)
            np.testing.assert_array_equal(data["residual"][()], pattern.residual)
            np.testing.assert_array_equal(data["log10_levels"][()], pattern.levels)
            assert int(data["group"][()]) == 7 and float(data["nmse"][()]) == pattern.nmse


def test_png_records_the_docks_levels_and_svg_holds_the_labels(views, tmp_path):
    view, pattern = views
    files = export(views, tmp_path, ("png", "svg"))
    meta = read_png_metadata(files[0])
    assert meta["kind"] == "comparison" and meta["levels"] == [-0.6, 0.6] and meta["mode"] == "phase"
    assert meta["metrics"]["amplitude"]["scale"] == pytest.approx(view.comparison.amplitude.scale)
    assert read_png_metadata(files[2])["levels"] == list(pattern.levels)
    texts = {"".join(el.itertext()) for el in ET.parse(files[1]).getroot().iter("{http://www.w3.org/2000/svg}text")}
    joined = "\n".join(texts)
    for label in ("Reconstruction ÷", "Reference · phase", "Error · wrapped phase difference (rad)", "FRC",
                  "half-bit threshold", "reference: objectGuess of scan.npz", "amplitude SSIM"):
        assert label in joined, label
    assert metrics_rows(view.comparison)[5][1] in texts
    texts = {"".join(el.itertext()) for el in ET.parse(files[3]).getroot().iter("{http://www.w3.org/2000/svg}text")}
    for label in ("Measured (log10)", "Predicted (log10)", "Residual: predicted − measured",
                  "Diffraction · group 7, channel 0"):
        assert label in texts, label


def test_pdf_holds_the_labels_as_text(views, tmp_path):
    if shutil.which("pdftotext") is None:
        if os.environ.get("CI"):
            raise RuntimeError("CI must install poppler-utils (.ci/run does)")
        pytest.skip("poppler-utils (pdftotext) is not installed")
    files = export(views, tmp_path, ("pdf",))
    text = subprocess.run(["pdftotext", str(files[0]), "-"], capture_output=True, text=True, check=True).stdout
    for label in ("Reconstruction", "Reference", "FRC", "amplitude SSIM", "scan.npz"):
        assert label in text, label
    text = subprocess.run(["pdftotext", str(files[1]), "-"], capture_output=True, text=True, check=True).stdout
    assert "Measured (log10)" in text and "NMSE" in text


def test_the_comparison_figure_is_drawn_with_the_colormap_it_was_given(views):
    from ptycho_gui.export.comparison_figure import COLORMAP_OF_MODE, render_comparison_figure

    comparison = views[0].comparison
    default = compare_figure(comparison, "phase", levels=(-0.6, 0.6))
    magma = compare_figure(comparison, "phase", levels=(-0.6, 0.6), colormap="magma")
    assert default.colormap == COLORMAP_OF_MODE["phase"] and magma.colormap == "magma"
    drawn = [render_comparison_figure(comparison, pictures, PROVENANCE, "comparison", title=False)
             for pictures in (default, magma)]
    assert [figure.metadata["colormap"] for figure in drawn] == ["twilight", "magma"]
    assert not np.array_equal(drawn[0].rgb(), drawn[1].rgb())


def test_without_a_comparison_the_export_says_how_to_get_one(views, tmp_path):
    request = ExportRequest(out_dir=tmp_path, what=("comparison",), formats=("npz",))
    empty = sources(views)
    empty.comparison = None
    with pytest.raises(ValueError, match="no comparison to export"):
        run_export(request, empty)
