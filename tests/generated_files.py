"""Small PtychoPINN-format files made in seconds, so engine, CLI and GUI tests run on any clone.

A gridsize-2 cnn (N=64, n_filters_scale 1, CBAM encoder as in PtychoPINN's default) with seeded random
weights, written as a ``wts.h5.zip`` bundle (the demo's bundle writer) and as a Lightning ``.ckpt``; and
a 10×10 simulated scan with ``objectGuess``, ``probeGuess`` and PtychoPINN's ``ground_truth_patches``
(the demo's simulator). The numbers the
network gives are meaningless; tests on these files check behaviour, never PtychoPINN parity.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ptycho_gui.demo.bundle_writer import BundleDescription, bundle_state_dict, scaling_metadata, write_bundle
from ptycho_gui.demo.simulate import ScanSpec, dataset_arrays, extract_patches, simulate_scan
from ptycho_gui.models.cnn import CnnConfig, PtychoPinnCnn

SCAN_SPEC = ScanSpec(n=64, object_size=136, grid=10, step=6.0)
"""100 positions inside a 136-pixel object: 100 gridsize-2 groups, 13 batches of 8 in the GUI tests."""
GENERATED = BundleDescription(
    n=64, gridsize=2, n_filters_scale=1, object_big=True, probe_big=True, amp_activation="swish",
    cbam_encoder=True, nphotons=1e6, intensity_scale=1000.0, n_groups=100, epochs=0, batch_size=16,
    learning_rate=1e-3, seed=0, train_data_file="small_scan.npz",
    notes="ptycho_gui test fixture: seeded random weights, never trained",
)


@dataclass(frozen=True)
class GeneratedFiles:
    """Where the generated bundle, Lightning checkpoint and scan were written."""

    bundle: Path
    ckpt: Path
    dataset: Path


WEIGHT_GAIN = 3.0
"""Default-initialised weights scaled by this: the patches then follow the inputs visibly (tiles differ)."""


def generated_network(seed: int = 0) -> PtychoPinnCnn:
    """The fixture network: PtychoPINN's gs2 cnn with seeded random weights (default init × WEIGHT_GAIN)."""
    torch.manual_seed(seed)
    d = GENERATED
    config = CnnConfig(N=d.n, C=d.gridsize**2, n_filters_scale=d.n_filters_scale, object_big=d.object_big,
                       probe_big=d.probe_big, amp_activation=d.amp_activation, cbam_encoder=d.cbam_encoder)
    network = PtychoPinnCnn(config)
    with torch.no_grad():
        for parameter in network.parameters():
            if parameter.ndim > 1:
                parameter.mul_(WEIGHT_GAIN)
    return network


def write_ckpt(path: Path, network: PtychoPinnCnn, description: BundleDescription) -> None:
    """Write ``network`` as a Lightning checkpoint: ``state_dict`` plus PtychoPINN's ``hyper_parameters``."""
    configs = scaling_metadata(description)
    hyper_parameters = {key: configs[key] for key in ("model_config", "data_config", "training_config",
                                                     "inference_config")}
    hyper_parameters.update(generator_output="amp_phase", parity_scale_mode="off")
    payload = {"epoch": 3, "global_step": 39, "pytorch-lightning_version": "2.4.0",
               "state_dict": bundle_state_dict(network), "hyper_parameters": hyper_parameters}
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(payload, path)


def write_generated_files(folder: Path) -> GeneratedFiles:
    """Write the bundle, the ``.ckpt`` and the scan into ``folder`` (deterministic, about a second)."""
    files = GeneratedFiles(folder / "wts.h5.zip", folder / "last.ckpt", folder / "small_scan.npz")
    network = generated_network()
    write_bundle(files.bundle, network, GENERATED)
    write_ckpt(files.ckpt, network, GENERATED)
    write_scan(files.dataset)
    return files


def write_scan(path: Path) -> None:
    """The simulated scan as a compressed NPZ, with ``ground_truth_patches`` (M, N, N, 1) as PtychoPINN stores."""
    scan = simulate_scan(SCAN_SPEC, seed=0)
    truth = extract_patches(scan.object, scan.xcoords, scan.ycoords, SCAN_SPEC.n).astype(np.complex64)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **dataset_arrays(scan), ground_truth_patches=truth[..., None])
