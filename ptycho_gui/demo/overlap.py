"""PtychoPINN's overlap constraint for gridsize > 1 training (contract §2.5 steps 1–2, ``probe`` weighting).

The C patches a network predicts for one group are merged into one region (each translated to its
scan position relative to the group centre, weighted by the translated probe intensity), and every
channel's patch is then cut back out of that region. Diffraction simulated from the extracted patches
can only match the measurements when the overlapping patches agree, which ties the phase of
neighbouring patterns together (a single pattern leaves its phase offset and ramp free).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

WEIGHT_THRESHOLD = 1e-6
"""Region pixels whose summed weight is below this fraction of the maximum are set to zero."""


def relative_offsets(positions: np.ndarray) -> np.ndarray:
    """(G, C, 2) (x, y) offsets of each member from its group's mean position (``coords_relative``)."""
    positions = np.asarray(positions, dtype=np.float64)
    return positions - positions.mean(axis=1, keepdims=True)


def region_size(n: int, offsets: np.ndarray) -> int:
    """Side of the merged region: N plus twice the largest offset, rounded up to even."""
    pad = math.ceil(float(np.abs(offsets).max()))
    return n + 2 * (pad + pad % 2)


def _sampling_grid(offsets: torch.Tensor, out_size: int, in_size: int, sign: float) -> torch.Tensor:
    """grid_sample grid (B·C, out, out, 2): output pixel p reads input pixel p − (out−in)/2 + sign·offset."""
    index = torch.arange(out_size, dtype=offsets.dtype) - (out_size - in_size) / 2
    x = index[None, None, :] + sign * offsets.reshape(-1, 2)[:, 0, None, None]
    y = index[None, :, None] + sign * offsets.reshape(-1, 2)[:, 1, None, None]
    x, y = torch.broadcast_tensors(x, y)
    scale = 2.0 / (in_size - 1)
    return torch.stack((x * scale - 1.0, y * scale - 1.0), dim=-1)


def _sample(images: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    """Bilinear sampling with zero fill of real images (B·C, K, H, W) on ``grid``."""
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=True)


def merge_patches(patches: torch.Tensor, offsets: torch.Tensor, probe_intensity: torch.Tensor,
                  size: int) -> torch.Tensor:
    """Probe-weighted mean of complex patches (B, C, N, N) placed at ``offsets`` (B, C, 2): region (B, M, M)."""
    batch, channels, n, _ = patches.shape
    weight = probe_intensity.expand(batch * channels, 1, n, n)
    flat = patches.reshape(batch * channels, 1, n, n)
    stacked = torch.cat((torch.view_as_real(flat).squeeze(1).permute(0, 3, 1, 2), weight), dim=1)
    moved = _sample(stacked, _sampling_grid(offsets, size, n, -1.0)).reshape(batch, channels, 3, size, size)
    w = moved[:, :, 2]
    numerator = torch.complex((moved[:, :, 0] * w).sum(dim=1), (moved[:, :, 1] * w).sum(dim=1))
    total = w.sum(dim=1)
    covered = total > WEIGHT_THRESHOLD * total.amax(dim=(-2, -1), keepdim=True)
    return torch.where(covered, numerator / total.clamp_min(1e-12), torch.zeros_like(numerator))


def extract_patches(region: torch.Tensor, offsets: torch.Tensor, n: int) -> torch.Tensor:
    """Each member's N×N patch cut from the merged region (B, M, M) at its offset: (B, C, N, N) complex."""
    batch, channels, size = offsets.shape[0], offsets.shape[1], region.shape[-1]
    planes = torch.view_as_real(region).permute(0, 3, 1, 2)
    planes = planes[:, None].expand(batch, channels, 2, size, size).reshape(batch * channels, 2, size, size)
    cut = _sample(planes, _sampling_grid(offsets, n, size, 1.0)).reshape(batch, channels, 2, n, n)
    return torch.complex(cut[:, :, 0], cut[:, :, 1])
