"""Stitching on the compute device: the same canvas as ``Stitcher``, accumulated where the patches are.

Patches never leave the device to be stitched; only the finished canvas is copied back. The frame,
the offsets and the window placement are computed on the host exactly as ``Stitcher`` does (they are
tiny); the bilinear windows and the scatter-add run as torch ops on the device. Accumulators are
complex128/float64 like the host's, so the device needs float64 (CUDA and CPU; not MPS).
"""

from __future__ import annotations

import numpy as np
import torch

from ptycho_gui.engine.device import host_buffer
from ptycho_gui.engine.stitching import DENOMINATOR_EPS, Stitcher, add_bilinear_windows
from ptycho_gui.types import Canvas

ACCUMULATOR_BYTES_PER_PIXEL = 16 + 8
"""complex128 numerator + float64 weight per canvas pixel."""


def device_stitching_supported(device: torch.device) -> bool:
    """Whether the device has the float64 arithmetic the accumulators need (MPS has none)."""
    return device.type in ("cpu", "cuda")


def canvas_bytes(stitcher: Stitcher) -> int:
    """Device memory the accumulators of a canvas of this stitcher's frame take."""
    return (stitcher.size + 1) ** 2 * ACCUMULATOR_BYTES_PER_PIXEL


def _bilinear_windows(crops: torch.Tensor, frac_x: torch.Tensor, frac_y: torch.Tensor) -> torch.Tensor:
    """(E, M+1, M+1) windows on the crops' device: ``add_bilinear_windows`` into a zeroed tensor there."""
    m = crops.shape[-1]
    out = torch.zeros((frac_x.numel(), m + 1, m + 1), dtype=crops.dtype, device=crops.device)
    return add_bilinear_windows(out, crops, frac_x, frac_y)


class DeviceStitcher(Stitcher):
    """A ``Stitcher`` whose accumulators live on ``device``; ``add`` takes torch tensors there (or numpy)."""

    def __init__(self, mode: str, crop: int, N: int, positions: np.ndarray, device: torch.device):
        self.device = torch.device(device)
        if not device_stitching_supported(self.device):
            raise ValueError(f"stitching on {self.device} needs float64, which it does not have")
        super().__init__(mode, crop, N, positions)

    def _allocate(self) -> None:
        side = self.size + 1
        self._num = torch.zeros((side, side), dtype=torch.complex128, device=self.device)
        self._den = torch.zeros((side, side), dtype=torch.float64, device=self.device)

    def reset(self) -> None:
        """Forget every added batch (same frame)."""
        self._num.zero_()
        self._den.zero_()
        self._added[:] = False
        self._last_add_updates = 0

    def add(self, group_indices: np.ndarray, patches: torch.Tensor | np.ndarray) -> None:
        """Accumulate complex (B, C, N, N) patches of the given rows of the positions table, on the device."""
        patches = torch.as_tensor(patches, device=self.device)
        group_indices = self._checked_indices(group_indices, tuple(patches.shape))
        if group_indices.size == 0:
            self._last_add_updates = 0
            return
        flat = patches.mean(dim=1) if self.mode == "ptychopinn-bridge" else patches.reshape(-1, self.N, self.N)
        lo, hi = self._crop_start, self._crop_stop
        crops = flat[:, lo:hi, lo:hi].to(torch.complex128)
        rows, cols, frac_x, frac_y = self._window_placement(self._entry_offsets(group_indices))
        index = self._to_device((rows * (self.size + 1) + cols).ravel())
        frac_x = self._to_device(frac_x)
        frac_y = self._to_device(frac_y)
        m = hi - lo
        windows = _bilinear_windows(crops, frac_x, frac_y)
        ones = torch.ones((1, m, m), dtype=torch.float64, device=self.device)
        torch.view_as_real(self._num).view(-1, 2).index_add_(0, index, torch.view_as_real(windows).reshape(-1, 2))
        self._den.view(-1).index_add_(0, index, _bilinear_windows(ones, frac_x, frac_y).reshape(-1))
        self._added[group_indices] = True
        self._last_add_updates = rows.shape[0] * (m + 1) ** 2

    def _to_device(self, array: np.ndarray) -> torch.Tensor:
        """A host array on the device without waiting for the device's queued work (through a pinned buffer on CUDA)."""
        staged = host_buffer(array.shape, torch.from_numpy(array[:0]).dtype, self.device)
        staged.numpy()[...] = array
        return staged.to(self.device, non_blocking=True)

    def canvas(self) -> Canvas:
        """The canvas of everything added so far, copied to the host."""
        num = self._num[: self.size, : self.size]
        den = self._den[: self.size, : self.size]
        image = (num / (den + DENOMINATOR_EPS)).to(torch.complex64).cpu().numpy()
        return Canvas(
            image=image,
            weight=den.to(torch.float32).cpu().numpy(),
            center_xy=self.center_xy,
            stitch=self.mode,
            crop=self.crop,
            mirrored=self.mirrored,
        )
