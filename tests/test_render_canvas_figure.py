"""Canvas figures: the object-pixel frame (overlays and ground truth land where the stitch put the data,
mirrored canvases included), truth/error comparison figures, and the rendered panels."""

from __future__ import annotations

import numpy as np
import pytest

from ptycho_gui.engine.stitching import COVERED_WEIGHT, stitch
from ptycho_gui.render.annotations import Provenance
from ptycho_gui.render.canvas_figure import (
    CanvasOptions,
    CanvasOverlays,
    canvas_extent,
    comparison_figures,
    coverage_box,
    fit_to_coverage,
    render_canvas_figure,
    truth_on_canvas,
)
from ptycho_gui.render.canvas_picture import canvas_phase_view
from ptycho_gui.render.colormaps import ImageStyle, colorize
from ptycho_gui.render.complex_display import phase_view
from ptycho_gui.types import Canvas

PROVENANCE = Provenance("wts.h5.zip", "scan.npz", "position", 20, "bridge", "cpu", "2026-01-01 00:00 UTC")
N = 32


def smooth_object(h: int = 160, w: int = 200) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w]
    amplitude = 2 + np.sin(x / 9.0) * np.cos(y / 13.0) + 0.01 * x
    phase = 0.5 * np.sin(x / 17.0 + y / 11.0)
    return (amplitude * np.exp(1j * phase)).astype(np.complex64)


