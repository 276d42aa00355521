"""The Compare dock's pictures and its exported figure (Qt-free): reconstruction, reference and error map on
shared levels, the metrics table and the FRC curve of one ``analysis.comparison.Comparison``.

``compare_figure`` makes the arrays the dock draws (one display mode, shared typed or robust levels);
``render_comparison_figure`` lays exactly those arrays and levels out as a figure for PNG, SVG and PDF.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ptycho_gui.analysis.comparison import Comparison
from ptycho_gui.render.annotations import SMALL_PX, TEXT_PX, PixelLayout, Provenance
from ptycho_gui.render.complex_display import complex_quantity, complex_rgb, robust_levels
from ptycho_gui.render.figure import RenderedFigure
from ptycho_gui.render.figure_layout import FIGURE_MARGIN, ImagePanel, draw_image_row, titled_layout

COLORMAP_OF_MODE = {"amplitude": "viridis", "phase": "twilight", "real": "cividis", "imaginary": "cividis",
                    "complex (HSV)": "viridis"}
ERROR_COLORMAP = "RdBu_r"
UNCOMPARED_GREY = (236, 236, 236)
"""Pixels left out of the comparison are drawn light grey, as in the dock."""
WIDTH = 1500
IMAGE_ROW_PX = 460
LOWER_ROW_PX = 330


@dataclass(frozen=True)
class CompareFigure:
    """The three pictures of the Compare dock for one display mode: reconstruction, reference, error.

    ``reconstruction`` and ``reference`` share ``levels`` (RGB (H, W, 3) uint8 in HSV mode, levels then
    apply to the amplitude); ``error`` is float with NaN outside the compared pixels, on ``error_levels``.
    """

    mode: str
    reconstruction: np.ndarray
    reference: np.ndarray
    levels: tuple[float, float]
    error: np.ndarray
    error_levels: tuple[float, float]
    error_label: str
    reconstruction_values: np.ndarray
    """(H, W) float32 scalar values of the reconstruction (amplitude in HSV mode), for ROI statistics and profiles."""
    reference_values: np.ndarray
    colormap: str
    """The colormap of reconstruction and reference (the dock's and the exported figure's)."""


def compare_figure(comparison: Comparison, mode: str, unwrap: bool = False,
                   levels: tuple[float, float] | None = None,
                   error_levels: tuple[float, float] | None = None, colormap: str | None = None) -> CompareFigure:
    """Pictures of a comparison in ``mode`` on one shared range (typed, or robust over the compared pixels),
    drawn with ``colormap`` (None: the mode's default, ``COLORMAP_OF_MODE``)."""
    mask = comparison.mask
    aligned, reference = comparison.aligned, comparison.reference
    scalar = "amplitude" if mode == "complex (HSV)" else mode
    recon_values = complex_quantity(aligned, scalar, mask, unwrap)
    ref_values = complex_quantity(reference, scalar, mask, unwrap)
    if levels is None:
        both = np.concatenate([recon_values[mask], ref_values[mask]])
        levels = robust_levels(both)
    if scalar == "amplitude":
        error, label = comparison.amplitude_error, "|reconstruction| − |reference|"
    elif scalar == "phase":
        error, label = comparison.phase_error, "wrapped phase difference (rad)"
    else:
        error = np.where(mask, recon_values - ref_values, np.nan).astype(np.float32)
        label = f"{scalar} difference"
    if error_levels is None:
        error_levels = robust_levels(error, mask, symmetric=True)
    recon_image, ref_image = recon_values, ref_values
    if mode == "complex (HSV)":
        recon_image, ref_image = complex_rgb(aligned, levels), complex_rgb(reference, levels)
    return CompareFigure(mode, recon_image, ref_image, levels, error, error_levels, label, recon_values, ref_values,
                         colormap or COLORMAP_OF_MODE[mode])


def metrics_rows(comparison: Comparison) -> list[tuple[str, str]]:
    """(name, value) lines of the metrics table, in the units of ``docs/metrics.md``."""
    a, p, f = comparison.amplitude, comparison.phase, comparison.frc

    def num(value: float | None, fmt: str) -> str:
        return "—" if value is None or not np.isfinite(value) else format(value, fmt)

    resolution = "not reached (agrees up to Nyquist)" if f.resolution_px is None or not np.isfinite(
        f.resolution_px) else f"{f.resolution_px:.2f} px"
    if f.resolution_m is not None and np.isfinite(f.resolution_m):
        resolution += f" ({f.resolution_m * 1e9:.1f} nm)"
    return [
        ("shift (x, y) px", f"{comparison.shift_xy[0]:+.2f}, {comparison.shift_xy[1]:+.2f}"),
        ("pixels compared", f"{comparison.pixels:,}"),
        ("amplitude scale", num(a.scale, ".4g")),
        ("amplitude RMSE", num(a.rmse, ".4g")),
        ("amplitude PSNR (dB)", num(a.psnr_db, ".2f")),
        ("amplitude SSIM", num(a.ssim, ".4f")),
        ("amplitude corr", num(a.corr, ".4f")),
        ("phase offset (rad)", num(p.offset_rad, "+.4f")),
        ("phase ramp x, y (rad/px)", f"{p.ramp_rad_per_px[0]:+.2e}, {p.ramp_rad_per_px[1]:+.2e}"),
        ("phase RMSE (rad)", num(p.rmse_rad, ".4f")),
        ("phase corr", num(p.corr, ".4f")),
        ("FRC half-bit resolution", resolution),
    ]


def _picture_rgb(values: np.ndarray, levels: tuple[float, float], cmap: str, mask: np.ndarray | None) -> np.ndarray:
    """(H, W, 3) uint8 of a picture as the dock draws it: RGB kept, scalars on their levels, grey outside ``mask``."""
    from ptycho_gui.render.colormaps import colorize

    rgb = np.array(values) if values.ndim == 3 else colorize(np.nan_to_num(values), levels, cmap)
    if mask is not None:
        rgb[~mask] = UNCOMPARED_GREY
    return rgb


def _metrics_panel(layout: PixelLayout, ax, comparison: Comparison) -> None:
    ax.set_axis_off()
    rows = metrics_rows(comparison)
    table = ax.table(cellText=[[name, value] for name, value in rows], colLabels=["metric", "value"],
                     loc="upper left", cellLoc="left", colLoc="left", colWidths=[0.5, 0.5])
    table.auto_set_font_size(False)
    table.set_fontsize(layout.points(SMALL_PX))
    table.scale(1.0, 1.25)


def _frc_panel(layout: PixelLayout, ax, comparison: Comparison) -> None:
    frc = comparison.frc
    finite = np.isfinite(frc.curve)
    ax.plot(frc.frequency[finite], frc.curve[finite], color="#1f77b4", lw=1.6, label="FRC")
    ax.plot(frc.frequency, frc.half_bit, color="#d62728", lw=1.0, ls="--", label="half-bit threshold")
    resolution = frc.resolution_px
    if resolution is not None and np.isfinite(resolution):
        ax.axvline(1.0 / resolution, color="#555555", ls=":", lw=1.0, label=f"crossing: {resolution:.2f} px")
    ax.set_title("FRC", fontsize=layout.points(TEXT_PX), loc="left")
    ax.set_xlabel("spatial frequency (cycles/px)", fontsize=layout.points(SMALL_PX))
    ax.set_ylim(-0.05, 1.05)
    ax.tick_params(labelsize=layout.points(SMALL_PX))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=layout.points(SMALL_PX), loc="center right")


