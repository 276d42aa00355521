"""Compute-device choice: what is really available, and turning a user's spec into a torch device."""

from __future__ import annotations

import os

import torch

DEVICE_HELP = "auto (CUDA if present, else MPS, else CPU), cpu, cuda, cuda:N or mps"


class DeviceUnavailableError(ValueError):
    """A well-formed device spec naming hardware this machine does not have (no CUDA, no MPS, no cuda:N)."""

    def __init__(self, spec: str, reason: str):
        self.spec = spec
        super().__init__(f"device {spec!r} is not available: {reason}; available here: "
                         f"{', '.join(available_devices())}")


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
            raise DeviceUnavailableError(spec, "CUDA is not available here")
        index = 0 if device.index is None else device.index
        if index >= torch.cuda.device_count():
            raise DeviceUnavailableError(spec, f"this machine has {torch.cuda.device_count()} CUDA device(s)")
        return torch.device("cuda", index)
    if device.type == "mps" and not _mps_available():
        raise DeviceUnavailableError(spec, "MPS is not available here")
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


def free_memory(device: torch.device) -> int | None:
    """Bytes free for new tensors on the device now: CUDA's free memory, the host's available memory for
    CPU, MPS's recommended working set minus what it holds; None where that cannot be told."""
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    if device.type == "mps":
        return int(torch.mps.recommended_max_memory() - torch.mps.driver_allocated_memory())
    return _host_available_memory()


def _host_available_memory() -> int | None:
    """MemAvailable from /proc/meminfo (Linux), else the free physical pages; None if neither is known."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


def set_tf32(enabled: bool) -> None:
    """Allow (or forbid) TensorFloat-32 in CUDA convolutions and matmuls, process-wide.

    torch's own default lets cuDNN convolutions use TF32, which breaks fp32 parity with PtychoPINN;
    the engine sets this explicitly for every run.
    """
    precision = "tf32" if enabled else "ieee"
    torch.backends.cudnn.conv.fp32_precision = precision
    torch.backends.cuda.matmul.fp32_precision = precision


def host_buffer(shape: tuple[int, ...], dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """An empty host tensor for copies to or from ``device``: pinned (page-locked) when that is CUDA,
    so copies can be asynchronous; torch's caching host allocator reuses the pinned blocks."""
    return torch.empty(shape, dtype=dtype, pin_memory=device.type == "cuda")


def copy_done_marker(device: torch.device) -> torch.cuda.Event | None:
    """A CUDA event recorded after the copies queued so far (None off CUDA, where copies are synchronous)."""
    if device.type != "cuda":
        return None
    event = torch.cuda.Event()
    event.record()
    return event
