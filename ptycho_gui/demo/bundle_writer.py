"""Write a trained cnn as a PtychoPINN torch bundle (``wts.h5.zip``, contract §1.2–1.4).

The layout, member names, pickle protocol and config fields are those of bundles written by
PtychoPINN's ``save_torch_bundle``; configuration values not decided by the demo are PtychoPINN's
defaults as found in a real bundle. Every pickle holds plain data only.
"""

from __future__ import annotations

import io
import pickle
import zipfile
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import torch

from ptycho_gui.models.cnn import PtychoPinnCnn

BUNDLE_VERSION = "2.0-pytorch"
SCHEMA_VERSION = "ci-entrypoints-v1"
MODEL_NAMES: tuple[str, ...] = ("diffraction_to_obj", "autoencoder")
PICKLE_PROTOCOL = 4
_FIXED_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
FORWARD_MODEL_VALUES = {"alpha": 1.0, "beta": 1.0, "rect_scaler.s1": 1.0, "rect_scaler.s2": 1.0}
"""PtychoPINN's values of the training-only forward-model scalars when they are not trained."""


@dataclass(frozen=True)
class BundleDescription:
    """What the bundle's configs must say about the network and how it was trained."""

    n: int
    gridsize: int
    n_filters_scale: int
    object_big: bool
    probe_big: bool
    amp_activation: str
    cbam_encoder: bool
    nphotons: float
    intensity_scale: float
    """Physics scale from normalized amplitudes to sqrt-photons (contract §1.3)."""
    n_groups: int
    epochs: int
    batch_size: int
    learning_rate: float
    seed: int
    train_data_file: str
    notes: str
    neighbors: int = 4
    """K nearest neighbours the training groups were drawn from."""
    patch_weighting: str = "central_mask"
    """PtychoPINN's ``training_patch_weighting`` of the overlap merge (gridsize > 1)."""


def legacy_params(d: BundleDescription) -> dict:
    """The ``params.dill`` dict: PtychoPINN's flattened TF TrainingConfig keys (contract §1.3)."""
    return {
        "batch_size": d.batch_size, "nepochs": d.epochs, "mae_weight": 0.0, "nll_weight": 1.0,
        "realspace_mae_weight": 0.0, "realspace_weight": 0.0, "nphotons": d.nphotons, "n_groups": d.n_groups,
        "n_images": None, "n_subsample": None, "subsample_seed": d.seed, "neighbor_count": d.neighbors,
        "enable_oversampling": False, "neighbor_pool_size": None, "sequential_sampling": False,
        "backend": "pytorch", "torch_loss_mode": "poisson", "torch_mae_pred_l2_match_target": False,
        "gradient_clip_val": None, "gradient_clip_algorithm": "norm", "optimizer": "adam", "momentum": 0.9,
        "weight_decay": 0.0, "adam_beta1": 0.9, "adam_beta2": 0.999, "scheduler": "Default",
        "lr_warmup_epochs": 0, "lr_min_ratio": 0.1, "plateau_factor": 0.5, "plateau_patience": 2,
        "plateau_min_lr": 5e-05, "plateau_threshold": 0.0, "N": d.n, "gridsize": d.gridsize,
        "n_filters_scale": d.n_filters_scale, "model_type": "pinn", "architecture": "cnn", "fno_modes": 12,
        "fno_width": 32, "fno_blocks": 4, "fno_cnn_blocks": 2, "learned_input_channels": 1,
        "max_hidden_channels": None, "resnet_width": None, "fno_input_transform": "none",
        "generator_output_mode": "real_imag", "amp_activation": d.amp_activation, "probe_mask_sigma": 1.0,
        "probe_mask_diameter": None, "pad_object": True, "probe_scale": 4.0, "gaussian_smoothing_sigma": 0.0,
        "object.big": d.object_big, "probe.big": d.probe_big, "probe.mask": False, "probe.trainable": False,
        "intensity_scale.trainable": False, "positions.provided": True, "output_prefix": "ptycho_gui_demo",
        "train_data_file_path": d.train_data_file, "test_data_file_path": None,
        "intensity_scale": float(d.intensity_scale), "_version": BUNDLE_VERSION,
    }


def _data_config(d: BundleDescription) -> dict:
    return {
        "nphotons": d.nphotons, "scale_contract_version": "ci_intensity_v2",
        "measurement_domain": "count_intensity", "N": d.n, "C": d.gridsize**2, "K": d.neighbors, "K_quadrant": 30,
        "n_subsample": 7, "subsample_seed": d.seed, "grid_size": (d.gridsize, d.gridsize),
        "neighbor_function": "Nearest", "min_neighbor_distance": 0.0, "max_neighbor_distance": 3.0,
        "scan_pattern": "Isotropic", "normalize": "Batch", "probe_scale": 4.0, "probe_normalize": True,
        "data_scaling": "Parseval", "phase_subtraction": True, "x_bounds": (0.1, 0.9), "y_bounds": (0.1, 0.9),
    }


