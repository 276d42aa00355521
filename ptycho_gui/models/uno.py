"""PtychoPINN's ``neuralop_uno`` generator: neuraloperator 2.x's ``UNO`` in PtychoPINN's one locked configuration.

PtychoPINN wraps ``neuralop.models.UNO`` (N = 128, gridsize 1, real/imag output) as
``model.generator.uno``; its raw output (B, 2, N, N) is the real and imaginary part of the one
channel. The network runs on the real ``neuraloperator`` package, an optional extra
(``pip install "ptycho-gui[neuralop]"``); without it, building one raises ``MissingExtraError``.
"""

from __future__ import annotations

import contextlib
import importlib
import io
from dataclasses import dataclass

import torch
from torch import nn

from ptycho_gui.models.generator import GeneratorShell, finish

FAMILY = "neuralop_uno"
LOCKED_N = 128
LOCKED_C = 1
LOCKED_OUTPUT_MODE = "real_imag"
INSTALL_HINT = 'pip install "ptycho-gui[neuralop]"'
UNO_KWARGS = {
    "in_channels": 1,
    "out_channels": 2,
    "hidden_channels": 32,
    "lifting_channels": 128,
    "projection_channels": 128,
    "n_layers": 4,
    "uno_out_channels": [32, 64, 64, 32],
    "uno_n_modes": [[12, 12], [12, 12], [12, 12], [12, 12]],
    "uno_scalings": [[1.0, 1.0], [0.5, 0.5], [1, 1], [2, 2]],
    "positional_embedding": "grid",
    "channel_mlp_skip": "linear",
}
"""PtychoPINN's ``_LOCKED_UNO_KWARGS`` (``ptycho_torch/generators/neuralop_uno.py``)."""


class MissingExtraError(ImportError):
    """The optional ``neuraloperator`` package this network runs on is not installed."""


@dataclass(frozen=True)
class UnoConfig:
    """The only configuration PtychoPINN trains ``neuralop_uno`` in; anything else is refused."""

    N: int
    C: int
    output_mode: str = LOCKED_OUTPUT_MODE
    num_datasets: int = 1

    def __post_init__(self) -> None:
        if self.N != LOCKED_N:
            raise ValueError(f"neuralop_uno exists only for N={LOCKED_N} (got N={self.N!r})")
        if self.C != LOCKED_C:
            raise ValueError(f"neuralop_uno exists only for gridsize 1 (got C={self.C!r})")
        if self.output_mode != LOCKED_OUTPUT_MODE:
            raise ValueError(f"neuralop_uno exists only with generator_output_mode='real_imag' (got {self.output_mode!r})")

    @property
    def gridsize(self) -> int:
        return 1


def uno_class() -> type[nn.Module]:
    """``neuralop.models.UNO``, or a MissingExtraError naming the extra to install."""
    try:
        models = importlib.import_module("neuralop.models")
    except ImportError as exc:
        raise MissingExtraError(f"neuralop_uno needs the neuraloperator package: {INSTALL_HINT}") from exc
    uno = getattr(models, "UNO", None)
    if uno is None:
        raise MissingExtraError(f"the installed neuraloperator has no neuralop.models.UNO: {INSTALL_HINT}")
    return uno


class UnoGenerator(nn.Module):
    """``uno`` → (B, 2, N, N) → complex(channel 0, channel 1) as one patch channel."""

    def __init__(self):
        super().__init__()
        cls = uno_class()
        with contextlib.redirect_stdout(io.StringIO()):
            self.uno = cls(**UNO_KWARGS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raw = self.uno(x)
        return torch.complex(raw[:, :1], raw[:, 1:2])


def build_uno(cfg: UnoConfig) -> GeneratorShell:
    """The network for ``cfg`` (load a state dict into it), eval mode, no gradients."""
    return finish(GeneratorShell(UnoGenerator(), cfg.num_datasets))
