"""The Export dialog on the generated gridsize-2 files: GUI and CLI exports of the same batch give the same PNG pixels,
the preview is the exported image, batch exports run in the background with progress and cancel,
overwriting asks first, an unwritable folder is reported, and canvas exports draw the canvas view's phase view."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from app_harness import (
    TEST_SETTINGS,
    open_fixture,
    run_to_end,
    settle,
)
from PIL import Image
from PySide6.QtWidgets import QDialog, QMessageBox

from ptycho_gui.app.export_dialog import ExportDialog
from ptycho_gui.cli import main
from ptycho_gui.engine.stitching import COVERED_WEIGHT
from ptycho_gui.export.images import read_png_metadata
from ptycho_gui.render import annotations
from ptycho_gui.render.canvas_figure import coverage_box
from ptycho_gui.render.colormaps import colorize

FROZEN_DATE = "2026-01-02 03:04 UTC"
EXPORT_TIMEOUT_MS = 60_000


@pytest.fixture
def frozen_date(monkeypatch):
    monkeypatch.setattr(annotations, "export_timestamp", lambda: FROZEN_DATE)


@pytest.fixture
def finished_window(qtbot, make_window, bundle_path, dataset_path):
    window = make_window()
    open_fixture(window, bundle_path, dataset_path)
    run_to_end(qtbot, window)
    return window


def open_dialog(window, view_name: str | None) -> ExportDialog:
    window.open_export_dialog(view_name)
    shown = [d for d in window.findChildren(QDialog, "export_dialog") if d.isVisible()]
    assert len(shown) == 1 and isinstance(shown[0], ExportDialog)
    return shown[0]


def choose(dialog: ExportDialog, folder: Path, what: tuple[str, ...], formats: tuple[str, ...], batches: str) -> None:
    for item, check in dialog.item_boxes.items():
        check.setChecked(item in what)
    for fmt, check in dialog.format_boxes.items():
        check.setChecked(fmt in formats)
    dialog.patch_source.setCurrentText("batches")
    dialog.batch_spec.setText(batches)
    dialog.folder_edit.setText(str(folder))


def export_and_wait(qtbot, dialog: ExportDialog) -> None:
    dialog.export_button.click()
    qtbot.waitUntil(lambda: not dialog.busy, timeout=EXPORT_TIMEOUT_MS)


def close(dialog: ExportDialog) -> None:
    dialog.shutdown()
    dialog.close()


def test_gui_and_cli_exports_of_the_same_batch_have_the_same_png_pixels(
        qtbot, finished_window, bundle_path, dataset_path, tmp_path, frozen_date):
    dialog = open_dialog(finished_window, "patches")
    choose(dialog, tmp_path / "gui", ("patches",), ("png",), "1")
    dialog.levels_mode.setCurrentText("auto")
    export_and_wait(qtbot, dialog)
    assert dialog.last_error is None and dialog.last_report is not None
    close(dialog)
    settings = TEST_SETTINGS
    code = main(["export", str(bundle_path), str(dataset_path), "-o", str(tmp_path / "cli"), "--batches", "1",
                 "--batch-size", str(settings.batch_size), "--n-groups", str(settings.n_groups), "--device", "cpu",
                 "--threads", "1"])
    assert code == 0
    name = "patches_batch0001_amplitude.png"
    gui, cli = (np.asarray(Image.open(tmp_path / side / name)) for side in ("gui", "cli"))
    assert gui.shape == cli.shape and gui.shape[0] > 300
    np.testing.assert_array_equal(gui, cli)


def test_the_preview_is_the_exported_image(qtbot, finished_window, tmp_path):
    window = finished_window
    window.session.go_to(2)
    dialog = open_dialog(window, "canvas")
    assert dialog.item_boxes["canvas"].isChecked() and not dialog.item_boxes["patches"].isChecked()
    dialog.folder_edit.setText(str(tmp_path))
    dialog.refresh_preview()
    qtbot.waitUntil(lambda: dialog.last_preview is not None and not dialog.previewing,
                    timeout=EXPORT_TIMEOUT_MS)
    assert not dialog.preview_label.pixmap().isNull()
    preview = dialog.last_preview.rgb()
    assert dialog.last_preview.metadata["kind"] == "canvas"
    export_and_wait(qtbot, dialog)
    written = np.asarray(Image.open(tmp_path / "canvas_amplitude.png"))
    np.testing.assert_array_equal(written, preview)
    close(dialog)


def test_a_batch_export_runs_in_the_background_with_progress_and_can_be_cancelled(qtbot, finished_window, tmp_path):
    out = tmp_path / "out"
    dialog = open_dialog(finished_window, "patches")
    choose(dialog, out, ("patches",), ("png", "svg", "pdf", "tiff"), "all")
    dialog.export_button.click()
    assert dialog.busy and not dialog.export_button.isEnabled() and dialog.cancel_button.isEnabled()
    qtbot.waitUntil(lambda: dialog.progress_bar.value() >= 1, timeout=EXPORT_TIMEOUT_MS)
    assert dialog.progress_bar.maximum() == 6 * 4
    dialog.cancel_button.click()
    qtbot.waitUntil(lambda: not dialog.busy, timeout=EXPORT_TIMEOUT_MS)
    report = dialog.last_report
    assert report.cancelled and 1 <= len(report.files) < 24
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in report.files)
    with Image.open(out / "patches_batch0000_amplitude.png") as image:
        image.load()
    close(dialog)


def test_overwriting_asks_first(qtbot, finished_window, tmp_path, monkeypatch):
    target = tmp_path / "statistics.png"
    target.write_bytes(b"an older export")
    dialog = open_dialog(finished_window, "statistics")
    choose(dialog, tmp_path, ("stats",), ("png",), "0")
    asked: list[str] = []

    def answer(reply):
        def question(_parent, _title, text, *_args):
            asked.append(text)
            return reply
        return question

    monkeypatch.setattr(QMessageBox, "question", answer(QMessageBox.StandardButton.No))
    dialog.export_button.click()
    assert not dialog.busy and target.read_bytes() == b"an older export" and str(target) in asked[0]
    monkeypatch.setattr(QMessageBox, "question", answer(QMessageBox.StandardButton.Yes))
    export_and_wait(qtbot, dialog)
    assert len(asked) == 2 and dialog.last_error is None
    with Image.open(target) as image:
        assert image.format == "PNG"
    close(dialog)


def test_an_unwritable_folder_is_reported(qtbot, make_window, bundle_path, dataset_path, tmp_path):
    window = make_window()
    open_fixture(window, bundle_path, dataset_path)
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    dialog = open_dialog(window, None)
    choose(dialog, blocker / "out", ("patches",), ("png",), "0")
    export_and_wait(qtbot, dialog)
    assert dialog.last_error is not None and "cannot write here" in dialog.last_error
    assert dialog.last_report is None
    close(dialog)


def test_the_dialog_starts_from_the_views_quantity_colormap_and_levels(make_window, bundle_path, dataset_path):
    window = make_window()
    open_fixture(window, bundle_path, dataset_path)
    session = window.session
    session.set_patch_quantity("phase")
    session.set_patch_colormap("magma")
    session.set_patch_levels_mode("per patch")
    dialog = open_dialog(window, "patches")
    dialog.patch_source.setCurrentText("batches")
    style = dialog.request().style
    assert (style.quantity, style.cmap, style.per_tile) == ("phase", "magma", True)
    close(dialog)
    session.set_canvas_levels((1.5, 2.5))
    dialog = open_dialog(window, "canvas")
    style = dialog.request().canvas_style
    assert dialog.item_boxes["canvas"].isChecked() and style.levels == (1.5, 2.5) and not style.per_tile
    dialog.levels_mode.setCurrentText("fixed")
    dialog.level_lo.setValue(3.0)
    dialog.level_hi.setValue(1.0)
    with pytest.raises(ValueError, match="low < high"):
        dialog.request()
    close(dialog)


def test_canvas_exports_draw_the_phase_view_the_canvas_shows(qtbot, finished_window, bundle_path, dataset_path,
                                                            tmp_path):
    """GUI (dialog) and CLI (--phase-view) canvas figures draw phase with the view's mode and levels, not raw ±π."""
    window, session = finished_window, finished_window.session
    session.set_canvas_quantity("phase")
    session.set_canvas_phase_view("auto (offset removed)")
    settle(qtbot, window)
    shown, levels = window.views["canvas"].plot.image.image, session.drawn_levels("canvas")
    assert levels != pytest.approx((-np.pi, np.pi))
    dialog = open_dialog(window, "canvas")
    dialog.folder_edit.setText(str(tmp_path / "gui"))
    assert dialog.request().canvas.phase_view == "auto (offset removed)"
    dialog.refresh_preview()
    qtbot.waitUntil(lambda: dialog.last_preview is not None and not dialog.previewing, timeout=EXPORT_TIMEOUT_MS)
    panel = next(np.asarray(ax.images[0].get_array()) for ax in dialog.last_preview.figure.axes if ax.images)
    rows, cols = coverage_box(session.canvas)
    covered = (session.canvas.weight > COVERED_WEIGHT)[rows, cols]
    expected = colorize(shown[rows, cols], levels, session.canvas_display.colormaps.get("phase") or "twilight")
    np.testing.assert_array_equal(panel[covered], expected[covered])
    export_and_wait(qtbot, dialog)
    gui = read_png_metadata(tmp_path / "gui" / "canvas_phase.png")["style"]
    assert gui["phase_view"] == "auto (offset removed)" and gui["levels"] == pytest.approx(list(levels))
    close(dialog)
    settings = TEST_SETTINGS
    for name, view in (("offset-removed", "auto (offset removed)"), ("wrapped", "wrapped ±π")):
        args = ["export", str(bundle_path), str(dataset_path), "-o", str(tmp_path / name), "--what", "canvas",
                "--quantity", "phase", "--batch-size", str(settings.batch_size), "--n-groups", str(settings.n_groups),
                "--device", "cpu", "--threads", "1"]
        assert main(args + ([] if name == "wrapped" else ["--phase-view", name])) == 0
        cli = read_png_metadata(tmp_path / name / "canvas_phase.png")["style"]
        expected_levels = levels if name == "offset-removed" else (-np.pi, np.pi)
        assert cli["phase_view"] == view and cli["levels"] == pytest.approx(list(expected_levels), abs=1e-6)