def cut_patches(obj: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Integer-position crops: patch pixel (N//2, N//2) is object (row = y, col = x)."""
    out = np.empty(positions.shape[:2] + (N, N), dtype=np.complex64)
    for g, c in np.ndindex(positions.shape[:2]):
        x, y = (int(v) for v in positions[g, c])
        out[g, c] = obj[y - N // 2:y + N // 2, x - N // 2:x + N // 2]
    return out


def integer_mean_positions(rng: np.random.Generator, count: int, low: int, high: int) -> np.ndarray:
    """Integer coordinates whose mean is an integer too, so the stitch shifts by whole pixels (no interpolation)."""
    values = rng.integers(low, high, count)
    values[-1] -= values.sum() % count
    return values


@pytest.fixture(scope="module")
def truth_and_canvas():
    rng = np.random.default_rng(3)
    obj = smooth_object()
    x, y = integer_mean_positions(rng, 40, 50, 150), integer_mean_positions(rng, 40, 40, 120)
    positions = np.stack([x, y], axis=-1)[:, None, :].astype(float)
    assert float(positions[..., 0].mean()).is_integer() and positions.min() >= N // 2
    return obj, stitch("position", 20, positions, cut_patches(obj, positions)), positions


def test_truth_sampled_on_the_canvas_matches_a_stitch_of_true_patches(truth_and_canvas):
    obj, canvas, _ = truth_and_canvas
    here = truth_on_canvas(canvas, obj)
    covered = canvas.weight > 0.5
    assert covered.sum() > 2000
    np.testing.assert_allclose(canvas.image[covered], here[covered], atol=1e-5)
    figures = comparison_figures(canvas, here, "amplitude")
    assert figures["correlation"] > 0.9999 and figures["rms"] < 1e-3 and figures["fit"] == "1 × truth"


def test_the_error_map_ignores_a_global_amplitude_scale_and_phase_offset(truth_and_canvas):
    obj, canvas, _ = truth_and_canvas
    scaled = Canvas(canvas.image * np.complex64(1.7 * np.exp(0.4j)), canvas.weight, canvas.center_xy,
                    canvas.stitch, canvas.crop)
    here = truth_on_canvas(scaled, obj)
    amplitude = comparison_figures(scaled, here, "amplitude")
    assert amplitude["fit"] == "1.7 × truth" and amplitude["rms"] < 1e-3
    phase = comparison_figures(scaled, here, "phase")
    assert phase["fit"] == "truth + 0.4 rad" and phase["rms"] < 1e-3


@pytest.mark.parametrize("mirrored", [False, True])
def test_extent_puts_each_object_point_on_the_canvas_pixel_the_frame_maps_it_to(mirrored):
    canvas = Canvas(np.zeros((41, 60), np.complex64), np.ones((41, 60), np.float32), (101.25, 57.5),
                    "ptychopinn-cli" if mirrored else "position", 20, mirrored)
    left, right, bottom, top = canvas_extent(canvas)
    assert (left > right) == mirrored and (top > bottom) == mirrored
    rng = np.random.default_rng(0)
    x, y = rng.uniform(80, 120, 50), rng.uniform(40, 75, 50)
    col, row = canvas.object_to_canvas(x, y)
    np.testing.assert_allclose(left + (col + 0.5) * (right - left) / 60, x)
    np.testing.assert_allclose(top + (row + 0.5) * (bottom - top) / 41, y)


@pytest.mark.parametrize("mirrored", [False, True])
def test_fit_to_coverage_keeps_the_frame(mirrored):
    rng = np.random.default_rng(1)
    weight = np.zeros((50, 70), np.float32)
    weight[10:30, 20:45] = 1
    image = (rng.random((50, 70)) + 1j * rng.random((50, 70))).astype(np.complex64)
    canvas = Canvas(image, weight, (80.0, 40.0), "position", 20, mirrored)
    cut = fit_to_coverage(canvas, pad=2)
    assert cut.image.shape == (24, 29)
    for x, y in [(75.0, 30.0), (85.0, 35.0), (90.0, 44.0)]:
        col, row = (int(round(float(v))) for v in canvas.object_to_canvas(x, y))
        cut_col, cut_row = (int(round(float(v))) for v in cut.object_to_canvas(x, y))
        if weight[row, col]:
            assert cut.image[cut_row, cut_col] == image[row, col]


def test_rendered_canvas_figure_has_truth_and_error_panels_and_records_the_comparison(truth_and_canvas):
    obj, canvas, positions = truth_and_canvas
    overlays = CanvasOverlays(scan_positions=positions.reshape(-1, 2), batch_positions=positions[:8].reshape(-1, 2),
                              selected_position=tuple(positions[3, 0]), patch_size=N)
    figure = render_canvas_figure(canvas, ImageStyle("amplitude"), PROVENANCE, "canvas", overlays, obj)
    rgb = figure.rgb()
    assert rgb.shape[0] > 300 and rgb.std() > 10
    assert figure.metadata["comparison"]["correlation"] > 0.999
    image_axes = [ax for ax in figure.figure.axes if ax.images]
    assert len(image_axes) == 3
    titles = [ax.get_title(loc="left") for ax in image_axes]
    assert titles[0] == "reconstruction" and "ground truth" in titles[1] and titles[2].startswith("error")
    plain = render_canvas_figure(canvas, ImageStyle("phase"), PROVENANCE, "canvas", options=CanvasOptions(truth=False))
    assert len([ax for ax in plain.figure.axes if ax.images]) == 1
    assert plain.style.levels == pytest.approx((-np.pi, np.pi))


def _panel_pixels(figure) -> list[np.ndarray]:
    """The RGB arrays of the figure's image panels, left to right (reconstruction first)."""
    return [np.asarray(ax.images[0].get_array()) for ax in figure.figure.axes if ax.images]


@pytest.mark.parametrize("how", ["auto (offset removed)", "auto, unwrapped"])
def test_canvas_figure_draws_phase_as_the_canvas_view_shows_it(truth_and_canvas, how):
    obj, canvas, _ = truth_and_canvas
    offset = canvas.image * np.complex64(np.exp(2.5j))  # a small phase object on a 2.5 rad offset
    canvas = Canvas(offset, canvas.weight, canvas.center_xy, canvas.stitch, canvas.crop)
    shown, view_levels = canvas_phase_view(canvas, how)
    figure = render_canvas_figure(canvas, ImageStyle("phase"), PROVENANCE, "canvas", truth=obj,
                                  options=CanvasOptions(phase_view=how))
    assert figure.style.levels == view_levels and view_levels[1] - view_levels[0] < 2.0
    assert figure.metadata["style"]["phase_view"] == how
    rows, cols = coverage_box(canvas)
    covered = (canvas.weight > COVERED_WEIGHT)[rows, cols]
    expected = colorize(shown[rows, cols], view_levels, "twilight")
    panels = _panel_pixels(figure)
    np.testing.assert_array_equal(panels[0][covered], expected[covered])
    truth_shown, truth_levels = phase_view(obj, None, how)
    np.testing.assert_array_equal(panels[1], colorize(truth_shown, truth_levels, "twilight"))
    typed = render_canvas_figure(canvas, ImageStyle("phase", levels=(-0.3, 0.3)), PROVENANCE, "canvas",
                                 options=CanvasOptions(phase_view=how, truth=False))
    expected = colorize(shown[rows, cols], (-0.3, 0.3), "twilight")
    np.testing.assert_array_equal(_panel_pixels(typed)[0][covered], expected[covered])


def test_canvas_figure_draws_raw_phase_on_pi_by_default(truth_and_canvas):
    _, canvas, _ = truth_and_canvas
    figure = render_canvas_figure(canvas, ImageStyle("phase"), PROVENANCE, "canvas", options=CanvasOptions(truth=False))
    rows, cols = coverage_box(canvas)
    covered = (canvas.weight > COVERED_WEIGHT)[rows, cols]
    expected = colorize(np.angle(canvas.image[rows, cols]).astype(np.float32), (-np.pi, np.pi), "twilight")
    np.testing.assert_array_equal(_panel_pixels(figure)[0][covered], expected[covered])
    assert figure.metadata["style"]["phase_view"] == "wrapped ±π"
    with pytest.raises(ValueError, match="phase view"):
        CanvasOptions(phase_view="sideways")
