"""``ptycho-inspect info``: a checkpoint's architecture and resolved config, or a dataset's summary."""

from __future__ import annotations

import argparse
from pathlib import Path

from ptycho_gui.cli.common import EXIT_OK
from ptycho_gui.export.json_text import dumps_finite


def add_info_command(commands: argparse._SubParsersAction) -> None:
    """Register ``info`` on the ``ptycho-inspect`` sub-command parser."""
    info = commands.add_parser("info", help="describe a checkpoint or a dataset")
    info.add_argument("path", type=Path, help="checkpoint or dataset (recognised by content)")
    info.add_argument("--json", action="store_true", help="print JSON instead of text")
    info.set_defaults(handler=command_info)


def command_info(args: argparse.Namespace) -> int:
    """Print a checkpoint's architecture and resolved config, or a dataset's summary."""
    from ptycho_gui.io.checkpoints import open_checkpoint
    from ptycho_gui.io.datasets import open_dataset
    from ptycho_gui.io.detect import detect_kind

    if detect_kind(args.path) == "checkpoint":
        summary = {"kind": "checkpoint", **open_checkpoint(args.path).summary()}
    else:
        with open_dataset(args.path) as dataset:
            summary = {"kind": "dataset", **dataset.summary()}
    print(dumps_finite(summary, indent=2, default=str) if args.json else format_summary(summary))
    return EXIT_OK


def format_summary(summary: dict, indent: str = "") -> str:
    """Readable nested 'key: value' lines for ``info`` without --json."""
    lines = []
    for key, value in summary.items():
        if isinstance(value, dict):
            lines.append(f"{indent}{key}:")
            lines.append(format_summary(value, indent + "  "))
        elif isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            lines.append(f"{indent}{key}:")
            lines.extend(f"{indent}  - {v}" for v in value)
        else:
            lines.append(f"{indent}{key}: {value}")
    return "\n".join(line for line in lines if line)
