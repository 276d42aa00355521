"""PtychoPINN's torch bundle ``wts.h5.zip``: a zip holding ``manifest.dill`` and ``diffraction_to_obj/model.pth``.

Manifest and params are read as plain data (no pickle globals), weights and metadata weights-only.
The config comes from ``torch_scaling_metadata.pt`` when present (authoritative), else from
``params.dill`` plus what the tensor names prove (contract §1.7). Bundles are written only by
PtychoPINN's bridge training path, so their inputs use the bridge normalization.
"""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Mapping
from pathlib import Path

from ptycho_gui.errors import InvalidInputError, UnsupportedModelError
from ptycho_gui.io.loaded_model import LoadedModel
from ptycho_gui.io.network_loading import loaded_model
from ptycho_gui.io.safe import UnsafeContentError, check_zip_members
from ptycho_gui.io.torch_config import (
    PARITY_UNRECORDED,
    SOURCE_METADATA,
    Resolved,
    legacy_loader_note,
    resolve_from_params,
    resolve_torch_configs,
    set_training_neighbors,
)
from ptycho_gui.io.torch_files import (
    as_state_dict,
    first_line,
    is_int,
    plain_member,
    scalar,
    torch_member,
)

FORMAT = "ptychopinn-bundle"
MANIFEST = "manifest.dill"
METADATA = "torch_scaling_metadata.pt"
MODEL_ENTRY = "diffraction_to_obj"
MAX_METADATA_BYTES = 16 << 20


def sniff_torch_bundle(path: Path) -> bool:
    """A zip archive whose members include ``manifest.dill``."""
    try:
        if not path.is_file() or not zipfile.is_zipfile(path):
            return False
        with zipfile.ZipFile(path) as archive:
            return MANIFEST in archive.namelist()
    except (OSError, zipfile.BadZipFile, ValueError):
        return False


def open_torch_bundle(path: Path, sha256: str) -> LoadedModel:
    """Read the bundle, resolve its config and load its network strictly."""
    try:
        with zipfile.ZipFile(path) as archive:
            check_zip_members(archive)
            state_dict, resolved = _read_bundle(path, archive, set(archive.namelist()))
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise InvalidInputError(path, f"corrupt zip archive ({first_line(str(exc))})") from exc
    except UnsafeContentError as exc:
        raise InvalidInputError(path, f"unsafe archive: {exc}") from exc
    except OSError as exc:
        raise InvalidInputError(path, f"cannot read archive ({exc})") from exc
    if resolved.family != "cnn":
        resolved.notes.insert(0, legacy_loader_note(resolved.family))
    resolved.notes.append("normalization 'bridge': bundles are written only by PtychoPINN's bridge training path")
    return loaded_model(path, sha256, FORMAT, resolved, state_dict, "bridge")


def _read_bundle(path: Path, archive: zipfile.ZipFile, names: set[str]):
    """Manifest, params and metadata as plain data, weights weights-only."""
    manifest = plain_member(path, archive, MANIFEST)
    models = manifest.get("models") if isinstance(manifest, dict) else None
    if not isinstance(models, list) or MODEL_ENTRY not in models:
        raise InvalidInputError(path, f"{MANIFEST} does not list the {MODEL_ENTRY!r} model")
    weights_name = f"{MODEL_ENTRY}/model.pth"
    if weights_name not in names:
        raise InvalidInputError(path, f"bundle has no {weights_name}")
    state_dict = as_state_dict(path, torch_member(path, archive, weights_name), weights_name)
    params_name = f"{MODEL_ENTRY}/params.dill"
    params = plain_member(path, archive, params_name) if params_name in names else None
    if params is not None and not isinstance(params, dict):
        raise InvalidInputError(path, f"{params_name} is not a dict")
    if METADATA in names:
        metadata = torch_member(path, archive, METADATA, MAX_METADATA_BYTES)
        resolved = _resolve_from_metadata(path, metadata, params or {}, state_dict)
    elif params is not None:
        resolved = resolve_from_params(path, params, state_dict)
    else:
        raise InvalidInputError(path, f"bundle has neither {METADATA} nor {params_name}: its configuration is unknown")
    resolved.config["bundle_version"] = scalar(manifest.get("version"))
    resolved.sources["bundle_version"] = MANIFEST
    return state_dict, resolved


def _resolve_from_metadata(path: Path, metadata, params: dict, state_dict: dict) -> Resolved:
    """Contract §1.4: the metadata's torch configs are authoritative."""
    if not isinstance(metadata, Mapping):
        raise InvalidInputError(path, f"{METADATA} is not a dict")
    if metadata.get("ci_statistics") is not None:
        raise UnsupportedModelError(
            path, "CI bundle (ci_statistics: intensity inputs with a frozen input scale) is not supported"
        )
    if "log_scale_delta" in state_dict:
        raise UnsupportedModelError(path, PARITY_UNRECORDED)
    resolved = resolve_torch_configs(path, metadata, METADATA, "off", SOURCE_METADATA)
    if is_int(params.get("neighbor_count")):
        set_training_neighbors(resolved, params["neighbor_count"], "params.dill neighbor_count")
    else:
        set_training_neighbors(resolved, resolved.config["K"], "data_config K")
    resolved.config["intensity_scale"] = scalar(params.get("intensity_scale"))
    resolved.sources["intensity_scale"] = "params.dill"
    return resolved
