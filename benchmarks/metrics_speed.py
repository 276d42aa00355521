"""Metrics speed: ``compare`` on a 1,000 × 1,000 canvas (target ≤ 0.5 s on CPU), and the physics residual's
share of a run (target ≤ 10 %).

1. A synthetic 1,000 × 1,000 complex object and a shifted, scaled, phase-tilted copy with 90 % coverage;
   ``compare`` is timed ``--repeats`` times (wall and process CPU time printed).
2. The demo checkpoint over the demo scan (gridsize 1) and, when present, the shared gs2 bundle over the
   shared lines scan (gridsize 2, merge/extract): every batch is computed, then its residual
   (``read_inputs`` + forward model + sums) is timed right after it; the ratio residual / batch is printed.
Run: ``OMP_NUM_THREADS=1 python benchmarks/metrics_speed.py``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from scipy.ndimage import gaussian_filter

from ptycho_gui.analysis.comparison import compare
from ptycho_gui.analysis.residual import ResidualAccumulator, physics_model_for
from ptycho_gui.engine.run import InferenceRun
from ptycho_gui.io.checkpoints import open_checkpoint
from ptycho_gui.io.datasets import open_dataset
from ptycho_gui.types import RunSettings

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "fixtures" / "ptychopinn"


def time_compare(size: int, repeats: int) -> list[float]:
    """Wall times of ``compare`` on a size × size canvas."""
    rng = np.random.default_rng(0)
    amp = 1.0 + np.abs(gaussian_filter(rng.normal(size=(size, size)), 4)) * 10
    phase = gaussian_filter(rng.normal(size=(size, size)), 4) * 10
    truth = amp * np.exp(1j * phase)
    cols = np.mgrid[0:size, 0:size][1]
    recon = 1.7 * np.roll(truth, (2, -3), axis=(0, 1)) * np.exp(1j * (0.3 + 0.001 * cols))
    weight = np.zeros((size, size), dtype=np.float32)
    margin = size // 20
    weight[margin:-margin, margin:-margin] = 1.0
    times = []
    for _ in range(repeats):
        start, cpu = time.perf_counter(), time.process_time()
        compare(recon.astype(np.complex64), truth.astype(np.complex64), weight)
        times.append((time.perf_counter() - start, time.process_time() - cpu))
    return times


def residual_share(checkpoint: Path, dataset_path: Path, n_groups: int) -> tuple[float, float]:
    """(seconds of batches, seconds of their residuals) over ``n_groups`` groups."""
    with open_dataset(dataset_path) as dataset:
        run = InferenceRun(open_checkpoint(checkpoint), dataset, RunSettings(n_groups=min(n_groups, dataset.n_patterns), batch_size=32))
        run.prepare_thread()
        physics = physics_model_for(run.model, dataset)
        accumulator = ResidualAccumulator(run.n_groups, run.model.C)
        batch_seconds = residual_seconds = 0.0
        for index in range(run.n_batches):
            start = time.perf_counter()
            result = run.compute_batch(index)
            middle = time.perf_counter()
            measured = run.read_inputs(result.group_indices) * run.input_scale
            accumulator.add(result.group_indices, physics.predict(result.patches, result.positions), measured)
            residual_seconds += time.perf_counter() - middle
            batch_seconds += middle - start
    return batch_seconds, residual_seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--groups", type=int, default=256)
    args = parser.parse_args()
    times = time_compare(args.size, args.repeats)
    wall, cpu = np.array(times).T
    print(f"compare {args.size}x{args.size}: wall best {wall.min():.3f} s, median {np.median(wall):.3f} s; "
          f"CPU best {cpu.min():.3f} s (target <= 0.5 s; CPU time is what a shared machine cannot inflate)")
    from ptycho_gui.demo import demo_paths

    cases = [("demo gs1", *demo_paths())]
    if SHARED.is_dir():
        cases.append(("shared gs2", SHARED / "gs2" / "wts.h5.zip", SHARED / "lines_n64_test.npz"))
    for label, checkpoint, dataset in cases:
        batches, residual = residual_share(checkpoint, dataset, args.groups)
        print(f"{label}: batches {batches:.2f} s, residual {residual:.2f} s, residual / batches = "
              f"{residual / batches:.3f} (target <= 0.10)")


if __name__ == "__main__":
    main()
