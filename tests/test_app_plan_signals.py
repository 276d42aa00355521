"""A re-plan announces itself once, and the docks draw the new plan in queued turns (not all in the emitting turn)."""

from __future__ import annotations

import pytest
from app_harness import open_fixture, settle


def plan_rows(window) -> dict[str, str]:
    """The Summary's 'Run plan' section as {field: value}."""
    tree = window.views["summary"].tree
    for i in range(tree.topLevelItemCount()):
        section = tree.topLevelItem(i)
        if section.text(0) == "Run plan":
            return {section.child(k).text(0): section.child(k).text(1) for k in range(section.childCount())}
    return {}


def test_a_replan_announces_its_plan_once_and_the_docks_draw_it_queued(qtbot, make_window, bundle_path,
                                                                        dataset_path):
    window = make_window()
    open_fixture(window, bundle_path, dataset_path)
    session = window.session
    assert plan_rows(window)["batches"] == str(session.n_batches) == "6"
    announced, cleared = [], []
    session.sigPlanChanged.connect(lambda: announced.append(session.run))
    session.sigResultsCleared.connect(lambda: cleared.append(session.results))
    session.set_batch_size(16)
    assert announced == [session.run] and session.n_batches == 3
    assert cleared == [None], "the old results are dropped before the plan is announced"
    assert plan_rows(window)["batches"] == "6", "the Summary rebuilt in the emitting turn instead of a queued one"
    settle(qtbot, window)
    assert plan_rows(window)["batches"] == "3"
    low, high = window.views["statistics"].plots[0].getViewBox().viewRange()[0]
    assert low < 0 and 2 < high < 3, "the Statistics x axis does not span the new plan's batches"


def test_a_refused_setting_announces_no_plan_then_the_restored_one(qtbot, make_window, bundle_path, dataset_path):
    window = make_window()
    open_fixture(window, bundle_path, dataset_path)
    session = window.session
    announced = []
    session.sigPlanChanged.connect(lambda: announced.append(session.run))
    with pytest.raises(ValueError):
        session.set_plan_options(normalization="not a scale")
    assert announced == [None, session.run] and session.run is not None and session.state == "ready"
