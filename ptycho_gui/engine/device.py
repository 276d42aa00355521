"""Compute-device choice: what is really available, and turning a user's spec into a torch device."""

from __future__ import annotations

import torch

DEVICE_HELP = "auto (CUDA if present, else MPS, else CPU), cpu, cuda, cuda:N or mps"


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def available_devices() -> list[str]:
    """Device specs that can run here, best first after 'auto': each CUDA device, MPS, CPU."""
    devices = ["auto"]
    if torch.cuda.is_available():
        devices += [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    if _mps_available():
        devices.append("mps")
    devices.append("cpu")
    return devices


def resolve_device(spec: str) -> torch.device:
    """Turn 'auto' | 'cpu' | 'cuda' | 'cuda:N' | 'mps' into a device that exists, or raise ValueError."""
    spec = (spec or "auto").strip().lower()
    if spec == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", torch.cuda.current_device())
        return torch.device("mps") if _mps_available() else torch.device("cpu")
    try:
        device = torch.device(spec)
    except RuntimeError as exc:
        raise ValueError(f"unknown device {spec!r}; use {DEVICE_HELP}") from exc
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {spec!r} requested but CUDA is not available here")
        index = 0 if device.index is None else device.index
        if index >= torch.cuda.device_count():
            raise ValueError(f"device {spec!r} does not exist ({torch.cuda.device_count()} CUDA device(s))")
        return torch.device("cuda", index)
    if device.type == "mps" and not _mps_available():
        raise ValueError("device 'mps' requested but MPS is not available here")
    if device.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"unsupported device {spec!r}; use {DEVICE_HELP}")
    return device


def device_label(device: torch.device) -> str:
    """A readable name for status bars and file attributes, e.g. 'cuda:0 (NVIDIA H100)'."""
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    return str(device)


def memory_in_use(device: torch.device) -> int | None:
    """Bytes the device allocator holds now (CUDA only; None where torch cannot tell)."""
    if device.type == "cuda":
        return int(torch.cuda.memory_allocated(device))
    return None
