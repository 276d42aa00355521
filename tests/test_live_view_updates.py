"""Per-batch view updates made cheaper for 50,000-position runs still show what a full redraw shows."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from ptycho_gui.app.display import group_offsets
from ptycho_gui.app.offsets_view import TABLE_COLUMNS, OffsetsTableModel
from ptycho_gui.app.plot_helpers import ImagePlot
from ptycho_gui.app.roi_tools import RoiTools
from ptycho_gui.app.session import Session
from ptycho_gui.app.statistics_view import MAX_SYMBOL_POINTS, StatisticsView


def fake_batch(rng: np.random.Generator, first_group: int, groups: int, channels: int = 4):
    """A BatchResult stand-in with what the offsets table reads, and its (B, C, 2) member positions."""
    batch = SimpleNamespace(group_indices=np.arange(first_group, first_group + groups),
                            groups=rng.integers(0, 50_000, size=(groups, channels)))
    return batch, rng.uniform(-500, 500, size=(groups, channels, 2))


def cells(model: OffsetsTableModel) -> list[list[str]]:
    return [[model.data(model.index(r, c)) for c in range(model.columnCount())] for r in range(model.rowCount())]


def expected_cells(batch, members: np.ndarray) -> list[list[str]]:
    """The table's text computed from scratch, as the model formatted it before its cells were precomputed."""
    _, offsets = group_offsets(members)
    rows = []
    for g, (group, dataset_rows) in enumerate(zip(batch.group_indices, batch.groups, strict=True)):
        for c, row in enumerate(dataset_rows):
            dx, dy = offsets[g, c]
            x, y = members[g, c]
            rows.append([str(group), str(c), str(row), f"{dx:+.2f}", f"{dy:+.2f}", f"{x:.2f}", f"{y:.2f}"])
    return rows


def test_offsets_table_updated_in_place_equals_the_batch_computed_afresh(qtbot):
    rng = np.random.default_rng(3)
    model = OffsetsTableModel()
    resets, changes = [], []
    model.modelReset.connect(lambda: resets.append(1))
    model.dataChanged.connect(lambda top, bottom, _roles: changes.append((top.row(), bottom.row(), bottom.column())))
    for step, groups in enumerate((8, 8, 8, 3, 3)):
        batch, members = fake_batch(rng, 8 * step, groups)
        model.set_batch(batch, members)
        assert cells(model) == expected_cells(batch, members)
    assert len(resets) == 2, "a batch with the shown row count must update cells, another row count resets"
    assert changes == [(0, 31, len(TABLE_COLUMNS) - 1)] * 2 + [(0, 11, len(TABLE_COLUMNS) - 1)]
    assert model.row_of(int(batch.group_indices[1]), 2) == 6 and model.member(6) == (int(batch.group_indices[1]), 2)
    model.set_batch(None)
    assert model.rowCount() == 0 and len(resets) == 3


def test_hidden_roi_tools_read_nothing_when_the_image_changes(qtbot):
    plot = ImagePlot("test")
    qtbot.addWidget(plot.widget)
    image = np.arange(64 * 48, dtype=np.float32).reshape(48, 64)
    plot.show_image(image, (0.0, float(image.max())))
    reads = []
    tools = RoiTools(plot, lambda: reads.append("values") or image, lambda: reads.append("rect") or (0.0, 0.0, 64.0, 48.0))
    tools.refresh()
    assert reads == [] and tools.stats is None and tools.profile_values is None
    tools.show_roi.setChecked(True)
    reads.clear()
    tools.refresh()
    assert "values" in reads and tools.stats is not None and tools.stats.area > 0
    tools.show_roi.setChecked(False)
    reads.clear()
    tools.refresh()
    assert reads == [] and tools.stats is None


def test_the_residual_curve_is_drawn_with_the_paced_refresh_and_symbols_only_for_few_batches(qtbot):
    session = Session()
    view = StatisticsView(session)
    qtbot.addWidget(view)
    few = np.arange(MAX_SYMBOL_POINTS)
    view.show_residual(few, few * 0.5)
    assert view.residual_curve.getData()[0] is None or len(view.residual_curve.getData()[0]) == 0
    session.redraws.flush()
    x, y = view.residual_curve.getData()
    np.testing.assert_array_equal(x, few)
    np.testing.assert_array_equal(y, few * 0.5)
    assert view.residual_curve.opts["symbol"] == "o"
    many = np.arange(MAX_SYMBOL_POINTS + 1)
    view.show_residual(many, many * 2.0)
    session.redraws.flush()
    np.testing.assert_array_equal(view.residual_curve.getData()[1], many * 2.0)
    assert view.residual_curve.opts["symbol"] is None


def test_the_live_canvas_refresh_runs_as_a_redraw_queue_turn(qtbot):
    session = Session()
    refreshed = []
    session.sigCanvasChanged.connect(refreshed.append)
    session._queue_canvas_refresh()
    assert refreshed == [], "the refresh ran inside the timer's turn instead of its own queue turn"
    session.redraws.flush()
    assert refreshed == [None]


def test_each_plot_s_symbols_are_its_curves_points_in_their_colours_and_vanish_past_the_limit(qtbot):
    from ptycho_gui.app.statistics_view import CURVE_GROUPS

    session = Session()
    view = StatisticsView(session)
    qtbot.addWidget(view)
    names = [name for _, curves in CURVE_GROUPS for name, _, _ in curves]
    rng = np.random.default_rng(5)
    for n_done in (3, MAX_SYMBOL_POINTS, MAX_SYMBOL_POINTS + 1):
        recorded = np.zeros(n_done + 2, dtype=bool)
        recorded[:n_done] = True
        arrays = {name: rng.normal(size=recorded.size) for name in names}
        session.results = SimpleNamespace(history=SimpleNamespace(recorded=recorded, as_arrays=lambda a=arrays: a))
        view.redraw_curves()
        done = np.flatnonzero(recorded)
        for (_, curves), scatter in zip(CURVE_GROUPS, view.symbols, strict=True):
            for name, _, _ in curves:
                np.testing.assert_array_equal(view.curves[name].getData()[1], arrays[name][done])
            if n_done > MAX_SYMBOL_POINTS:
                assert len(scatter.data) == 0
                continue
            x, y = scatter.getData()
            np.testing.assert_array_equal(x, np.tile(done, len(curves)))
            np.testing.assert_array_equal(y, np.concatenate([arrays[name][done] for name, _, _ in curves]))
            colours = [spot.brush().color().name() for spot in scatter.points()]
            assert colours == [color.lower() for _, _, color in curves for _ in done]
    session.results = None
