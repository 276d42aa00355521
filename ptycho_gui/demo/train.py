"""Train the PtychoPINN-compatible cnn on the demo scan with the physics-informed (unsupervised) loss.

The network sees a group of C = gridsize² neighbouring bridge-normalized diffraction amplitudes
(contract §2.3) and predicts their C object patches. The loss applies PtychoPINN's overlap constraint
(contract §2.5: merge the patches at their relative positions, cut each back out), re-simulates each
pattern from its extracted patch and the known probe (``far_field_amplitude``) and scores it against
the measured counts with a Poisson likelihood. The true object is never used.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from ptycho_gui.demo.overlap import (
    extract_patches,
    merge_patches,
    region_size,
    relative_offsets,
)
from ptycho_gui.demo.physics import bridge_input_scale, far_field_amplitude, poisson_nll
from ptycho_gui.demo.simulate import SimulatedScan
from ptycho_gui.engine.grouping import group_neighbors, group_positions
from ptycho_gui.models.cnn import CnnConfig, PtychoPinnCnn, build_cnn


@dataclass(frozen=True)
class TrainSpec:
    """Training hyper-parameters of the demo network (gridsize 2, small enough for a laptop CPU)."""

    epochs: int = 100
    batch_size: int = 8
    learning_rate: float = 5e-4
    final_learning_rate: float = 5e-5
    """Cosine decay from ``learning_rate`` to this over the epochs."""
    gridsize: int = 2
    neighbors: int = 4
    """K nearest neighbours each group's C members are drawn from (the app's default K)."""
    grouping_seed: int = 0
    """Seed of the neighbour grouping: the app's default run seed, so a default run sees the training groups."""
    n_filters_scale: int = 1
    amp_activation: str = "sigmoid"
    seed: int = 0
    tile_epochs: int = 0
    """Epochs of a second stage scoring ``tile_groups`` neighbouring groups merged into one region."""
    tile_groups: int = 16
    """Groups (nearest group centres) whose patches the second stage merges: the overlap constraint across
    groups ties together the phase offset that each group's diffraction alone leaves free."""
    tile_learning_rate: float = 1e-4

    @property
    def channels(self) -> int:
        """Patterns per group, C = gridsize²."""
        return self.gridsize**2

    def cnn_config(self, n: int) -> CnnConfig:
        """The network configuration trained (PtychoPINN defaults apart from the fields named here)."""
        return CnnConfig(N=n, C=self.channels, n_filters_scale=self.n_filters_scale,
                         object_big=self.channels > 1, probe_big=True, amp_activation=self.amp_activation)


@dataclass
class TrainResult:
    """The trained network and what the bundle needs to describe its training."""

    network: PtychoPinnCnn
    input_scale: float
    """The bridge input scale the network was trained with (the app recomputes it from the data)."""
    photon_scale: float
    """Factor from normalized amplitudes to sqrt-photons (PtychoPINN's ``intensity_scale``)."""
    n_groups: int = 0
    """Groups per epoch (one seeded at every pattern)."""
    epoch_losses: list[float] = field(default_factory=list)
    seconds: float = 0.0


ProgressCallback = Callable[[int, float], None]
"""Called after every epoch with (epoch number from 1, mean loss of the epoch)."""


@dataclass(frozen=True)
class _Physics:
    """What the loss needs besides the network: the scaled probe, its intensity and the photon scale."""

    probe: torch.Tensor
    probe_intensity: torch.Tensor
    photon_scale: float


def _learning_rate(spec: TrainSpec, epoch: int) -> float:
    """Cosine schedule from the initial to the final learning rate."""
    progress = epoch / max(spec.epochs - 1, 1)
    weight = 0.5 * (1.0 + np.cos(np.pi * progress))
    return spec.final_learning_rate + (spec.learning_rate - spec.final_learning_rate) * weight


def trainable_network(spec: TrainSpec, n: int) -> PtychoPinnCnn:
    """A freshly initialized cnn (seeded) with its autoencoder weights trainable."""
    torch.manual_seed(spec.seed)
    network = build_cnn(spec.cnn_config(n))
    network.model.autoencoder.requires_grad_(True)
    return network


def training_groups(scan: SimulatedScan, spec: TrainSpec) -> np.ndarray:
    """(G, C) training groups: the app's neighbour grouping with its default settings, one group per pattern."""
    return group_neighbors(scan.xcoords, scan.ycoords, spec.channels, None, spec.neighbors, spec.grouping_seed)


def simulated_amplitudes(patches: torch.Tensor, offsets: torch.Tensor, physics: _Physics) -> torch.Tensor:
    """Far-field amplitudes (B, C, N, N) of a group's patches under the overlap constraint (C > 1)."""
    if patches.shape[1] > 1:
        size = region_size(patches.shape[-1], offsets.numpy())
        region = merge_patches(patches, offsets, physics.probe_intensity, size)
        patches = extract_patches(region, offsets, patches.shape[-1])
    return far_field_amplitude(patches, physics.probe)


