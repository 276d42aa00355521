"""Plain data types shared by every floor of ptycho-gui (no behaviour, no Qt, no torch).

Conventions used everywhere:
- positions are object-pixel ``(x, y)`` pairs: x indexes columns, y indexes rows;
- a *group* is a row of C dataset row indices (C = gridsize**2) fed to the network together;
- patches are complex64 arrays ``(B, C, N, N)``; channel c of a group depicts the object around
  the scan position of that group's c-th member.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

STITCH_MODES: tuple[str, ...] = ("position", "ptychopinn-bridge", "ptychopinn-cli")
"""Stitching modes: the correct one first, then the two PtychoPINN replicas kept for comparison."""

PRECISIONS: tuple[str, ...] = ("fp32", "bf16", "fp16")
"""Forward-pass precisions: full float32 (default, PtychoPINN parity) or autocast to bfloat16/float16."""

NORMALIZATION_CONVENTIONS: tuple[str, ...] = ("bridge", "mmap")
"""Named input-normalization conventions (contract §2.3); an explicit number is also accepted."""


@dataclass(frozen=True)
class RunSettings:
    """Everything that decides which forward passes run and how their results are combined."""

    device: str = "auto"
    batch_size: int = 32
    n_groups: int | None = None
    """Number of groups; None = one group seeded at every pattern (PtychoPINN's ``n_groups = M``)."""
    neighbors: int | None = None
    """K nearest neighbours a group is drawn from; None = the checkpoint's training K, else 4."""
    seed: int | None = 0
    groups_file: str | None = None
    """An ``.npy`` of dataset row indices, shape (G, C), used instead of neighbour grouping."""
    stitch: str = "position"
    crop: int = 20
    normalization: str = "auto"
    """'auto' (the checkpoint's convention), 'bridge', 'mmap', or a positive number as text."""
    keep_patches: bool = True
    """Keep every batch's patches in the run result (False bounds memory on huge scans)."""
    num_threads: int | None = None
    """torch intra-op threads for CPU runs; None leaves torch's default."""
    auto_batch_size: bool = False
    """Replace ``batch_size`` at plan time by the largest batch that fits free device memory with a margin."""
    precision: str = "fp32"
    """One of ``PRECISIONS``; reduced precision runs under autocast and reports its error against fp32."""
    tf32: bool = False
    """Allow TensorFloat-32 convolutions and matmuls on CUDA (off: PtychoPINN parity needs full fp32)."""
    prefetch: int = 2
    """Batches read and normalized ahead of the one computing, in a loader thread (0: read inline)."""


@dataclass
class BatchStats:
    """Per-batch statistics: PtychoPINN ``PatchStatsLogger`` fields plus phase and sanity figures.

    Amplitude statistics are over ``|patches|``; ``global_std`` and ``per_patch_std`` are unbiased
    (N-1) as in PtychoPINN; ``var_zero_mean`` removes each (group, channel) image's own mean.
    Per-patch arrays have one value per group of the batch, taken over (C, H, W).
    """

    global_mean: float
    global_std: float
    var_zero_mean: float
    amp_min: float
    amp_max: float
    phase_mean: float
    phase_std: float
    nonfinite: int
    input_scale: float
    per_patch_mean: np.ndarray
    per_patch_std: np.ndarray
    per_patch_min: np.ndarray
    per_patch_max: np.ndarray
    precision_error: float = 0.0
    """Relative RMS difference of a sample of the batch from an fp32 recompute (0 for fp32 runs)."""

    @classmethod
    def scalar_names(cls) -> tuple[str, ...]:
        """Names of the one-number-per-batch fields, in display order."""
        return tuple(f.name for f in fields(cls) if not f.name.startswith("per_patch_"))

    def scalars(self) -> dict[str, float]:
        """The one-number-per-batch fields as a plain dict."""
        return {name: float(getattr(self, name)) for name in self.scalar_names()}


@dataclass
class BatchResult:
    """One batch of forward passes, on the host, ready for views, stitching and export."""

    index: int
    group_indices: np.ndarray
    """(B,) indices into the run's group table."""
    groups: np.ndarray
    """(B, C) int64 dataset row indices."""
    positions: np.ndarray
    """(B, C, 2) float64 object-pixel (x, y) of every channel."""
    patches: np.ndarray
    """(B, C, N, N) complex64 network output."""
    stats: BatchStats
    seconds: float
    """Wall time of this batch's forward pass, host transfer included."""
    input_scale: float


CANVAS_TILE = 64
"""Side of the square tiles a canvas is tracked in: batches dirty tiles, refreshes recompute only those."""


@dataclass
class Canvas:
    """A stitched image with its frame: canvas pixel (H//2, W//2) is object point ``center_xy``."""

    image: np.ndarray
    """(H, W) complex64."""
    weight: np.ndarray
    """(H, W) float32 sum of translated crop masks (0 = not covered)."""
    center_xy: tuple[float, float]
    stitch: str
    crop: int
    mirrored: bool = False
    """True for the ptychopinn-cli replica, whose layout is point-reflected about the centre."""
    tile_revisions: np.ndarray | None = None
    """(⌈H/CANVAS_TILE⌉, ⌈W/CANVAS_TILE⌉) int64 revision of each CANVAS_TILE² tile, or None (unknown).

    Revisions are unique across stitchers and 0 means never written (all zero): two canvases of the
    same shape whose tile has the same revision have the same pixels there, so a view redraws only
    the tiles whose revision changed."""

    def object_to_canvas(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Map object-pixel (x, y) to canvas (column, row) in this canvas's frame."""
        h, w = self.image.shape
        sign = -1.0 if self.mirrored else 1.0
        col = w // 2 + sign * (np.asarray(x, dtype=float) - self.center_xy[0])
        row = h // 2 + sign * (np.asarray(y, dtype=float) - self.center_xy[1])
        return col, row