def render_comparison_figure(comparison: Comparison, pictures: CompareFigure, provenance: Provenance,
                             heading: str, notes: list[str] | None = None, dpi: int = 100,
                             title: bool = True) -> RenderedFigure:
    """Reconstruction, reference and error map (the dock's arrays and levels), metrics table and FRC curve."""
    layout, top = titled_layout(WIDTH, IMAGE_ROW_PX + LOWER_ROW_PX, heading,
                                provenance.lines() + list(notes or []), title, dpi)
    mask = comparison.mask
    scale = comparison.amplitude.scale
    cmap = pictures.colormap
    scalar_label = "amplitude" if pictures.mode == "complex (HSV)" else pictures.mode
    panels = (
        (pictures.reconstruction, pictures.levels, cmap, f"Reconstruction ÷ {scale:.3g}, registered, aligned · "
                                                          f"{pictures.mode}", scalar_label),
        (pictures.reference, pictures.levels, cmap, f"Reference · {pictures.mode}", scalar_label),
        (pictures.error, pictures.error_levels, ERROR_COLORMAP, f"Error · {pictures.error_label}",
         pictures.error_label),
    )
    draw_image_row(layout, [ImagePanel(_picture_rgb(values, levels, colormap, mask), panel_title,
                                       None if values.ndim == 3 else levels, colormap, label)
                            for values, levels, colormap, panel_title, label in panels], top, IMAGE_ROW_PX)
    lower = top + IMAGE_ROW_PX
    _metrics_panel(layout, layout.axes(FIGURE_MARGIN, lower + 10, 560, LOWER_ROW_PX - 20), comparison)
    _frc_panel(layout, layout.axes(FIGURE_MARGIN + 680, lower + 30, WIDTH - 2 * FIGURE_MARGIN - 700,
                                   LOWER_ROW_PX - 80), comparison)
    scores = comparison.as_dict()
    metadata = {
        "kind": "comparison",
        "heading": heading,
        "mode": pictures.mode,
        "colormap": pictures.colormap,
        "levels": [float(v) for v in pictures.levels],
        "error_levels": [float(v) for v in pictures.error_levels],
        "error_label": pictures.error_label,
        "metrics": {key: value for key, value in scores.items() if key != "frc"},
        "frc_resolution_px": scores["frc"]["resolution_px"],
        "provenance": asdict(provenance),
    }
    return RenderedFigure(figure=layout.figure, dpi=dpi, metadata=metadata)
