"""A sweep's tables and figures: ``sweep.json`` ({"rows": [...]}), ``sweep.csv`` and ``sweep.html``.

The HTML page holds a metrics table sortable by clicking any header and small multiples of the canvases
(amplitude PNGs, one per successful pair).
"""

from __future__ import annotations

import csv
import html
import io
import json
from pathlib import Path

import numpy as np

from ptycho_gui.export.atomic import atomic_path, write_text_atomic
from ptycho_gui.io.reconstruction_file import open_reconstruction

METRIC_COLUMNS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("amplitude_rmse", ("amplitude", "rmse")),
    ("amplitude_psnr_db", ("amplitude", "psnr_db")),
    ("amplitude_ssim", ("amplitude", "ssim")),
    ("amplitude_corr", ("amplitude", "corr")),
    ("phase_rmse_rad", ("phase", "rmse_rad")),
    ("phase_corr", ("phase", "corr")),
    ("frc_resolution_px", ("frc", "resolution_px")),
    ("frc_resolution_m", ("frc", "resolution_m")),
)
"""The scalar metrics flattened into the CSV and HTML tables (the JSON keeps the whole object)."""

CSV_COLUMNS = ("checkpoint", "sha256", "format", "family", "gridsize", "dataset", "reconstruction", "status",
               "reason", "groups", "seconds", *(name for name, _ in METRIC_COLUMNS), "residual_nmse_mean")


def flat_row(row: dict) -> dict:
    """One row as flat scalar columns (metrics empty without truth)."""
    identity = row["checkpoint"]
    flat = {"checkpoint": identity["path"], "sha256": identity["sha256"], "format": identity["format"],
            "family": identity["family"], "gridsize": identity["gridsize"]}
    flat |= {key: row.get(key) for key in ("dataset", "reconstruction", "status", "reason", "groups", "seconds")}
    for name, (group, key) in METRIC_COLUMNS:
        flat[name] = None if row["metrics"] is None else row["metrics"][group][key]
    flat["residual_nmse_mean"] = row["residual_nmse_mean"]
    return flat


def sweep_document(rows: list[dict]) -> dict:
    """The sweep.json object: every row without the internal pair index."""
    return {"rows": [{key: value for key, value in row.items() if key != "index"} for row in rows]}


def csv_text(rows: list[dict]) -> str:
    """sweep.csv: one line per pair, the columns of CSV_COLUMNS."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if v is None else v for k, v in flat_row(row).items()})
    return buffer.getvalue()


def write_thumbnail(reconstruction: Path, destination: Path) -> None:
    """The canvas amplitude over its covered pixels as a grey PNG (uncovered pixels black)."""
    from matplotlib.image import imsave

    canvas = open_reconstruction(reconstruction).canvas
    covered = canvas.weight > 0
    rows, cols = np.nonzero(covered)
    window = (slice(rows.min(), rows.max() + 1), slice(cols.min(), cols.max() + 1)) if rows.size else np.s_[:, :]
    amplitude = np.where(covered, np.abs(canvas.image), 0.0)[window]
    with atomic_path(destination, overwrite=True) as tmp:
        imsave(tmp, amplitude, cmap="gray", format="png")


def _cell(value) -> str:
    if value is None:
        return "<td></td>"
    if isinstance(value, float):
        return f'<td data-v="{value!r}">{value:.5g}</td>'
    return f"<td>{html.escape(str(value))}</td>"


SORT_SCRIPT = """<script>
document.querySelectorAll('th').forEach((th, col) => th.addEventListener('click', () => {
  const body = th.closest('table').tBodies[0];
  const up = th.dataset.dir !== 'up'; th.dataset.dir = up ? 'up' : 'down';
  const key = tr => { const c = tr.cells[col]; const v = c.dataset.v ?? c.textContent;
                      const n = parseFloat(v); return isNaN(n) ? v : n; };
  [...body.rows].sort((a, b) => { const x = key(a), y = key(b);
    const r = (typeof x === typeof y) ? (x < y ? -1 : x > y ? 1 : 0) : (typeof x === 'number' ? -1 : 1);
    return up ? r : -r; }).forEach(tr => body.appendChild(tr));
}));
</script>"""


def html_text(rows: list[dict], thumbnails: dict[int, str]) -> str:
    """sweep.html: the sortable metrics table and the small multiples."""
    columns = ("#", "checkpoint", "family", "gridsize", "dataset", "status", "reason", "seconds",
               *(name for name, _ in METRIC_COLUMNS), "residual_nmse_mean")
    lines = ["<!doctype html><html><head><meta charset='utf-8'><title>ptycho-inspect sweep</title><style>",
             "body{font-family:sans-serif}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px}",
             "th{cursor:pointer;background:#eee}figure{display:inline-block;margin:4px;width:180px}",
             "figure img{width:180px;image-rendering:pixelated}figcaption{font-size:11px}</style></head><body>",
             f"<h1>Sweep: {len(rows)} pairs</h1><p>Click a header to sort.</p><table><thead><tr>",
             "".join(f"<th>{html.escape(c)}</th>" for c in columns), "</tr></thead><tbody>"]
    for number, row in enumerate(rows):
        flat = flat_row(row)
        values = [number, Path(flat["checkpoint"]).name, flat["family"], flat["gridsize"],
                  Path(flat["dataset"]).name, flat["status"], flat["reason"], flat["seconds"],
                  *(flat[name] for name, _ in METRIC_COLUMNS), flat["residual_nmse_mean"]]
        lines.append("<tr>" + "".join(_cell(v) for v in values) + "</tr>")
    lines.append("</tbody></table><h2>Canvases (amplitude)</h2>")
    for number, row in enumerate(rows):
        if number in thumbnails:
            caption = html.escape(f"#{number} {Path(row['checkpoint']['path']).name} × {Path(row['dataset']).name}")
            lines.append(f"<figure><img src='{html.escape(thumbnails[number])}'><figcaption>{caption}"
                         "</figcaption></figure>")
    lines += [SORT_SCRIPT, "</body></html>"]
    return "\n".join(lines)


def write_report(rows: list[dict], out_dir: Path) -> dict[str, Path]:
    """Write sweep.json, sweep.csv, the thumbnails and sweep.html into ``out_dir``; returns their paths."""
    out_dir = Path(out_dir)
    thumbnails = {}
    for number, row in enumerate(rows):
        if row["status"] == "ok":
            name = f"thumbnails/{number:03d}.png"
            write_thumbnail(Path(row["reconstruction"]), out_dir / name)
            thumbnails[number] = name
    paths = {"json": out_dir / "sweep.json", "csv": out_dir / "sweep.csv", "html": out_dir / "sweep.html"}
    write_text_atomic(paths["json"], json.dumps(sweep_document(rows), indent=1), overwrite=True)
    write_text_atomic(paths["csv"], csv_text(rows), overwrite=True)
    write_text_atomic(paths["html"], html_text(rows, thumbnails), overwrite=True)
    return paths
