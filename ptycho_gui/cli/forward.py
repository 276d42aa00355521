"""``ptycho-inspect forward``: run a checkpoint on exactly the given network inputs (a parity tool).

INPUTS.npz: ``inputs`` float32 (B, C, N, N), the amplitudes before the input scale; optional
``input_scale`` (scalar or (B,); default: the checkpoint's own, 1 for torch); optional ``offsets``
float32 (B, C, 2), each channel's (x, y) relative to its group centre. OUT.npz: ``patches``
complex64 (B, C, N, N), what PtychoPINN's ``forward_predict`` returns. Written atomically.
"""

from __future__ import annotations

import argparse
import sys
import zipfile
from pathlib import Path

import numpy as np

from ptycho_gui.cli.common import EXIT_OK, positive_int
from ptycho_gui.engine.device import DEVICE_HELP
from ptycho_gui.errors import InvalidInputError

INPUT_KEYS = ("inputs", "input_scale", "offsets")


def add_forward_command(commands: argparse._SubParsersAction) -> None:
    """Register ``forward`` on the ``ptycho-inspect`` sub-command parser."""
    forward = commands.add_parser("forward", help="run a checkpoint on given network inputs (NPZ in, patches out)")
    forward.add_argument("checkpoint", type=Path, help="any supported checkpoint (recognised by content)")
    forward.add_argument("inputs", type=Path, metavar="INPUTS.npz",
                         help="inputs (B,C,N,N) float32; optional input_scale (scalar or (B,)) and offsets (B,C,2)")
    forward.add_argument("-o", "--output", type=Path, required=True, metavar="OUT.npz",
                         help="output NPZ holding patches complex64 (B,C,N,N)")
    forward.add_argument("--device", default="auto", help=f"compute device: {DEVICE_HELP} (default auto)")
    forward.add_argument("--batch-size", type=positive_int, default=32, help="samples per forward pass (default 32)")
    forward.add_argument("--force", action="store_true", help="overwrite an existing OUT.npz")
    forward.set_defaults(handler=command_forward)


def command_forward(args: argparse.Namespace) -> int:
    """Load the checkpoint and inputs, run the network batch by batch, write the patches."""
    import torch

    from ptycho_gui.engine.device import resolve_device
    from ptycho_gui.export.atomic import atomic_path
    from ptycho_gui.io.checkpoints import open_checkpoint

    model = open_checkpoint(args.checkpoint)
    inputs, scale, offsets = read_forward_inputs(args.inputs, model.C, model.N, model.forward_input_scale)
    device = resolve_device(args.device)
    model.network.to(device)
    patches = np.empty(inputs.shape, dtype=np.complex64)
    for start in range(0, inputs.shape[0], args.batch_size):
        stop = min(start + args.batch_size, inputs.shape[0])
        x = torch.from_numpy(inputs[start:stop] * scale[start:stop, None, None, None]).to(device)
        rel = None if offsets is None else torch.from_numpy(offsets[start:stop]).to(device)
        patches[start:stop] = model.predict(x, rel).cpu().numpy()
    with atomic_path(args.output, overwrite=args.force) as tmp, tmp.open("wb") as handle:
        np.savez(handle, patches=patches)
    print(f"wrote {args.output}: patches {patches.shape} complex64 from {model.family} ({model.format})", file=sys.stderr)
    return EXIT_OK


def read_forward_inputs(path: Path, C: int, N: int, default_scale: float):
    """(inputs float32 (B,C,N,N), input_scale float32 (B,), offsets float32 (B,C,2) or None), checked."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            if "inputs" not in npz.files:
                raise InvalidInputError(path, "has no 'inputs' array")
            arrays = {key: npz[key] for key in INPUT_KEYS if key in npz.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, KeyError) as exc:
        raise InvalidInputError(path, f"not a readable NPZ of plain arrays ({' '.join(str(exc).split())})") from exc
    inputs = arrays["inputs"]
    if inputs.ndim != 4 or inputs.shape[1:] != (C, N, N) or not np.issubdtype(inputs.dtype, np.floating):
        raise InvalidInputError(
            path, f"inputs has shape {inputs.shape} {inputs.dtype}; the checkpoint needs float (B, {C}, {N}, {N})"
        )
    inputs = inputs.astype(np.float32, copy=False)
    batch = inputs.shape[0]
    scale = np.asarray(arrays.get("input_scale", default_scale))
    if scale.ndim == 0:
        scale = np.full(batch, scale)
    if scale.shape != (batch,) or not np.issubdtype(scale.dtype, np.number) or not np.isfinite(scale).all():
        raise InvalidInputError(path, f"input_scale has shape {scale.shape}; it must be a finite scalar or ({batch},)")
    offsets = arrays.get("offsets")
    if offsets is not None:
        if offsets.shape != (batch, C, 2) or not np.issubdtype(offsets.dtype, np.number):
            raise InvalidInputError(path, f"offsets has shape {offsets.shape}; it must be ({batch}, {C}, 2)")
        offsets = offsets.astype(np.float32)
    return inputs, scale.astype(np.float32), offsets
