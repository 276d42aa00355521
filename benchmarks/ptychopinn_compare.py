"""End to end against PtychoPINN's own inference CLI: wall time and peak memory, paired runs.

For users who have PtychoPINN installed (the ``ptycho_torch`` package, in this interpreter or the one
given with ``--ptychopinn-python``); without it the script says so and exits 0 (skipped). Each repeat
runs, as separate processes and alternately,

    python -m ptycho_torch.inference --model_path DIR --test_data NPZ --output_dir OUT --n_images K --accelerator cpu
    python -m ptycho_gui.cli run DIR/wts.h5.zip NPZ -o OUT --n-groups K --stitch ptychopinn-cli --device cpu

(the same bundle, scan and number of patterns; PtychoPINN's CLI takes the first K patterns, ours K
groups) and measures each process's wall time and peak resident memory (``os.wait4``). Prints the
medians and the ratios last.

    python benchmarks/ptychopinn_compare.py --bundle-dir DIR --dataset NPZ [--n 102] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "ptychopinn"


def has_ptychopinn(python: str) -> bool:
    """Whether ``python`` can import PtychoPINN's torch package."""
    probe = subprocess.run([python, "-c", "import ptycho_torch.inference"], check=False, capture_output=True)
    return probe.returncode == 0


def measured(command: list[str]) -> tuple[float, int]:
    """(wall seconds, peak RSS bytes) of one process; raises if it fails."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    stderr = process.stderr.read().decode(errors="replace") if process.stderr else ""
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:4])} ... failed ({process.returncode}): {stderr[-2000:]}")
    return seconds, usage.ru_maxrss * 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle-dir", type=Path, default=FIXTURES / "gs2", help="folder holding wts.h5.zip")
    parser.add_argument("--dataset", type=Path, default=FIXTURES / "lines_n64_test.npz")
    parser.add_argument("--n", type=int, default=102, help="patterns (PtychoPINN --n_images) = our --n-groups")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--ptychopinn-python", default=sys.executable,
                        help="interpreter with PtychoPINN installed (default: this one)")
    args = parser.parse_args()
    if not has_ptychopinn(args.ptychopinn_python):
        print(f"skipped: PtychoPINN (ptycho_torch) is not importable by {args.ptychopinn_python}")
        return 0
    ours, theirs = [], []
    with tempfile.TemporaryDirectory(prefix="ptychopinn-compare-") as tmp:
        for repeat in range(args.repeats):
            out_theirs, out_ours = Path(tmp) / f"theirs{repeat}", Path(tmp) / f"ours{repeat}"
            theirs.append(measured([
                args.ptychopinn_python, "-m", "ptycho_torch.inference", "--model_path", str(args.bundle_dir),
                "--test_data", str(args.dataset), "--output_dir", str(out_theirs), "--n_images", str(args.n),
                "--accelerator", "cpu", "--quiet",
            ]))
            ours.append(measured([
                sys.executable, "-m", "ptycho_gui.cli", "run", str(args.bundle_dir / "wts.h5.zip"), str(args.dataset),
                "-o", str(out_ours), "--n-groups", str(args.n), "--stitch", "ptychopinn-cli", "--device", "cpu",
            ]))
            print(f"  repeat {repeat + 1}: PtychoPINN {theirs[-1][0]:.2f} s {theirs[-1][1] / 2**20:.0f} MiB; "
                  f"ptycho-inspect {ours[-1][0]:.2f} s {ours[-1][1] / 2**20:.0f} MiB")
    wall = statistics.median(t[0] / o[0] for t, o in zip(theirs, ours, strict=True))
    memory = statistics.median(t[1] / o[1] for t, o in zip(theirs, ours, strict=True))
    print(f"median wall: PtychoPINN {statistics.median(t[0] for t in theirs):.2f} s, "
          f"ptycho-inspect {statistics.median(o[0] for o in ours):.2f} s")
    print(f"ratio PtychoPINN / ptycho-inspect: wall {wall:.2f}x, peak memory {memory:.2f}x (paired medians)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
