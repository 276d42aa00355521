"""``ptycho-inspect sweep``: many checkpoints × many scans, each pair run and scored, on one machine or a Dask cluster.

Writes one folder per pair (``pairs/*/reconstruction.h5``, the ``run`` layout), then ``sweep.json``,
``sweep.csv`` and ``sweep.html`` in OUTDIR. See docs/sweeps.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from ptycho_gui.cli.common import EXIT_OK, EXIT_RUNTIME, add_run_options, positive_int, settings_from_args


def add_sweep_command(commands: argparse._SubParsersAction) -> None:
    """Register ``sweep`` on the ``ptycho-inspect`` sub-command parser."""
    parser = commands.add_parser(
        "sweep",
        help="run and score every checkpoint × dataset pair (in-process or on a Dask cluster)",
        description="Run every CHECKPOINT × DATASET pair with the normal engine, write each reconstruction.h5 and "
        "a sweep.json / sweep.csv / sweep.html table (metrics against objectGuess when present, physics residual). "
        "CHECKPOINT may be a checkpoint, a text file listing checkpoints (one a line) or a folder searched for "
        "checkpoints by content. Needs the 'sweep' extra (dask[distributed]) for more than one worker.",
    )
    parser.add_argument("checkpoints", nargs="+", type=Path, metavar="CHECKPOINT",
                        help="checkpoint file, listing (.txt, one path a line) or folder")
    parser.add_argument("--data", nargs="+", type=Path, required=True, metavar="DATASET", help="scan datasets")
    parser.add_argument("-o", "--output", type=Path, required=True, metavar="OUTDIR", help="output folder")
    parser.add_argument("--scheduler", default=None, metavar="ADDRESS",
                        help="submit to an existing Dask scheduler, e.g. tcp://host:8786 (shared filesystem needed)")
    parser.add_argument("--workers", type=positive_int, default=None, metavar="N",
                        help="workers of the local Dask cluster (default: one per CPU core; 1 runs in-process)")
    parser.add_argument("--shards", type=positive_int, default=1, metavar="N",
                        help="split each scan's batches into N shard tasks (spread over the workers), whose canvas "
                        "numerator and weight merge exactly into the single-run canvas; default 1")
    add_run_options(parser)
    parser.set_defaults(handler=command_sweep)


class PairProgress:
    """A one-line progress bar over pairs on stderr, redrawn as rows stream back."""

    def __init__(self, total: int):
        self.total, self.done, self.failed = total, 0, 0
        self.start = time.perf_counter()

    def row(self, row: dict) -> None:
        """Count one finished pair and redraw."""
        self.done += 1
        self.failed += row["status"] != "ok"
        filled = int(30 * self.done / self.total)
        elapsed = time.perf_counter() - self.start
        end = "\n" if self.done == self.total else ""
        sys.stderr.write(f"\r[{'#' * filled}{'.' * (30 - filled)}] {self.done}/{self.total} pairs  "
                         f"{self.failed} failed  {elapsed:6.1f} s{end}")
        sys.stderr.flush()


def command_sweep(args: argparse.Namespace) -> int:
    """Expand the checkpoints, run every pair and write the sweep tables."""
    from ptycho_gui.errors import InvalidInputError
    from ptycho_gui.sweep.execute import run_sweep
    from ptycho_gui.sweep.pairs import expand_checkpoints, make_pairs
    from ptycho_gui.sweep.report import write_report

    checkpoints = expand_checkpoints(args.checkpoints)
    for dataset in args.data:
        if not dataset.exists():
            raise InvalidInputError(dataset, "file not found")
    pairs = make_pairs(checkpoints, args.data, args.output)
    progress = PairProgress(len(pairs))
    sharded = f", {args.shards} shards each" if args.shards > 1 else ""
    print(f"{len(checkpoints)} checkpoints × {len(args.data)} datasets = {len(pairs)} pairs{sharded}", file=sys.stderr)
    rows = run_sweep(pairs, settings_from_args(args), progress.row, args.scheduler, args.workers, args.shards)
    paths = write_report(rows, args.output)
    failed = sum(row["status"] != "ok" for row in rows)
    print(f"wrote {paths['json']}, {paths['csv']}, {paths['html']} ({failed} of {len(rows)} pairs failed)",
          file=sys.stderr)
    return EXIT_OK if failed < len(rows) else EXIT_RUNTIME
