"""The rebuilt cnn reproduces PtychoPINN's own forward_predict patches on the real fixtures."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ptycho_gui.io.checkpoints import open_checkpoint

torch.set_num_threads(1)

BATCH = 34
TOLERANCE = 1e-4
"""Allowed max |Δ| as a fraction of the reference's largest amplitude."""


@pytest.fixture(scope="module")
def diff3d(shared_dataset_path) -> np.ndarray:
    with np.load(shared_dataset_path, allow_pickle=False) as data:
        return data["diff3d"]


@pytest.fixture(scope="module")
def bundle_network(shared_bundle_path):
    return open_checkpoint(shared_bundle_path).network


def bridge_scaled(diff3d: np.ndarray, groups: np.ndarray) -> torch.Tensor:
    """X·s with s = sqrt((N/2)² / mean over (groups, channels) of Σ_HW X²), s in float64."""
    X = diff3d[groups].astype(np.float32)
    n = X.shape[-1]
    energy = np.mean(np.sum(X.astype(np.float64) ** 2, axis=(2, 3)))
    scale = np.sqrt((n / 2) ** 2 / energy)
    return torch.from_numpy((X * scale).astype(np.float32))


def predict(network, x: torch.Tensor) -> np.ndarray:
    with torch.inference_mode():
        return torch.cat([network(x[i : i + BATCH]) for i in range(0, len(x), BATCH)]).numpy()


def max_error(ours: np.ndarray, reference: np.ndarray) -> tuple[float, float]:
    return float(np.abs(ours - reference).max()), float(np.abs(reference).max())


def test_bundle_reproduces_workflow_patches(bundle_network, diff3d, workflow_reference):
    groups = workflow_reference["groups"]
    assert groups.shape == (102, 4)
    ours = predict(bundle_network, bridge_scaled(diff3d, groups))
    reference = workflow_reference["pred_patches"]
    assert ours.dtype == np.complex64 and ours.shape == reference.shape
    error, peak = max_error(ours, reference)
    assert error <= TOLERANCE * peak, f"max |Δ| {error:.3g} vs max amplitude {peak:.3g}"


def test_bundle_reproduces_cli_patches(bundle_network, diff3d, cli_reference):
    """gs2_cli.npz was produced with the bundle (final epoch): each row repeats one pattern."""
    groups = cli_reference["groups"]
    assert (groups == groups[:, :1]).all()
    ours = predict(bundle_network, bridge_scaled(diff3d, groups))
    error, peak = max_error(ours, cli_reference["pred_patches"])
    assert error <= TOLERANCE * peak, f"max |Δ| {error:.3g} vs max amplitude {peak:.3g}"


def test_ckpt_network_runs_and_differs_from_the_bundle(shared_ckpt_path, bundle_network, diff3d, workflow_reference):
    """last.ckpt holds epoch 142, the bundle epoch 242: same architecture, different patches."""
    groups = workflow_reference["groups"][:BATCH]
    x = bridge_scaled(diff3d, workflow_reference["groups"])[:BATCH]
    ours = predict(open_checkpoint(shared_ckpt_path).network, x)
    assert ours.dtype == np.complex64 and ours.shape == (len(groups), 4, 64, 64)
    assert np.isfinite(ours).all()
    error, peak = max_error(ours, predict(bundle_network, x))
    assert error > 100 * TOLERANCE * peak
