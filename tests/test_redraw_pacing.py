"""Redraw pacing: requests with a minimum interval wait it out, coalesce, and still run on flush; stable axis ranges."""

from __future__ import annotations

from ptycho_gui.app.redraw_queue import RedrawQueue
from ptycho_gui.app.statistics_view import stable_range


def test_a_paced_request_waits_for_its_interval_and_coalesces(qtbot):
    queue = RedrawQueue()
    runs: list[str] = []
    queue.request("stats", lambda: runs.append("first"), min_interval_ms=300)
    qtbot.waitUntil(lambda: runs == ["first"], timeout=1000)
    queue.request("stats", lambda: runs.append("second"), min_interval_ms=300)
    queue.request("stats", lambda: runs.append("third"), min_interval_ms=300)
    queue.request("other", lambda: runs.append("other"))
    qtbot.waitUntil(lambda: "other" in runs, timeout=1000)
    assert runs == ["first", "other"], "the paced key ran again before its interval was over"
    qtbot.waitUntil(lambda: len(runs) == 3, timeout=2000)
    assert runs == ["first", "other", "third"]


def test_flush_runs_paced_requests_at_once_and_clear_drops_them(qtbot):
    queue = RedrawQueue()
    runs: list[int] = []
    queue.request("k", lambda: runs.append(1), min_interval_ms=10_000)
    queue.flush()
    queue.request("k", lambda: runs.append(2), min_interval_ms=10_000)
    assert runs == [1]
    queue.flush()
    assert runs == [1, 2]
    queue.request("k", lambda: runs.append(3), min_interval_ms=10_000)
    queue.clear()
    queue.flush()
    assert runs == [1, 2]


def test_stable_range_keeps_a_range_that_still_fits_the_data_and_moves_when_it_does_not():
    first = stable_range(None, 0.0, 10.0)
    assert first[0] < 0.0 and first[1] > 10.0
    assert stable_range(first, 1.0, 9.5) is None
    assert stable_range(first, 2.0, 3.0) is not None, "data now span a small part of the range: zoom in"
    grown = stable_range(first, 0.0, 20.0)
    assert grown[0] < 0.0 and grown[1] > 20.0
    flat = stable_range(None, 5.0, 5.0)
    assert flat[0] < 5.0 < flat[1]
