"""The Sweep dock: a sweep.json's pairs, sortable by any metric; a double-click opens a row's reconstruction in
the Compare dock against the truth or another selected row, with the metrics ``ptycho-inspect metrics`` prints."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtCore import QItemSelectionModel, Qt

from ptycho_gui.cli import main
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


def _cli_metrics(capsys, reconstruction: str, truth: str) -> dict:
    """What ``ptycho-inspect metrics RECON --truth TRUTH --json`` prints."""
    capsys.readouterr()
    assert main(["metrics", reconstruction, "--truth", truth, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def _shown_comparison(qtbot, window) -> dict:
    """The Compare dock's comparison once it has finished, as the JSON document the CLI prints."""
    compare = window.judge.compare
    qtbot.waitUntil(lambda: compare.state.comparison is not None and not compare._busy, timeout=60_000)
    return json.loads(compare.state.comparison.to_json())


def test_sweep_table_sorts_by_a_metric_and_opens_a_row_in_the_compare_dock(qtbot, make_window, sweep_json, capsys):
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
    shown = _shown_comparison(qtbot, window)
    compare = window.judge.compare
    assert window.docks["compare"].isVisible()
    assert compare.state.subject.path == Path(reconstruction) and compare.state.reference.kind == "objectGuess"
    assert Path(reconstruction).parent.name in compare.reference_label.text()
    assert compare.plots["reconstruction"].image.image is not None and compare.table.rowCount() > 0
    assert shown == _cli_metrics(capsys, reconstruction, rows[0]["dataset"]) == rows[0]["metrics"]


def test_a_second_selected_row_is_the_reference(qtbot, make_window, sweep_json, capsys):
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
    shown = _shown_comparison(qtbot, window)
    assert window.judge.compare.state.reference.kind == "reconstruction"
    assert shown == _cli_metrics(capsys, rows[0]["reconstruction"], rows[1]["reconstruction"])
    assert shown["amplitude"]["rmse"] < 1e-6, "the same network and scan agree"
    window.judge.compare.back_to_run.click()
    assert window.judge.compare.state.subject is None, "Back to the run leaves the saved reconstruction"


def test_a_malformed_sweep_file_is_one_clear_message(make_window, tmp_path):
    window = make_window()
    bad = tmp_path / "sweep.json"
    bad.write_text('{"table": []}')
    assert not window.open_sweep(bad)
    assert "no \"rows\" list" in window.last_error[1] and str(bad) in window.last_error[1]
