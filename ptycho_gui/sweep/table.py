"""Reading a ``sweep.json`` back: its rows as flat, sortable columns, with paths resolved beside the file."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ptycho_gui.errors import InvalidInputError
from ptycho_gui.sweep.report import flat_row

ROW_KEYS = ("checkpoint", "dataset", "reconstruction", "status", "reason", "seconds", "metrics", "residual_nmse_mean")
"""What every sweep.json row must hold."""


@dataclass
class SweepTable:
    """A sweep.json: the file, its rows as written and as flat columns."""

    path: Path
    rows: list[dict]
    flat: list[dict]

    def reconstruction(self, index: int) -> Path | None:
        """Row ``index``'s reconstruction.h5: as recorded, or under this sweep's pairs/ folder when moved."""
        recorded = self.rows[index]["reconstruction"]
        if recorded is None:
            return None
        recorded = Path(recorded)
        if recorded.exists():
            return recorded
        moved = self.path.parent / "pairs" / recorded.parent.name / recorded.name
        return moved if moved.exists() else recorded


def read_sweep(path: str | Path) -> SweepTable:
    """Read and check a sweep.json; a malformed file is one InvalidInputError naming it."""
    path = Path(path)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInputError(path, f"not a readable sweep.json ({exc})") from exc
    rows = document.get("rows") if isinstance(document, dict) else None
    if not isinstance(rows, list):
        raise InvalidInputError(path, 'not a sweep.json: no "rows" list')
    for number, row in enumerate(rows):
        missing = [key for key in ROW_KEYS if not isinstance(row, dict) or key not in row]
        if missing or not isinstance(row["checkpoint"], dict):
            raise InvalidInputError(path, f"row {number} lacks {', '.join(missing) or 'a checkpoint object'}")
    try:
        flat = [flat_row(row) for row in rows]
    except (KeyError, TypeError) as exc:
        raise InvalidInputError(path, f"a row is malformed ({exc})") from exc
    return SweepTable(path, rows, flat)
