"""Build the demo: simulate the scan, train the network on it, write the dataset and the bundle."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from ptycho_gui.demo import CHECKPOINT_FILE, DATASET_FILE
from ptycho_gui.demo.bundle_writer import BundleDescription, write_bundle
from ptycho_gui.demo.simulate import ScanSpec, simulate_scan, write_dataset
from ptycho_gui.demo.train import TrainResult, TrainSpec, train_network

DEFAULT_SEED = 7
OVERLAP_WEIGHTING = "probe"
"""PtychoPINN's ``training_patch_weighting`` that ``ptycho_gui.demo.overlap`` implements."""
RECIPES: dict[int, TrainSpec] = {
    1: TrainSpec(gridsize=1, tile_epochs=12, tile_groups=4, tile_learning_rate=1e-4),
    2: TrainSpec(gridsize=2),
}
"""Training settings per gridsize: gridsize 1 is the shipped demo (100 epochs one pattern at a time, then 12
epochs of 4-pattern tiles merged under the overlap constraint); gridsize 2 trains groups of 4 with the
overlap constraint inside each group (not trained to completion)."""
DEFAULT_GRIDSIZE = 1


def training_recipe(gridsize: int, seed: int = DEFAULT_SEED, epochs: int | None = None) -> TrainSpec:
    """The training settings of the demo network for a gridsize (1 or 2); ``epochs`` overrides the recipe's."""
    if gridsize not in RECIPES:
        raise ValueError(f"the demo is trained with gridsize {' or '.join(map(str, RECIPES))}, not {gridsize}")
    spec = replace(RECIPES[gridsize], seed=seed)
    return spec if epochs is None else replace(spec, epochs=epochs)


@dataclass
class BuildReport:
    """Where the demo files went and how the training went."""

    checkpoint: Path
    dataset: Path
    seconds: float
    final_loss: float
    photons_per_pattern: float


def _training_notes(spec: TrainSpec) -> str:
    """The bundle's account of how the demo network was trained."""
    grouping = "gridsize 1" if spec.channels == 1 else (
        f"gridsize {spec.gridsize}, groups of {spec.channels} among K={spec.neighbors} neighbours, overlap "
        "constraint = probe-weighted merge and extract of the group's patches")
    if spec.tile_epochs:
        grouping += (f"; then {spec.tile_epochs} epochs at lr {spec.tile_learning_rate:g} on tiles of "
                     f"{spec.tile_groups} neighbouring groups merged and extracted together")
    return (f"ptycho_gui demo: trained by ptycho_gui.demo.train ({grouping}, Poisson NLL of the measured counts "
            "given |fftshift(fft2(probe*patch))|^2/N^2, bridge-normalized inputs, Adam with cosine decay to "
            f"{spec.final_learning_rate:g}); not by PtychoPINN itself")


def describe(scan_spec: ScanSpec, train_spec: TrainSpec, result: TrainResult) -> BundleDescription:
    """The bundle configs for a network trained by ``train_network`` on a simulated scan."""
    return BundleDescription(
        n=scan_spec.n,
        gridsize=train_spec.gridsize,
        n_filters_scale=train_spec.n_filters_scale,
        object_big=train_spec.channels > 1,
        probe_big=True,
        amp_activation=train_spec.amp_activation,
        cbam_encoder=result.network.config.cbam_encoder,
        nphotons=scan_spec.dose,
        intensity_scale=result.photon_scale,
        n_groups=result.n_groups,
        epochs=train_spec.epochs + train_spec.tile_epochs,
        batch_size=train_spec.batch_size,
        learning_rate=train_spec.learning_rate,
        seed=train_spec.seed,
        train_data_file=DATASET_FILE,
        notes=_training_notes(train_spec),
        neighbors=train_spec.neighbors,
        patch_weighting=OVERLAP_WEIGHTING if train_spec.channels > 1 else "central_mask",
    )


def build_demo(out_dir: Path, seed: int = DEFAULT_SEED, epochs: int | None = None,
               progress: Callable[[int, float], None] | None = None,
               gridsize: int = DEFAULT_GRIDSIZE) -> BuildReport:
    """Simulate, train and write ``demo_scan.npz`` and ``wts.h5.zip`` into ``out_dir`` (deterministic)."""
    scan_spec = ScanSpec()
    train_spec = training_recipe(gridsize, seed, epochs)
    scan = simulate_scan(scan_spec, seed)
    dataset = out_dir / DATASET_FILE
    write_dataset(scan, dataset)
    result = train_network(scan, train_spec, progress)
    checkpoint = out_dir / CHECKPOINT_FILE
    write_bundle(checkpoint, result.network, describe(scan_spec, train_spec, result))
    return BuildReport(checkpoint=checkpoint, dataset=dataset, seconds=result.seconds,
                       final_loss=result.epoch_losses[-1], photons_per_pattern=scan_spec.dose)
