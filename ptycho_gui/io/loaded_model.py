"""``LoadedModel``: a checkpoint opened and verified, whatever its format and network family."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, is_dataclass
from pathlib import Path

import torch
from torch import nn


@dataclass
class LoadedModel:
    """A checkpoint opened and verified: its resolved configuration and its strictly loaded network.

    ``family`` names the network ("cnn", "fno", "ffno", "fno_vanilla", "neuralop_uno", ...);
    ``config`` holds every resolved field, ``config_sources`` where each came from (fields not
    listed come from ``config_source``). ``era`` names a format era where a format has several.
    """

    path: Path
    sha256: str
    format: str
    family: str
    N: int
    gridsize: int
    C: int
    config: dict
    config_source: str
    unverified: list[str]
    notes: list[str]
    normalization: str
    training_neighbors: int | None
    network: nn.Module = field(repr=False)
    era: str | None = None
    cnn_config: object | None = None
    """The ``CnnConfig`` of a ``cnn`` network (None for other families)."""
    config_sources: dict[str, str] = field(default_factory=dict)
    input_gain: float = 1.0
    """Factor the network's own input convention multiplies normalized amplitudes by (TF: intensity_scale;
    1 for torch). ``ptycho-inspect forward`` applies it when INPUTS.npz gives no input_scale."""
    merges_groups: bool = False
    """True when the network returns one merged patch per group (at the group centre), not one per channel."""

    def identity(self) -> str:
        """'gs2/wts.h5.zip · sha256 4e8b0805 · cnn': enough to tell same-named checkpoints apart."""
        folder = self.path.parent.name
        name = f"{folder}/{self.path.name}" if folder else self.path.name
        return f"{name} · sha256 {self.sha256[:8]} · {self.family}"

    @property
    def output_channels(self) -> int:
        """Channels of the patches ``predict`` returns: 1 for group-merging networks, else C."""
        return 1 if self.merges_groups else self.C

    def predict(self, x_scaled: torch.Tensor, offsets: torch.Tensor | None = None) -> torch.Tensor:
        """The complex64 patches (B, output_channels, N, N) the app shows and stitches.

        Torch families: PtychoPINN's ``forward_predict`` on inputs already times the input scale.
        Group-merging (TF) networks: the group's merged patch. ``offsets`` (B, C, 2) float32 are the
        network offsets of each channel (PtychoPINN's ``coords_relative`` = group centre − position);
        torch families ignore them.
        """
        with torch.inference_mode():
            if self.merges_groups:
                return self.network.display_patches(x_scaled, offsets)
            return self.network(x_scaled)

    def summary(self) -> dict:
        """Everything but the network, as JSON-able data (for ``ptycho-inspect info`` and the GUI)."""
        state = self.network.state_dict(keep_vars=True)
        distinct = {id(t): t for t in state.values()}
        return {
            "path": str(self.path),
            "sha256": self.sha256,
            "format": self.format,
            "family": self.family,
            "era": self.era,
            "N": self.N,
            "gridsize": self.gridsize,
            "C": self.C,
            "config": dict(self.config),
            "config_source": self.config_source,
            "config_sources": {key: self.config_sources.get(key, self.config_source) for key in self.config},
            "cnn_config": asdict(self.cnn_config) if is_dataclass(self.cnn_config) else None,
            "unverified": list(self.unverified),
            "notes": list(self.notes),
            "normalization": self.normalization,
            "training_neighbors": self.training_neighbors,
            "tensors": len(state),
            "distinct_tensors": len(distinct),
            "numbers": sum(t.numel() for t in distinct.values()),
        }
