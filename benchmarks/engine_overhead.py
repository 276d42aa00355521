"""Engine overhead: wall time of the engine's batches (reading, normalization, host copy, statistics and
stitching included; loading excluded) divided by a bare ``model(x)`` loop over the same batches.

Default setup: N = 64, gridsize 2, 2,048 groups, batch 32, CPU, the shared PtychoPINN gs2 bundle, a
synthetic 2,048-pattern scan. Any checkpoint the app opens can be timed (``--checkpoint``), on a
synthetic scan of its N or on a real scan (``--dataset``; one group per pattern, at most ``--groups``).
Target: ratio <= 1.10. Run: ``python benchmarks/engine_overhead.py`` (``--groups 256`` for a quick
look). Each batch is timed both ways back to back, so a loaded machine slows both sides alike.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from ptycho_gui.engine.run import InferenceRun
from ptycho_gui.engine.statistics import StatsHistory
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


def interleaved(run: InferenceRun) -> tuple[float, float]:
    """(bare, engine) seconds summed over the run's batches, each batch timed both ways back to back.

    Bare: ``model.predict(x, offsets)`` (the network's forward) on inputs prepared beforehand. Engine: what ``InferenceRun.execute`` does per
    batch (read, normalize, forward, host copy, statistics, stitching, history). Interleaving per batch
    makes both figures see the same machine load.
    """
    stitcher = run.new_stitcher()
    history = StatsHistory(run.n_batches)
    bare = engine = 0.0
    for index in range(run.n_batches):
        group_indices = run.batch_group_indices(index)
        x = torch.from_numpy(run.read_inputs(group_indices) * np.float32(run.input_scale))
        offsets = torch.from_numpy(run.network_offsets(group_indices))
        start = time.perf_counter()
        run.model.predict(x, offsets)
        bare += time.perf_counter() - start
        start = time.perf_counter()
        result = run.compute_batch(index)
        stitcher.add(result.group_indices, result.patches)
        history.record(result.index, result.stats)
        engine += time.perf_counter() - start
    stitcher.canvas()
    return bare, engine


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=2048)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--checkpoint", type=Path, default=BUNDLE, help="any checkpoint the app opens")
    parser.add_argument("--dataset", type=Path, default=None, help="a real scan instead of the synthetic one")
    args = parser.parse_args()
    model = open_checkpoint(args.checkpoint)
    with tempfile.TemporaryDirectory() as tmp:
        scan = args.dataset
        if scan is None:
            scan = Path(tmp) / "scan.npz"
            synthetic_scan(scan, args.groups, model.N)
        dataset = open_dataset(scan)
        n_groups = min(args.groups, dataset.n_patterns)
        settings = RunSettings(device="cpu", batch_size=args.batch_size, n_groups=n_groups, keep_patches=False)
        run = InferenceRun(model, dataset, settings)
        print(f"{model.family} ({model.format}) {args.checkpoint}; torch {torch.__version__}, "
              f"{torch.get_num_threads()} threads; {run.n_groups} groups x {run.model.C}, "
              f"batch {args.batch_size}, {run.n_batches} batches")
        warm = InferenceRun(run.model, run.dataset, RunSettings(device="cpu", batch_size=args.batch_size, n_groups=min(64, n_groups)))
        interleaved(warm)
        bare, engine = interleaved(run)
        patterns = run.n_groups * run.model.C
        print(f"bare forward:   {bare:.2f} s ({patterns / bare:.0f} patterns/s)")
        print(f"engine batches: {engine:.2f} s ({patterns / engine:.0f} patterns/s)")
        print(f"ratio engine / bare: {engine / bare:.3f}  (target <= 1.10)")


if __name__ == "__main__":
    main()
