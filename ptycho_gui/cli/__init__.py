"""``ptycho-inspect``: the headless face of the engine for scripts and batch jobs.

One module per command; each registers itself through an ``add_*_command`` function listed in COMMANDS.
Exit codes: 0 success; 2 usage error; 3 invalid input (one line on stderr naming the file);
4 runtime failure.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from ptycho_gui import __version__
from ptycho_gui.cli.common import EXIT_INVALID_INPUT, EXIT_RUNTIME, EXIT_USAGE, UsageError, one_line
from ptycho_gui.cli.export import add_export_command
from ptycho_gui.cli.forward import add_forward_command
from ptycho_gui.cli.info import add_info_command
from ptycho_gui.cli.metrics import add_metrics_command
from ptycho_gui.cli.run import add_run_command
from ptycho_gui.cli.sweep import add_sweep_command
from ptycho_gui.errors import PtychoGuiError

COMMANDS: tuple[Callable[[argparse._SubParsersAction], None], ...] = (
    add_info_command,
    add_run_command,
    add_export_command,
    add_forward_command,
    add_metrics_command,
    add_sweep_command,
)
"""Every sub-command, in the order ``--help`` lists them."""


def build_parser() -> argparse.ArgumentParser:
    """The ``ptycho-inspect`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="ptycho-inspect",
        description="Inspect neural-network ptychography reconstructions headlessly (PtychoPINN checkpoints).",
    )
    parser.add_argument("--version", action="version", version=f"ptycho-inspect {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add_command in COMMANDS:
        add_command(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``ptycho-inspect``; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except UsageError as exc:
        parser.print_usage(sys.stderr)
        print(f"ptycho-inspect: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (PtychoGuiError, ValueError) as exc:
        print(f"ptycho-inspect: {one_line(exc)}", file=sys.stderr)
        return EXIT_INVALID_INPUT
    except (RuntimeError, OSError, MemoryError) as exc:
        print(f"ptycho-inspect: run failed: {one_line(exc)}", file=sys.stderr)
        return EXIT_RUNTIME
