"""Build the demo: simulate the scan, train the network on it, write the dataset and the bundle."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ptycho_gui.demo import CHECKPOINT_FILE, DATASET_FILE
from ptycho_gui.demo.bundle_writer import BundleDescription, write_bundle
from ptycho_gui.demo.simulate import ScanSpec, simulate_scan, write_dataset
from ptycho_gui.demo.train import TrainResult, TrainSpec, train_network

DEFAULT_SEED = 7


@dataclass
class BuildReport:
    """Where the demo files went and how the training went."""

    checkpoint: Path
    dataset: Path
    seconds: float
    final_loss: float
    photons_per_pattern: float


def describe(scan_spec: ScanSpec, train_spec: TrainSpec, result: TrainResult, n_patterns: int) -> BundleDescription:
    """The bundle configs for a network trained by ``train_network`` on a simulated scan."""
    return BundleDescription(
        n=scan_spec.n,
        gridsize=1,
        n_filters_scale=train_spec.n_filters_scale,
        object_big=False,
        probe_big=True,
        amp_activation=train_spec.amp_activation,
        cbam_encoder=result.network.config.cbam_encoder,
        nphotons=scan_spec.dose,
        intensity_scale=result.photon_scale,
        n_groups=n_patterns,
        epochs=train_spec.epochs,
        batch_size=train_spec.batch_size,
        learning_rate=train_spec.learning_rate,
        seed=train_spec.seed,
        train_data_file=DATASET_FILE,
        notes=(
            "ptycho_gui demo: trained by ptycho_gui.demo.train (gridsize 1, Poisson NLL of the measured counts "
            "given |fftshift(fft2(probe*patch))|^2/N^2, bridge-normalized inputs, Adam with cosine decay to "
            f"{train_spec.final_learning_rate:g}); not by PtychoPINN itself"
        ),
    )


def build_demo(out_dir: Path, seed: int = DEFAULT_SEED, epochs: int | None = None,
               progress: Callable[[int, float], None] | None = None) -> BuildReport:
    """Simulate, train and write ``demo_scan.npz`` and ``wts.h5.zip`` into ``out_dir`` (deterministic)."""
    scan_spec = ScanSpec()
    train_spec = TrainSpec(seed=seed) if epochs is None else TrainSpec(seed=seed, epochs=epochs)
    scan = simulate_scan(scan_spec, seed)
    dataset = out_dir / DATASET_FILE
    write_dataset(scan, dataset)
    result = train_network(scan, train_spec, progress)
    checkpoint = out_dir / CHECKPOINT_FILE
    write_bundle(checkpoint, result.network, describe(scan_spec, train_spec, result, len(scan.xcoords)))
    return BuildReport(checkpoint=checkpoint, dataset=dataset, seconds=result.seconds,
                       final_loss=result.epoch_losses[-1], photons_per_pattern=scan_spec.dose)
