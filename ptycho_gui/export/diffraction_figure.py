"""The Diffraction dock's pictures and its exported figure (Qt-free): one pattern's measured and predicted
far-field amplitude (log10, shared levels) and their residual, with its NMSE and the run scale.

``pattern_pictures`` makes the arrays the dock draws; ``render_pattern_figure`` lays exactly those arrays and
levels out as a figure for PNG, SVG and PDF.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ptycho_gui.analysis.residual import DiffractionResidual
from ptycho_gui.render.annotations import Provenance
from ptycho_gui.render.colormaps import colorize
from ptycho_gui.render.complex_display import robust_levels
from ptycho_gui.render.figure import RenderedFigure
from ptycho_gui.render.figure_layout import ImagePanel, draw_image_row, titled_layout

LOG_FLOOR = 1e-4
"""Log display floor relative to the measured peak (four decades)."""
INTENSITY_COLORMAP = "inferno"
RESIDUAL_COLORMAP = "RdBu_r"
WIDTH = 1500
IMAGE_ROW_PX = 470


def log_amplitude(values: np.ndarray, peak: float) -> np.ndarray:
    """log10 of amplitudes floored at ``LOG_FLOOR`` × peak (float32)."""
    floor = peak * LOG_FLOOR if peak > 0 else LOG_FLOOR
    return np.log10(np.maximum(np.asarray(values, dtype=np.float64), floor)).astype(np.float32)


@dataclass(frozen=True)
class PatternPictures:
    """One pattern's three pictures as the Diffraction dock draws them, and what they are."""

    group: int
    channel: int
    measured: np.ndarray
    """(N, N) float32 log10 measured amplitude (floored at ``LOG_FLOOR`` × its peak)."""
    predicted: np.ndarray
    """(N, N) float32 log10 predicted amplitude (same floor)."""
    levels: tuple[float, float]
    """Shared levels of the two log pictures."""
    residual: np.ndarray
    """(N, N) float32 predicted − measured amplitude (linear)."""
    residual_levels: tuple[float, float]
    nmse: float
    scale: float
    scale_fitted: bool


def pattern_pictures(residual: DiffractionResidual, group: int, channel: int, row: int = 0) -> PatternPictures:
    """The pictures of pattern (row, channel) of ``residual`` (group ``group``): log amplitudes on one robust range."""
    measured, predicted = residual.measured[row, channel], residual.predicted[row, channel]
    peak = float(measured.max())
    log_measured, log_predicted = log_amplitude(measured, peak), log_amplitude(predicted, peak)
    levels = robust_levels(np.concatenate([log_measured.ravel(), log_predicted.ravel()]))
    difference = residual.residual[row, channel].astype(np.float32)
    return PatternPictures(group, channel, log_measured, log_predicted, levels, difference,
                           robust_levels(difference, symmetric=True), float(residual.nmse[row, channel]),
                           float(residual.scale), bool(residual.scale_fitted))


def pattern_arrays(pictures: PatternPictures) -> dict[str, np.ndarray]:
    """The pictures' arrays and levels by name (a data export's content)."""
    return {
        "measured_log10": pictures.measured,
        "predicted_log10": pictures.predicted,
        "log10_levels": np.asarray(pictures.levels, dtype=np.float64),
        "residual": pictures.residual,
        "residual_levels": np.asarray(pictures.residual_levels, dtype=np.float64),
        "nmse": np.float64(pictures.nmse),
        "scale": np.float64(pictures.scale),
        "scale_fitted": np.bool_(pictures.scale_fitted),
        "group": np.int64(pictures.group),
        "channel": np.int64(pictures.channel),
    }


def render_pattern_figure(pictures: PatternPictures, provenance: Provenance, heading: str,
                          notes: list[str] | None = None, dpi: int = 100, title: bool = True) -> RenderedFigure:
    """Measured and predicted (log10, shared levels) and the residual of one pattern, with its NMSE."""
    scale_note = (f"predicted = {pictures.scale:.4g} × forward model"
                  + (" (scale fitted over the run: the model's physics scale is not recorded)"
                     if pictures.scale_fitted else ""))
    text = provenance.lines() + [f"NMSE Σ(pred − meas)² / Σ meas² = {pictures.nmse:.4g} · {scale_note}"]
    layout, top = titled_layout(WIDTH, IMAGE_ROW_PX, heading, text + list(notes or []), title, dpi)
    draw_image_row(layout, [
        ImagePanel(colorize(pictures.measured, pictures.levels, INTENSITY_COLORMAP), "Measured (log10)",
                   pictures.levels, INTENSITY_COLORMAP, "log10 amplitude"),
        ImagePanel(colorize(pictures.predicted, pictures.levels, INTENSITY_COLORMAP), "Predicted (log10)",
                   pictures.levels, INTENSITY_COLORMAP, "log10 amplitude"),
        ImagePanel(colorize(pictures.residual, pictures.residual_levels, RESIDUAL_COLORMAP),
                   "Residual: predicted − measured", pictures.residual_levels, RESIDUAL_COLORMAP,
                   "amplitude difference"),
    ], top, IMAGE_ROW_PX)
    metadata = {
        "kind": "diffraction pattern",
        "heading": heading,
        "group": pictures.group,
        "channel": pictures.channel,
        "levels": [float(v) for v in pictures.levels],
        "residual_levels": [float(v) for v in pictures.residual_levels],
        "nmse": pictures.nmse,
        "scale": pictures.scale,
        "provenance": asdict(provenance),
    }
    return RenderedFigure(figure=layout.figure, dpi=dpi, metadata=metadata)
