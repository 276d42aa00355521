"""Networks rebuilt from checkpoints, one module per PtychoPINN generator family, found through ``NETWORKS``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

from ptycho_gui.models.cnn import CnnConfig, PtychoPinnCnn, build_cnn
from ptycho_gui.models.fno import FnoConfig, build_fno
from ptycho_gui.models.uno import UnoConfig, build_uno

NETWORKS: dict[str, Callable[[Any], nn.Module]] = {
    "cnn": build_cnn,
    "fno": build_fno,
    "fno_vanilla": build_fno,
    "ffno": build_fno,
    "neuralop_uno": build_uno,
}
"""PtychoPINN generator name (``model_config.architecture``) → builder taking that family's config."""

__all__ = ["NETWORKS", "CnnConfig", "FnoConfig", "PtychoPinnCnn", "UnoConfig", "build_cnn", "build_fno", "build_uno"]
