"""The Sweep dock: a sweep.json's pairs, sortable by any metric; a double-click compares a row with the truth
or with another selected row."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtCore import QItemSelectionModel, Qt

from ptycho_gui.sweep.execute import run_sweep
from ptycho_gui.sweep.pairs import make_pairs
from ptycho_gui.sweep.report import write_report
from ptycho_gui.types import RunSettings

SETTINGS = RunSettings(n_groups=16, batch_size=8, keep_patches=False, prefetch=0)


@pytest.fixture(scope="module")
def sweep_json(generated_files, tmp_path_factory) -> Path:
    """A sweep of the generated bundle and checkpoint over the generated scan."""
    out = tmp_path_factory.mktemp("sweep")
    pairs = make_pairs([generated_files.bundle, generated_files.ckpt, generated_files.dataset],
                       [generated_files.dataset], out)
    rows = run_sweep(pairs, SETTINGS, lambda row: None, workers=1)
    rows[1]["metrics"]["amplitude"]["ssim"] = -1.0
    return write_report(rows, out)["json"]


def _double_click_row(qtbot, view, shown_row: int) -> None:
    index = view.proxy.index(shown_row, 0)
    view.view.scrollTo(index)
    centre = view.view.visualRect(index).center()
    qtbot.mouseClick(view.view.viewport(), Qt.MouseButton.LeftButton, pos=centre)
    qtbot.mouseDClick(view.view.viewport(), Qt.MouseButton.LeftButton, pos=centre)


def test_sweep_table_sorts_by_a_metric_and_compares_with_the_truth(qtbot, make_window, sweep_json):
    window = make_window()
    assert window.open_sweep(sweep_json)
    view = window.views["sweep"]
    assert window.docks["sweep"].isVisible() and view.proxy.rowCount() == 3
    view.sort_by("amplitude_ssim")
    assert view.row_order() == [1, 0, 2]
    view.sort_by("amplitude_ssim", ascending=False)
    assert view.row_order()[-1] == 2, "a failed row without metrics sorts last"
    with qtbot.waitSignal(view.sigOpenReconstruction) as emitted:
        _double_click_row(qtbot, view, view.row_order().index(0))
    reconstruction, reference = emitted.args
    rows = json.loads(sweep_json.read_text())["rows"]
    assert (reconstruction, reference) == (rows[0]["reconstruction"], rows[0]["dataset"])
    dialog = window.sweep_comparison
    assert dialog.isVisible() and "SSIM" in dialog.metrics_label.text()
    assert dialog.comparison.as_dict() == rows[0]["metrics"]


def test_a_second_selected_row_is_the_reference(qtbot, make_window, sweep_json):
    window = make_window()
    window.open_sweep(sweep_json)
    view = window.views["sweep"]
    view.view.selectRow(view.row_order().index(1))
    rows = json.loads(sweep_json.read_text())["rows"]
    with qtbot.waitSignal(view.sigOpenReconstruction) as emitted:
        view.view.selectionModel().select(view.proxy.index(view.row_order().index(0), 0),
                                          QItemSelectionModel.SelectionFlag.Select
                                          | QItemSelectionModel.SelectionFlag.Rows)
        view.open_row(0)
    assert emitted.args == [rows[0]["reconstruction"], rows[1]["reconstruction"]]
    assert window.sweep_comparison.comparison.amplitude.rmse < 1e-6, "the same network and scan agree"


def test_a_malformed_sweep_file_is_one_clear_message(make_window, tmp_path):
    window = make_window()
    bad = tmp_path / "sweep.json"
    bad.write_text('{"table": []}')
    assert not window.open_sweep(bad)
    assert "no \"rows\" list" in window.last_error[1] and str(bad) in window.last_error[1]
