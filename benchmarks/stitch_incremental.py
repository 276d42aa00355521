"""Incremental stitching against a naive per-patch stitch, in one run on the same patches.

Naive (written here, the way PtychoPINN's ``reassemble_position`` works): every patch's bilinear
window is placed into its own canvas-sized array, which is then added to the running sums, so each
patch costs the whole canvas. Incremental: ``Stitcher`` (host, numpy) and ``DeviceStitcher`` (torch,
here on CPU) add each batch's windows straight into the accumulators, so a batch costs its size,
never the canvas. All three canvases are checked equal. Prints the ratios last.

    python benchmarks/stitch_incremental.py [--patterns 5000] [--batch-size 64] [--crop 20] [--spacing 6]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from ptycho_gui.engine.device_stitching import DeviceStitcher
from ptycho_gui.engine.stitching import Stitcher


def raster(n_patterns: int, spacing: float, seed: int = 0) -> np.ndarray:
    """(G, 1, 2) jittered raster positions."""
    rng = np.random.default_rng(seed)
    side = int(np.ceil(np.sqrt(n_patterns)))
    yy, xx = np.divmod(np.arange(n_patterns), side)
    xy = np.stack([spacing * xx, spacing * yy], axis=-1) + rng.uniform(-0.5, 0.5, (n_patterns, 2))
    return xy[:, None, :].astype(np.float64)


def naive_stitch(stitcher: Stitcher, patches: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Canvas numerator and weight built patch by patch, each through a canvas-sized array."""
    size = stitcher.size + 1
    num = np.zeros((size, size), dtype=np.complex128)
    den = np.zeros((size, size), dtype=np.float64)
    offsets = stitcher._entry_offsets(np.arange(patches.shape[0]))
    rows, cols, frac_x, frac_y = stitcher._window_placement(offsets)
    lo, hi = stitcher._crop_start, stitcher._crop_stop
    m = hi - lo
    for e in range(patches.shape[0]):
        crop = patches[e, 0, lo:hi, lo:hi].astype(np.complex128)
        full_num = np.zeros((size, size), dtype=np.complex128)
        full_den = np.zeros((size, size), dtype=np.float64)
        r0, c0 = rows[e, 0, 0], cols[e, 0, 0]
        for dy, wy in ((0, 1.0 - frac_y[e]), (1, frac_y[e])):
            for dx, wx in ((0, 1.0 - frac_x[e]), (1, frac_x[e])):
                full_num[r0 + dy : r0 + dy + m, c0 + dx : c0 + dx + m] += wy * wx * crop
                full_den[r0 + dy : r0 + dy + m, c0 + dx : c0 + dx + m] += wy * wx
        num += full_num
        den += full_den
    return num, den


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patterns", type=int, default=5000)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--crop", type=int, default=20)
    parser.add_argument("--spacing", type=float, default=6.0)
    parser.add_argument("--n", type=int, default=64)
    args = parser.parse_args()
    torch.set_num_threads(1)
    positions = raster(args.patterns, args.spacing)
    rng = np.random.default_rng(1)
    shape = (args.patterns, 1, args.n, args.n)
    patches = (rng.normal(size=shape) + 1j * rng.normal(size=shape)).astype(np.complex64)
    batches = [np.arange(s, min(s + args.batch_size, args.patterns)) for s in range(0, args.patterns, args.batch_size)]

    host = Stitcher("position", args.crop, args.n, positions)
    device = DeviceStitcher("position", args.crop, args.n, positions, torch.device("cpu"))
    print(f"{args.patterns} patches (N = {args.n}, crop {args.crop}), canvas {host.size}², "
          f"{len(batches)} batches of {args.batch_size}, 1 thread")
    t_host = timed(lambda: [host.add(b, patches[b]) for b in batches])
    tensor = torch.from_numpy(patches)
    t_device = timed(lambda: [device.add(b, tensor[b]) for b in batches])
    result: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    t_naive = timed(lambda: result.update(naive=naive_stitch(host, patches)))
    num, den = result["naive"]
    naive_image = (num / (den + 1e-9))[: host.size, : host.size]
    a, b = host.canvas(), device.canvas()
    diff = max(float(np.abs(a.image - naive_image).max()), float(np.abs(b.image - a.image).max()))
    print(f"naive per-patch stitch:        {t_naive:8.3f} s")
    print(f"incremental Stitcher (numpy):  {t_host:8.3f} s")
    print(f"incremental DeviceStitcher:    {t_device:8.3f} s (torch on CPU)")
    print(f"largest canvas difference between the three: {diff:.2e}")
    print(f"ratio naive / incremental host: {t_naive / t_host:.1f}x; naive / device (CPU): {t_naive / t_device:.1f}x; "
          f"host / device (CPU): {t_host / t_device:.2f}x")


if __name__ == "__main__":
    main()
