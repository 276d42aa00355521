"""Engine overhead: wall time of ``InferenceRun.execute`` (stitching and statistics included, loading
excluded) divided by a bare ``model(x)`` loop over the same batches.

Setup (the issue's): N = 64, gridsize 2, 2,048 groups, batch 32, CPU, the shared PtychoPINN gs2 bundle,
a synthetic 2,048-pattern scan. Target: ratio <= 1.10. Run: ``python benchmarks/engine_overhead.py``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from ptycho_gui.engine.run import InferenceRun
from ptycho_gui.io.checkpoints import open_checkpoint
from ptycho_gui.io.datasets import open_dataset
from ptycho_gui.types import RunSettings

REPO = Path(__file__).resolve().parents[1]
BUNDLE = REPO.parent / "shared" / "fixtures" / "ptychopinn" / "gs2" / "wts.h5.zip"


def synthetic_scan(path: Path, n_patterns: int, n: int = 64, seed: int = 0) -> None:
    """A jittered raster of ``n_patterns`` positions with random positive diffraction amplitudes."""
    rng = np.random.default_rng(seed)
    side = int(np.ceil(np.sqrt(n_patterns)))
    yy, xx = np.divmod(np.arange(n_patterns), side)
    x = 40 + 6.0 * xx + rng.uniform(-0.5, 0.5, n_patterns)
    y = 40 + 6.0 * yy + rng.uniform(-0.5, 0.5, n_patterns)
    diff = rng.gamma(2.0, 1.0, size=(n_patterns, n, n)).astype(np.float32)
    np.savez(path, diff3d=diff, xcoords=x, ycoords=y, xcoords_start=x, ycoords_start=y)


def bare_loop(run: InferenceRun) -> float:
    """Seconds for ``model(x)`` over the run's batches, inputs prepared beforehand."""
    batches = [torch.from_numpy(run.read_inputs(run.batch_group_indices(i)) * np.float32(run.input_scale))
               for i in range(run.n_batches)]
    network = run.model.network
    start = time.perf_counter()
    with torch.inference_mode():
        for x in batches:
            network(x)
    return time.perf_counter() - start


def engine_run(run: InferenceRun) -> float:
    """Seconds for the engine's full pass: read, normalize, forward, statistics, stitching."""
    start = time.perf_counter()
    run.execute()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=2048)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        scan = Path(tmp) / "scan.npz"
        synthetic_scan(scan, args.groups)
        settings = RunSettings(device="cpu", batch_size=args.batch_size, keep_patches=False)
        run = InferenceRun(open_checkpoint(BUNDLE), open_dataset(scan), settings)
        print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; {run.n_groups} groups x {run.model.C}, "
              f"batch {args.batch_size}, {run.n_batches} batches")
        engine_run(run.__class__(run.model, run.dataset, RunSettings(device="cpu", batch_size=args.batch_size,
                                                                     n_groups=64, keep_patches=False)))
        bare, engine = [], []
        for _ in range(args.repeats):
            bare.append(bare_loop(run))
            engine.append(engine_run(run))
        b, e = min(bare), min(engine)
        patterns = run.n_groups * run.model.C
        print(f"bare model(x) loop: {b:.2f} s ({patterns / b:.0f} patterns/s)")
        print(f"engine execute:     {e:.2f} s ({patterns / e:.0f} patterns/s)")
        print(f"ratio engine / bare: {e / b:.3f}  (target <= 1.10)")


if __name__ == "__main__":
    main()
