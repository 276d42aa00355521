"""``python -m ptycho_gui.demo build [--seed S] [--out DIR] [--epochs E]``: regenerate the demo files."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

from ptycho_gui.demo import DATA_DIR
from ptycho_gui.demo.build import DEFAULT_GRIDSIZE, DEFAULT_SEED, RECIPES, build_demo
from ptycho_gui.demo.quality import (
    amplitude_correlation,
    phase_correlation,
    reconstruct,
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m ptycho_gui.demo", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build", help="simulate the demo scan and train its network")
    build.add_argument("--seed", type=int, default=DEFAULT_SEED,
                       help=f"simulation and training seed (default {DEFAULT_SEED})")
    build.add_argument("--out", type=Path, default=DATA_DIR, help=f"output folder (default {DATA_DIR})")
    build.add_argument("--gridsize", type=int, default=DEFAULT_GRIDSIZE, choices=sorted(RECIPES),
                       help=f"network gridsize (default {DEFAULT_GRIDSIZE}; 2 trains with the overlap constraint)")
    build.add_argument("--epochs", type=int, default=None, help="training epochs (default: the gridsize's recipe)")
    build.add_argument("--threads", type=int, default=1,
                       help="torch CPU threads (default 1: fastest on shared cores; bit-exact results depend on it)")
    return parser


def _print_epoch(started: float):
    def report(epoch: int, loss: float) -> None:
        print(f"epoch {epoch:4d}  loss {loss:.6g}  {time.perf_counter() - started:7.1f} s", flush=True)

    return report


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = _parser().parse_args(argv)
    torch.set_num_threads(args.threads)
    report = build_demo(args.out, seed=args.seed, epochs=args.epochs, progress=_print_epoch(time.perf_counter()),
                        gridsize=args.gridsize)
    canvas, truth = reconstruct(report.checkpoint, report.dataset)
    print(f"dose {report.photons_per_pattern:g} photons/pattern; training {report.seconds:.1f} s wall, "
          f"{time.process_time():.1f} s CPU in all; final loss {report.final_loss:.6g}")
    print(f"amplitude correlation {amplitude_correlation(canvas, truth):.4f}; "
          f"phase correlation {phase_correlation(canvas, truth):.4f} after offset/ramp removal "
          "(position stitch, crop 20, covered pixels)")
    for path in (report.checkpoint, report.dataset):
        print(f"{path}  {path.stat().st_size / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
