"""What every non-cnn PtychoPINN generator shares: the state-dict shell and the output heads.

PtychoPINN registers a generator module twice, as ``model.generator`` and ``model.autoencoder``
(the same object, so the two key sets share storage), beside the training-only
``model.forward_model`` scalars. ``GeneratorShell`` reproduces that tree so a real ``model.pth``
loads with ``strict=True``, and turns the generator's raw output into PtychoPINN's
``forward_predict`` result: complex64 patches ``(B, C, N, N)``.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ptycho_gui.models.cnn import TrainingScalars

OUTPUT_MODES: tuple[str, ...] = ("real_imag", "amp_phase", "amp_phase_logits")
"""PtychoPINN's ``generator_output_mode`` values for non-cnn generators."""


def head_channels(output_mode: str, C: int) -> dict[str, int]:
    """The 1x1 output convolutions a generator core has for ``output_mode``: name → channels."""
    if output_mode == "amp_phase":
        return {"output_amp": C, "output_phase": C}
    return {"output_proj": 2 * C}


def add_output_heads(owner: nn.Module, width: int, C: int, output_mode: str) -> None:
    """Register PtychoPINN's 1x1 output convolutions for ``output_mode`` on ``owner``."""
    if output_mode not in OUTPUT_MODES:
        raise ValueError(f"generator_output_mode={output_mode!r} is not one of {OUTPUT_MODES}")
    for name, channels in head_channels(output_mode, C).items():
        owner.add_module(name, nn.Conv2d(width, channels, kernel_size=1))


def combine_heads(owner: nn.Module, output_mode: str, C: int, x: torch.Tensor) -> torch.Tensor:
    """Complex64 patches (B, C, H, W) from the last hidden features, as ``forward_predict`` combines them.

    real_imag: ``output_proj`` (2C) read as (B, 2, C, H, W) → complex(re, im).
    amp_phase_logits: the same projection; amp = sigmoid(channel k), phase = π·tanh(channel C+k).
    amp_phase: ``output_amp`` and ``output_phase`` (C each), sigmoid and π·tanh.
    """
    if output_mode == "amp_phase":
        return torch.polar(torch.sigmoid(owner.output_amp(x)), math.pi * torch.tanh(owner.output_phase(x)))
    raw = owner.output_proj(x)
    first, second = raw[:, :C], raw[:, C:]
    if output_mode == "real_imag":
        return torch.complex(first, second)
    return torch.polar(torch.sigmoid(first), math.pi * torch.tanh(second))


class _Core(nn.Module):
    """The ``model.`` level: the generator under both names, and the training scalars."""

    def __init__(self, generator: nn.Module, num_datasets: int):
        super().__init__()
        self.generator = generator
        self.autoencoder = generator
        self.forward_model = TrainingScalars(num_datasets)


class GeneratorShell(nn.Module):
    """Inference-only wrapper: scaled diffraction (B, C, N, N) → complex64 patches (B, C, N, N)."""

    def __init__(self, generator: nn.Module, num_datasets: int = 1):
        super().__init__()
        self.model = _Core(generator, num_datasets)

    def train(self, mode: bool = True) -> GeneratorShell:
        """Stay in eval mode whatever is asked: this network only ever runs inference."""
        return super().train(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.generator(x).to(torch.complex64).contiguous()


def finish(network: nn.Module) -> nn.Module:
    """Eval mode, gradients off."""
    network.requires_grad_(False)
    return network.eval()