def _model_config(d: BundleDescription) -> dict:
    channels = d.gridsize**2
    return {
        "mode": "Unsupervised", "architecture": "cnn", "fno_modes": 12, "fno_width": 32, "fno_blocks": 4,
        "fno_cnn_blocks": 2, "learned_input_channels": 1, "fno_input_transform": "none",
        "max_hidden_channels": None, "resnet_width": None, "spectral_bottleneck_blocks": 6,
        "spectral_bottleneck_modes": 12, "spectral_bottleneck_share_weights": True,
        "spectral_bottleneck_gate_init": 0.1, "spectral_bottleneck_gate_mode": "shared",
        "generator_output_mode": "real_imag", "cnn_output_mode": "amp_phase", "use_shared_decoder": False,
        "intensity_scale_trainable": False, "intensity_scale": 10000.0, "max_position_jitter": 10,
        "num_datasets": 1, "C_model": channels, "n_filters_scale": d.n_filters_scale,
        "amp_activation": d.amp_activation, "batch_norm": False, "probe_mask": False, "probe_mask_tensor": None,
        "probe_mask_sigma": 1.0, "probe_mask_diameter": None, "edge_pad": 10,
        "decoder_last_c_outer_fraction": 0.125, "decoder_last_amp_channels": 1,
        "use_legacy_decoder_channel_override": False, "eca_encoder": False, "cbam_encoder": d.cbam_encoder,
        "cbam_bottleneck": False, "cbam_decoder": False, "eca_decoder": False, "spatial_decoder": False,
        "decoder_spatial_kernel": 7, "object_big": d.object_big, "probe_big": d.probe_big, "offset": 6,
        "C_forward": channels, "training_patch_weighting": d.patch_weighting, "physics_forward_mode": "amplitude",
        "rect_s1s2_trainable": True, "rect_s1s2_init": "ones", "amplitude_physics_gain": 1.0,
        "pad_object": True, "gaussian_smoothing_sigma": 0.0, "loss_function": "Poisson", "amp_loss": None,
        "phase_loss": None, "amp_loss_coeff": 1.0, "phase_loss_coeff": 1.0,
    }


def _training_config(d: BundleDescription) -> dict:
    return {
        "training_directories": [], "nll": True, "device": "cpu", "strategy": "ddp", "n_devices": 1,
        "framework": "Lightning", "orchestrator": "Mlflow", "learning_rate": d.learning_rate,
        "epochs": d.epochs, "batch_size": d.batch_size, "epochs_fine_tune": 0, "fine_tune_gamma": 0.1,
        "scheduler": "Default", "lr_warmup_epochs": 0, "lr_min_ratio": 0.1, "plateau_factor": 0.5,
        "plateau_patience": 2, "plateau_min_lr": 5e-05, "plateau_threshold": 0.0, "num_workers": 0,
        "accum_steps": 1, "gradient_clip_val": None, "gradient_clip_algorithm": "norm", "optimizer": "adam",
        "momentum": 0.9, "weight_decay": 0.0, "adam_beta1": 0.9, "adam_beta2": 0.999, "log_grad_norm": False,
        "grad_norm_log_freq": 1, "stage_1_epochs": 0, "stage_2_epochs": 0, "stage_3_epochs": 0,
        "physics_weight_schedule": "cosine", "stage_3_lr_factor": 0.1, "torch_loss_mode": "poisson",
        "torch_mae_pred_l2_match_target": False, "experiment_name": "ptycho_gui_demo", "notes": d.notes,
        "model_name": "PtychoPINNv2", "output_dir": "ptycho_gui_demo", "train_data_file": d.train_data_file,
        "test_data_file": None, "n_groups": d.n_groups,
    }


def _inference_config() -> dict:
    return {
        "middle_trim": 32, "batch_size": 1000, "experiment_number": 0, "pad_eval": True, "window": 20,
        "patch_weighting": "probe", "varpro_scaling": True, "log_patch_stats": False, "patch_stats_limit": None,
    }


def scaling_metadata(d: BundleDescription) -> dict:
    """The ``torch_scaling_metadata.pt`` dict: the authoritative torch configs (contract §1.4)."""
    return {
        "schema_version": SCHEMA_VERSION,
        "data_config": _data_config(d),
        "model_config": _model_config(d),
        "training_config": _training_config(d),
        "inference_config": _inference_config(),
        "ci_statistics": None,
    }


def bundle_state_dict(network: PtychoPinnCnn) -> OrderedDict:
    """The network's ``model.*`` tensors as PtychoPINN saves them (float32, forward-model scalars set)."""
    state = OrderedDict((key, value.detach().to(torch.float32).clone()) for key, value in network.state_dict().items())
    for name, value in FORWARD_MODEL_VALUES.items():
        key = f"model.forward_model.{name}"
        state[key] = torch.full_like(state[key], value)
    return state


def _torch_bytes(obj: object) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def _write_member(archive: zipfile.ZipFile, name: str, data: bytes) -> None:
    """Store one deflated member with a fixed timestamp so equal inputs give equal archives."""
    info = zipfile.ZipInfo(name, date_time=_FIXED_ZIP_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    archive.writestr(info, data)


def write_bundle(path: Path, network: PtychoPinnCnn, description: BundleDescription) -> None:
    """Write ``network`` and its configs to ``path`` in PtychoPINN's ``wts.h5.zip`` layout."""
    params = pickle.dumps(legacy_params(description), protocol=PICKLE_PROTOCOL)
    manifest = {"models": list(MODEL_NAMES), "version": BUNDLE_VERSION}
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as archive:
        _write_member(archive, "manifest.dill", pickle.dumps(manifest, protocol=PICKLE_PROTOCOL))
        _write_member(archive, "diffraction_to_obj/model.pth", _torch_bytes(bundle_state_dict(network)))
        _write_member(archive, "diffraction_to_obj/params.dill", params)
        _write_member(archive, "autoencoder/model.pth", _torch_bytes({"_sentinel": "autoencoder"}))
        _write_member(archive, "autoencoder/params.dill", params)
        _write_member(archive, "torch_scaling_metadata.pt", _torch_bytes(scaling_metadata(description)))
