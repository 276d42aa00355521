"""PtychoPINN's Fourier-operator generators ``fno``, ``fno_vanilla`` and ``ffno`` as plain torch modules.

State-dict exact (``model.generator.*`` and its alias ``model.autoencoder.*``, see ``models.generator``).
Two details differ from textbook FNOs and are reproduced on purpose:

- ``fno``/``fno_vanilla`` always use PtychoPINN's *fallback* spectral layer (its import of
  neuraloperator names a module that does not exist): ``rfft2``, keep only the first ``m`` rows and
  columns — the negative-frequency rows are dropped — multiply, ``irfft2``.
- ``ffno`` shares one factorized spectral operator and one gate scalar across all its blocks.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ptycho_gui.models.generator import (
    OUTPUT_MODES,
    GeneratorShell,
    add_output_heads,
    combine_heads,
    finish,
)

FAMILIES: tuple[str, ...] = ("fno", "fno_vanilla", "ffno")
INPUT_TRANSFORMS: tuple[str, ...] = ("none", "sqrt", "log1p", "instancenorm")
FFNO_MLP_RATIO = 2.0
FFNO_NORM_EPS = 1e-5
INPUT_NORM_EPS = 1e-6


@dataclass(frozen=True)
class FnoConfig:
    """Everything that decides an FNO-family generator's tensors and its forward pass."""

    family: str
    N: int
    C: int
    width: int = 32
    modes: int = 12
    blocks: int = 4
    cnn_blocks: int = 2
    input_transform: str = "none"
    output_mode: str = "real_imag"
    num_datasets: int = 1

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(f"architecture {self.family!r} is not an FNO-family generator {FAMILIES}")
        for name in ("N", "C", "width", "modes", "blocks", "num_datasets"):
            value = getattr(self, name)
            if not _is_int(value) or value < 1:
                raise ValueError(f"{name}={value!r} must be a positive integer")
        if not _is_int(self.cnn_blocks) or self.cnn_blocks < 0:
            raise ValueError(f"fno_cnn_blocks={self.cnn_blocks!r} must be a non-negative integer")
        if self.input_transform not in INPUT_TRANSFORMS:
            raise ValueError(f"fno_input_transform={self.input_transform!r} is not one of {INPUT_TRANSFORMS}")
        if self.output_mode not in OUTPUT_MODES:
            raise ValueError(f"generator_output_mode={self.output_mode!r} is not one of {OUTPUT_MODES}")

    @property
    def gridsize(self) -> int:
        return round(self.C**0.5)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class InputTransform(nn.Module):
    """PtychoPINN's optional dynamic-range transform in front of the lifter (no weights)."""

    def __init__(self, mode: str):
        super().__init__()
        self.mode = mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.mode == "sqrt":
            return torch.sqrt(torch.clamp(x, min=0.0))
        if self.mode == "log1p":
            return torch.log1p(torch.clamp(x, min=0.0))
        if self.mode == "instancenorm":
            return F.instance_norm(x, eps=INPUT_NORM_EPS)
        return x


