"""``ptycho-inspect forward``: run a checkpoint on exactly the given network inputs (a parity tool).

INPUTS.npz: ``inputs`` float32 (B, C, N, N), the amplitudes before the input scale; optional
``input_scale`` (scalar or (B,); default 1 for torch, the bundle's ``intensity_scale`` for TF);
optional ``offsets`` float32 (B, C, 2), the (x, y) network offsets of each channel (PtychoPINN's
``coords_relative``; TF gridsize > 1 needs them). OUT.npz: ``patches`` complex64 (B, C, N, N) — torch:
``forward_predict``; TF: the layer ``obj`` — and, for TF bundles, ``output`` complex64 (B, 1, N, N).
Written atomically.
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
    """Load the checkpoint and inputs, run the network batch by batch, write OUT.npz atomically."""
    from ptycho_gui.engine.forward import forward_arrays
    from ptycho_gui.export.atomic import atomic_path
    from ptycho_gui.io.checkpoints import open_checkpoint

    model = open_checkpoint(args.checkpoint)
    arrays = read_forward_inputs(args.inputs)
    try:
        outputs = forward_arrays(model, arrays["inputs"], arrays.get("input_scale"), arrays.get("offsets"),
                                 args.device, args.batch_size)
    except ValueError as exc:
        raise InvalidInputError(args.inputs, str(exc)) from exc
    with atomic_path(args.output, overwrite=args.force) as tmp, tmp.open("wb") as handle:
        np.savez(handle, **outputs)
    shapes = ", ".join(f"{key} {value.shape}" for key, value in outputs.items())
    print(f"wrote {args.output} ({shapes}) from {model.family} ({model.format})", file=sys.stderr)
    return EXIT_OK


def read_forward_inputs(path: Path) -> dict[str, np.ndarray]:
    """The known arrays of INPUTS.npz (others are ignored), read without pickles; unreadable → one-line refusal."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            if "inputs" not in npz.files:
                raise InvalidInputError(path, "has no 'inputs' array (B, C, N, N)")
            return {key: npz[key] for key in INPUT_KEYS if key in npz.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, KeyError) as exc:
        raise InvalidInputError(path, f"not a readable NPZ of plain arrays ({' '.join(str(exc).split())})") from exc
