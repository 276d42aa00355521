"""Image files: rendered figures as PNG (8-bit RGB + DPI), SVG and PDF (text kept as text), and raw
float32 multi-page TIFF for quantitative reuse. Every file is written atomically.

Vector formats read two matplotlib rc settings at save time (``svg.fonttype``, ``pdf.fonttype``);
they are set under a lock so concurrent exports in worker threads never see each other's values.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from pathlib import Path

import matplotlib
import numpy as np
from PIL import Image, PngImagePlugin

from ptycho_gui import __version__
from ptycho_gui.export.atomic import atomic_path
from ptycho_gui.render.figure import RenderedFigure

FIGURE_FORMATS: tuple[str, ...] = ("png", "svg", "pdf")
METADATA_KEY = "ptycho-gui"
"""PNG text chunk holding the figure's JSON metadata (style, levels, tile boxes, provenance)."""
SOFTWARE = f"ptycho-gui {__version__}"
VECTOR_RC: dict[str, dict[str, object]] = {
    "svg": {"svg.fonttype": "none", "svg.hashsalt": "ptycho-gui"},
    "pdf": {"pdf.fonttype": 42},
}
"""SVG labels as <text> elements (deterministic ids); PDF fonts embedded as TrueType (extractable text)."""
_RC_LOCK = threading.Lock()


def write_png(rendered: RenderedFigure, destination: str | Path, overwrite: bool = False) -> Path:
    """8-bit RGB PNG of the figure's Agg pixels, with its DPI and JSON metadata in text chunks."""
    info = PngImagePlugin.PngInfo()
    info.add_text("Software", SOFTWARE)
    info.add_text("Title", str(rendered.metadata.get("heading", "")))
    info.add_itxt(METADATA_KEY, json.dumps(rendered.metadata))
    image = Image.fromarray(rendered.rgb())
    with atomic_path(destination, overwrite) as tmp:
        image.save(tmp, format="PNG", dpi=(rendered.dpi, rendered.dpi), pnginfo=info)
    return Path(destination)


def write_vector(rendered: RenderedFigure, destination: str | Path, fmt: str, overwrite: bool = False) -> Path:
    """SVG or PDF of the figure with every annotation kept as text (metadata without pixel boxes)."""
    heading = str(rendered.metadata.get("heading", ""))
    metadata = {"Title": heading, "Creator": SOFTWARE}
    summary = {key: value for key, value in rendered.metadata.items() if key != "tiles"}
    metadata["Description" if fmt == "svg" else "Subject"] = json.dumps(summary)
    with atomic_path(destination, overwrite) as tmp, _RC_LOCK, matplotlib.rc_context(VECTOR_RC[fmt]):
        rendered.figure.savefig(tmp, format=fmt, dpi=rendered.dpi, metadata=metadata)
    return Path(destination)


def write_figure(rendered: RenderedFigure, destination: str | Path, fmt: str, overwrite: bool = False) -> Path:
    """Write a rendered figure as 'png', 'svg' or 'pdf'."""
    if fmt == "png":
        return write_png(rendered, destination, overwrite)
    if fmt in VECTOR_RC:
        return write_vector(rendered, destination, fmt, overwrite)
    raise ValueError(f"unknown figure format {fmt!r}; choose one of {', '.join(FIGURE_FORMATS)}")


def write_tiff(
    pages: Sequence[np.ndarray],
    destination: str | Path,
    descriptions: Sequence[str] | None = None,
    overwrite: bool = False,
) -> Path:
    """A float32 TIFF with one page per 2-D array (values kept bit for bit), each with its own description."""
    if not pages:
        raise ValueError("no pages to write")
    images = [Image.fromarray(np.ascontiguousarray(page, dtype=np.float32)) for page in pages]
    texts = list(descriptions) if descriptions is not None else [""] * len(images)
    if len(texts) != len(images):
        raise ValueError(f"{len(images)} pages but {len(texts)} descriptions")
    for image, text in zip(images[1:], texts[1:], strict=True):
        image.encoderinfo = {"description": text}
    with atomic_path(destination, overwrite) as tmp:
        images[0].save(tmp, format="TIFF", save_all=True, append_images=images[1:], description=texts[0],
                       software=SOFTWARE)
    return Path(destination)


def read_png_metadata(path: str | Path) -> dict:
    """The JSON metadata a ``write_png`` file carries (style, levels, tile boxes, provenance)."""
    with Image.open(path) as image:
        return json.loads(image.text[METADATA_KEY])