class SpatialLifter(nn.Module):
    """[transform] → conv3x3 → GELU → conv3x3, from C input channels to ``width``."""

    def __init__(self, in_channels: int, width: int, input_transform: str):
        super().__init__()
        self.input_transform = InputTransform(input_transform)
        self.conv1 = nn.Conv2d(in_channels, width, 3, padding=1)
        self.conv2 = nn.Conv2d(width, width, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2(F.gelu(self.conv1(self.input_transform(x))))


class FallbackSpectralConv2d(nn.Module):
    """PtychoPINN's ``_FallbackSpectralConv2d``: only the first ``m`` rows and columns of ``rfft2`` are kept."""

    def __init__(self, channels: int, modes: int):
        super().__init__()
        self.weights = nn.Parameter(torch.empty(channels, channels, modes, modes, dtype=torch.complex64))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[-2:]
        modes = self.weights.shape[-1]
        mh, mw = min(modes, height), min(modes, width // 2 + 1)
        x_ft = torch.fft.rfft2(x)
        low = torch.einsum("bcxy,coxy->boxy", x_ft[:, :, :mh, :mw], self.weights[:, :, :mh, :mw])
        out_ft = x_ft.new_zeros(x.shape[0], self.weights.shape[1], height, width // 2 + 1)
        out_ft[:, :, :mh, :mw] = low
        return torch.fft.irfft2(out_ft, s=(height, width))


class PtychoBlock(nn.Module):
    """``x + GELU(spectral(x) + local_conv(x))``."""

    def __init__(self, width: int, modes: int):
        super().__init__()
        self.spectral = FallbackSpectralConv2d(width, modes)
        self.local_conv = nn.Conv2d(width, width, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + F.gelu(self.spectral(x) + self.local_conv(x))


class CascadedFno(nn.Module):
    """``fno``: lifter → PtychoBlocks → 1x1 intermediate → (conv3x3 → GELU) refiners → heads."""

    def __init__(self, cfg: FnoConfig):
        super().__init__()
        w = cfg.width
        self.lifter = SpatialLifter(cfg.C, w, cfg.input_transform)
        self.fno_blocks = nn.ModuleList(PtychoBlock(w, cfg.modes) for _ in range(cfg.blocks))
        self.intermediate = nn.Conv2d(w, w, 1)
        self.cnn_refiner = nn.Sequential(
            *(nn.Sequential(nn.Conv2d(w, w, 3, padding=1), nn.GELU()) for _ in range(cfg.cnn_blocks))
        )
        add_output_heads(self, w, cfg.C, cfg.output_mode)
        self.mode, self.C = cfg.output_mode, cfg.C

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.lifter(x)
        for block in self.fno_blocks:
            x = block(x)
        return combine_heads(self, self.mode, self.C, self.cnn_refiner(self.intermediate(x)))


class FnoVanilla(nn.Module):
    """``fno_vanilla``: lifter → PtychoBlocks → heads."""

    def __init__(self, cfg: FnoConfig):
        super().__init__()
        self.lifter = SpatialLifter(cfg.C, cfg.width, cfg.input_transform)
        self.blocks = nn.ModuleList(PtychoBlock(cfg.width, cfg.modes) for _ in range(cfg.blocks))
        add_output_heads(self, cfg.width, cfg.C, cfg.output_mode)
        self.mode, self.C = cfg.output_mode, cfg.C

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.lifter(x)
        for block in self.blocks:
            x = block(x)
        return combine_heads(self, self.mode, self.C, x)


class FactorizedSpectralConv2d(nn.Module):
    """FFNO's factorized operator: a 1-D spectral multiply along W plus one along H (first ``m`` modes)."""

    def __init__(self, channels: int, modes: int):
        super().__init__()
        self.weights_x = nn.Parameter(torch.empty(channels, channels, modes, dtype=torch.complex64))
        self.weights_y = nn.Parameter(torch.empty(channels, channels, modes, dtype=torch.complex64))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[-2:]
        modes = self.weights_x.shape[-1]
        mh, mw = min(modes, height // 2 + 1), min(modes, width // 2 + 1)
        along_w = torch.einsum("bihm,iom->bohm", torch.fft.rfft(x, dim=-1)[..., :mw], self.weights_x[..., :mw])
        along_w = F.pad(along_w, (0, width // 2 + 1 - mw))
        along_h = torch.einsum("bimw,iom->bomw", torch.fft.rfft(x, dim=-2)[:, :, :mh], self.weights_y[..., :mh])
        along_h = F.pad(along_h, (0, 0, 0, height // 2 + 1 - mh))
        return torch.fft.irfft(along_w, n=width, dim=-1) + torch.fft.irfft(along_h, n=height, dim=-2)


class FfnoBlock(nn.Module):
    """``x + gate·project(GELU(expand(InstanceNorm(S(x)))))`` with the stack's shared S and gate."""

    def __init__(self, width: int, shared_spectral: FactorizedSpectralConv2d, gate: nn.Parameter):
        super().__init__()
        hidden = max(width, round(width * FFNO_MLP_RATIO))
        self.shared_spectral = shared_spectral
        self.norm = nn.InstanceNorm2d(width, affine=True, eps=FFNO_NORM_EPS)
        self.expand = nn.Conv2d(width, hidden, 1)
        self.project = nn.Conv2d(hidden, width, 1)
        self._gate = [gate]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        update = self.project(F.gelu(self.expand(self.norm(self.shared_spectral(x)))))
        return x + self._gate[0] * update


class FfnoStack(nn.Module):
    """FFNO blocks sharing one spectral operator and one gate scalar."""

    def __init__(self, width: int, blocks: int, modes: int):
        super().__init__()
        self.shared_spectral = FactorizedSpectralConv2d(width, modes)
        self.shared_gate = nn.Parameter(torch.empty(()))
        self.blocks = nn.ModuleList(FfnoBlock(width, self.shared_spectral, self.shared_gate) for _ in range(blocks))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        return x


class LocalResidualRefiner(nn.Module):
    """``x + conv2(GELU(conv1(x)))``."""

    def __init__(self, width: int):
        super().__init__()
        self.conv1 = nn.Conv2d(width, width, 3, padding=1)
        self.conv2 = nn.Conv2d(width, width, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(F.gelu(self.conv1(x)))


class Ffno(nn.Module):
    """``ffno``: lifter → shared-weight FFNO stack (also registered as ``blocks``) → refiners → heads."""

    def __init__(self, cfg: FnoConfig):
        super().__init__()
        self.lifter = SpatialLifter(cfg.C, cfg.width, cfg.input_transform)
        self.ffno_stack = FfnoStack(cfg.width, cfg.blocks, cfg.modes)
        self.blocks = self.ffno_stack.blocks
        self.refiners = nn.ModuleList(LocalResidualRefiner(cfg.width) for _ in range(cfg.cnn_blocks))
        add_output_heads(self, cfg.width, cfg.C, cfg.output_mode)
        self.mode, self.C = cfg.output_mode, cfg.C

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.ffno_stack(self.lifter(x))
        for refiner in self.refiners:
            x = refiner(x)
        return combine_heads(self, self.mode, self.C, x)


_GENERATORS = {"fno": CascadedFno, "fno_vanilla": FnoVanilla, "ffno": Ffno}


def build_fno(cfg: FnoConfig) -> GeneratorShell:
    """The network for ``cfg`` (weights uninitialised: load a state dict into it), eval mode, no gradients."""
    return finish(GeneratorShell(_GENERATORS[cfg.family](cfg), cfg.num_datasets))
