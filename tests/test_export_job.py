"""Export plans and jobs on synthetic sources: batch specs, file names and order, destination checks,
one fetch and one rendering per batch for all formats, picked patches, preview, progress and cancel."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageSequence

from ptycho_gui.engine.statistics import StatsHistory, batch_statistics
from ptycho_gui.engine.stitching import stitch
from ptycho_gui.export import job
from ptycho_gui.export.atomic import ExportError
from ptycho_gui.export.images import read_png_metadata
from ptycho_gui.export.job import ExportSources, preview_figure, run_export
from ptycho_gui.export.plan import ExportRequest, check_destinations, parse_batch_spec, plan_files
from ptycho_gui.render.annotations import Provenance
from ptycho_gui.render.colormaps import ImageStyle
from ptycho_gui.types import BatchResult, RunSettings

BATCH_SIZE, C, N, N_BATCHES = 3, 4, 16, 4
PROVENANCE = Provenance("wts.h5.zip", "scan.npz", "position", 8, "bridge", "cpu", "2026-01-01 00:00 UTC")


def make_batches() -> list[BatchResult]:
    rng = np.random.default_rng(5)
    out = []
    for index in range(N_BATCHES):
        patches = (rng.random((BATCH_SIZE, C, N, N)) * np.exp(1j * rng.uniform(-3, 3, (BATCH_SIZE, C, N, N))))
        patches = patches.astype(np.complex64)
        out.append(BatchResult(index, np.arange(index * BATCH_SIZE, (index + 1) * BATCH_SIZE),
                               rng.integers(0, 50, (BATCH_SIZE, C)), rng.uniform(30, 70, (BATCH_SIZE, C, 2)),
                               patches, batch_statistics(patches, 1.0), 0.1, 1.0))
    return out


@pytest.fixture(scope="module")
def batches() -> list[BatchResult]:
    return make_batches()


@pytest.fixture
def sources(batches):
    fetched: list[int] = []
    history = StatsHistory(N_BATCHES)
    for b in batches:
        history.record(b.index, b.stats)
    positions = np.concatenate([b.positions for b in batches])
    canvas = stitch("position", 8, positions, np.concatenate([b.patches for b in batches]))

    def get_batch(index: int) -> BatchResult:
        fetched.append(index)
        return batches[index]

    made = ExportSources(PROVENANCE, RunSettings(batch_size=BATCH_SIZE, crop=8), N_BATCHES, get_batch, N, positions,
                         canvas=canvas, stats=history.as_arrays(), scan_positions=positions.reshape(-1, 2))
    return made, fetched


def request(out: Path, **changes) -> ExportRequest:
    fields = {"out_dir": out, "what": ("patches",), "formats": ("png",), "batches": (1,)}
    fields.update(changes)
    return ExportRequest(**fields)


def test_batch_specs():
    assert parse_batch_spec("all", 4) == (0, 1, 2, 3)
    assert parse_batch_spec(" 3, 0-1 ,1", 4) == (0, 1, 3)
    for bad, message in (("4", "outside"), ("2-1", "outside"), ("x", "not an index"), (",", "selects no batch")):
        with pytest.raises(ValueError, match=message):
            parse_batch_spec(bad, 4)


def test_requests_are_validated():
    with pytest.raises(ValueError, match="nothing to write for stats"):
        request(Path("."), what=("stats",), formats=("tiff",))
    with pytest.raises(ValueError, match="no batch chosen"):
        request(Path("."), batches=())
    with pytest.raises(ValueError, match="unknown export item"):
        request(Path("."), what=("movie",))


def test_plan_names_every_file_with_each_batchs_formats_together(tmp_path):
    files = plan_files(request(tmp_path, what=("patches", "canvas", "stats", "data"),
                               formats=("png", "tiff", "npz"), batches=(0, 2), debug_dump=True,
                               style=ImageStyle("phase")))
    names = [str(f.path.relative_to(tmp_path)) for f in files]
    assert names[:6] == ["patches_batch0000_phase.png", "patches_batch0000_phase.tiff", "patches_batch0002_phase.png",
                         "patches_batch0002_phase.tiff", "canvas_phase.png", "canvas_phase.tiff"]
    assert names[6:8] == ["statistics.png", "data.npz"]
    assert names[8:] == ["debug_dump/offsets.json", "debug_dump/canvas.json", "debug_dump/stats.json",
                         "debug_dump/pred_patches_amp_grid.png", "analysis/torch_patch_stats.json",
                         "analysis/torch_patch_grid.png"]


def test_destinations_are_checked_before_any_work(tmp_path):
    files = plan_files(request(tmp_path, batches=(0, 1, 2, 3)))
    for planned in files:
        planned.path.write_bytes(b"old")
    with pytest.raises(ExportError, match="and 1 more: already exist"):
        check_destinations(files, tmp_path, overwrite=False)
    check_destinations(files, tmp_path, overwrite=True)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ExportError, match="cannot write here"):
        check_destinations(plan_files(request(blocker / "sub")), blocker / "sub", overwrite=False)


def test_each_batch_is_fetched_and_rendered_once_for_all_formats(sources, tmp_path, monkeypatch):
    made, fetched = sources
    rendered: list[str] = []
    original = job.render_patch_grid
    monkeypatch.setattr(job, "render_patch_grid", lambda *a, **k: (rendered.append(a[3]), original(*a, **k))[1])
    report = run_export(request(tmp_path, formats=("png", "svg", "pdf", "tiff"), batches=(1, 3)), made)
    assert [p.name for p in report.files] == [f"patches_batch000{b}_amplitude.{f}" for b in (1, 3)
                                              for f in ("png", "svg", "pdf", "tiff")]
    assert fetched == [1, 3] and len(rendered) == 2 and not report.cancelled


def test_picked_patches_make_one_grid_and_one_tiff_in_the_order_picked(sources, batches, tmp_path):
    made, _ = sources
    picks = ((10, 3), (2, 0), (4, 1))
    report = run_export(request(tmp_path, formats=("png", "tiff"), batches=(), picks=picks), made)
    assert [p.name for p in report.files] == ["patches_selected_amplitude.png", "patches_selected_amplitude.tiff"]
    meta = read_png_metadata(tmp_path / "patches_selected_amplitude.png")
    assert [(t["group"], t["channel"]) for t in meta["tiles"]] == list(picks)
    with Image.open(tmp_path / "patches_selected_amplitude.tiff") as tiff:
        pages = [(np.array(f), json.loads(f.tag_v2[270])) for f in ImageSequence.Iterator(tiff)]
    for (values, described), (group, channel) in zip(pages, picks, strict=True):
        batch = batches[group // BATCH_SIZE]
        np.testing.assert_array_equal(values, np.abs(batch.patches[group % BATCH_SIZE, channel]))
        assert (described["group"], described["channel"]) == (group, channel)


def test_preview_is_the_first_figure_written(sources, tmp_path):
    made, _ = sources
    first = preview_figure(request(tmp_path, what=("canvas", "stats"), formats=("svg",)), made)
    assert first.metadata["kind"] == "canvas"
    assert preview_figure(request(tmp_path, what=("patches", "data"), formats=("tiff", "npz")), made) is None
    grid = preview_figure(request(tmp_path, batches=(2, 0)), made)
    assert grid.metadata["heading"].startswith("Patches · batch 2")


def test_progress_is_reported_per_file_and_cancel_stops_between_files(sources, tmp_path):
    made, _ = sources
    seen: list[tuple[int, int, str]] = []
    full = run_export(request(tmp_path / "all", what=("patches", "stats"), batches=(0, 1)), made,
                      progress=lambda done, total, path: seen.append((done, total, Path(path).name)))
    assert seen == [(1, 3, "patches_batch0000_amplitude.png"), (2, 3, "patches_batch0001_amplitude.png"),
                    (3, 3, "statistics.png")] and len(full.files) == 3
    cut = tmp_path / "cut"
    stop_after_one = run_export(request(cut, batches=(0, 1, 2)), made, should_stop=lambda: any(cut.iterdir()))
    assert stop_after_one.cancelled and [p.name for p in stop_after_one.files] == ["patches_batch0000_amplitude.png"]
    assert sorted(p.name for p in cut.iterdir()) == ["patches_batch0000_amplitude.png"]


def test_the_debug_dump_needs_the_sources_to_provide_it(sources, tmp_path):
    made, _ = sources
    with pytest.raises(ValueError, match="debug dump needs the whole run"):
        run_export(request(tmp_path, what=("data",), formats=("npz",), debug_dump=True), made)


def test_canvas_overlays_come_from_the_position_table_without_fetching_batches(sources, batches, tmp_path):
    made, fetched = sources
    made.highlight_batch, made.selected = 1, (5, 2)
    overlays = job.canvas_overlays(request(tmp_path, overlays=("positions", "batch", "selection")), made)
    positions = np.concatenate([b.positions for b in batches])
    np.testing.assert_array_equal(overlays.batch_positions, positions[3:6].reshape(-1, 2))
    assert overlays.selected_position == tuple(positions[5, 2]) and overlays.batch_label == "batch 1"
    assert overlays.scan_positions is made.scan_positions and overlays.patch_size == N and fetched == []
    bare = job.canvas_overlays(request(tmp_path, overlays=()), made)
    assert bare.scan_positions is None and bare.batch_positions is None and bare.selected_position is None