def _descend(optimizer: torch.optim.Optimizer, loss: torch.Tensor) -> float:
    """One optimizer step down ``loss``; returns its value."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.item()


def tiles(positions: np.ndarray, tile_groups: int) -> np.ndarray:
    """(G, T) for every group, the T groups whose centres are nearest to its centre (itself first)."""
    centres = positions.mean(axis=1)
    distances = np.sum((centres[:, None] - centres[None]) ** 2, axis=-1)
    return np.argsort(distances, axis=1, kind="stable")[:, :min(tile_groups, len(centres))]


def _tile_epoch(network: PtychoPinnCnn, optimizer: torch.optim.Optimizer, inputs: torch.Tensor,
                positions: np.ndarray, near: np.ndarray, physics: _Physics, generator: torch.Generator) -> float:
    """One pass of the second stage: tiles seeded at groups in a seeded order, every group about once."""
    n_groups, tile = near.shape
    seeds = torch.randperm(n_groups, generator=generator)[: max(1, n_groups // tile)].numpy()
    losses = []
    for seed in seeds:
        chosen = torch.from_numpy(near[seed])
        batch = inputs[chosen]
        members = positions[near[seed]].reshape(1, -1, 2)
        offsets = torch.from_numpy(relative_offsets(members).astype(np.float32))
        patches = network(batch).reshape(1, -1, *batch.shape[-2:])
        predicted = simulated_amplitudes(patches, offsets, physics).reshape(batch.shape)
        losses.append(_descend(optimizer, poisson_nll(predicted, batch, physics.photon_scale)))
    return float(np.mean(losses))


def tile_stage(network: PtychoPinnCnn, scan: SimulatedScan, spec: TrainSpec,
               progress: ProgressCallback | None = None) -> list[float]:
    """The second stage: ``spec.tile_epochs`` epochs of tiles of neighbouring groups, with its own Adam and seed.

    Returns the epoch losses; the network is trained in place. Starting a fresh optimizer and generator
    makes the stage reproducible from the first stage's weights alone.
    """
    physics, inputs, groups = _training_data(scan, spec)
    positions = group_positions(groups, scan.xcoords, scan.ycoords)
    near = tiles(positions, spec.tile_groups)
    network.model.autoencoder.requires_grad_(True)
    optimizer = torch.optim.Adam(network.model.autoencoder.parameters(), lr=spec.tile_learning_rate)
    generator = torch.Generator().manual_seed(spec.seed)
    losses = []
    for epoch in range(spec.tile_epochs):
        losses.append(_tile_epoch(network, optimizer, inputs, positions, near, physics, generator))
        if progress is not None:
            progress(spec.epochs + epoch + 1, losses[-1])
    network.requires_grad_(False)
    return losses


def _training_data(scan: SimulatedScan, spec: TrainSpec) -> tuple[_Physics, torch.Tensor, np.ndarray]:
    """The physics (bridge-scaled probe), the (G, C, N, N) grouped network inputs and the (G, C) groups."""
    input_scale = bridge_input_scale(scan.diffraction)
    patterns = torch.from_numpy(scan.diffraction * np.float32(input_scale))
    probe = torch.from_numpy((scan.probe * np.complex64(input_scale)).astype(np.complex64))
    physics = _Physics(probe=probe, probe_intensity=probe.abs().square()[None, None], photon_scale=1.0 / input_scale)
    groups = training_groups(scan, spec)
    return physics, patterns[torch.from_numpy(groups)], groups


def _epoch(network: PtychoPinnCnn, optimizer: torch.optim.Optimizer, inputs: torch.Tensor, offsets: torch.Tensor,
           physics: _Physics, batch_size: int, generator: torch.Generator) -> float:
    """One pass over the groups in a seeded random order; returns the mean batch loss."""
    order = torch.randperm(inputs.shape[0], generator=generator)
    losses = []
    for start in range(0, len(order), batch_size):
        chosen = order[start:start + batch_size]
        batch = inputs[chosen]
        predicted = simulated_amplitudes(network(batch), offsets[chosen], physics)
        losses.append(_descend(optimizer, poisson_nll(predicted, batch, physics.photon_scale)))
    return float(np.mean(losses))


def train_network(scan: SimulatedScan, spec: TrainSpec = TrainSpec(),
                  progress: ProgressCallback | None = None) -> TrainResult:
    """Train a gridsize-``spec.gridsize`` cnn on ``scan`` from its diffraction and probe only (deterministic on CPU)."""
    was_deterministic = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    try:
        return _train(scan, spec, progress)
    finally:
        torch.use_deterministic_algorithms(was_deterministic)


def _train(scan: SimulatedScan, spec: TrainSpec, progress: ProgressCallback | None) -> TrainResult:
    physics, inputs, groups = _training_data(scan, spec)
    network = trainable_network(spec, scan.spec.n)
    optimizer = torch.optim.Adam(network.model.autoencoder.parameters(), lr=spec.learning_rate)
    generator = torch.Generator().manual_seed(spec.seed)
    positions = group_positions(groups, scan.xcoords, scan.ycoords)
    offsets = torch.from_numpy(relative_offsets(positions).astype(np.float32))
    input_scale = bridge_input_scale(scan.diffraction)
    result = TrainResult(network=network, input_scale=input_scale, photon_scale=physics.photon_scale,
                         n_groups=len(groups))
    started = time.perf_counter()
    for epoch in range(spec.epochs):
        for group in optimizer.param_groups:
            group["lr"] = _learning_rate(spec, epoch)
        loss = _epoch(network, optimizer, inputs, offsets, physics, spec.batch_size, generator)
        result.epoch_losses.append(loss)
        if progress is not None:
            progress(epoch + 1, loss)
    if spec.tile_epochs:
        result.epoch_losses += tile_stage(network, scan, spec, progress)
    result.seconds = time.perf_counter() - started
    network.requires_grad_(False)
    return result
