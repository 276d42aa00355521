"""``ptycho-inspect``: the headless face of the engine for scripts and batch jobs.

One module per command; each registers itself through an ``add_*_command`` function listed in COMMANDS.
Exit codes: 0 success; 2 usage error; 3 invalid input (one line on stderr naming the file);
4 runtime failure; 130 interrupted (Ctrl+C or SIGTERM).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from ptycho_gui import __version__
from ptycho_gui.cli.common import (
    EXIT_INTERRUPTED,
    EXIT_INVALID_INPUT,
    EXIT_RUNTIME,
    EXIT_USAGE,
    STOP,
    UsageError,
    one_line,
    quiet_h5py_teardown,
)
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
    """Entry point of ``ptycho-inspect``; returns the process exit code.

    Every failure ends here as one sanitized line: input problems exit 3, runtime failures 4,
    Ctrl+C / SIGTERM 130. This is the process boundary, so anything unforeseen is reported as a
    runtime failure naming its type rather than a traceback.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    with STOP.installed(), quiet_h5py_teardown():
        STOP.requested = False
        try:
            return args.handler(args)
        except UsageError as exc:
            parser.print_usage(sys.stderr)
            print(f"ptycho-inspect: error: {one_line(exc)}", file=sys.stderr)
            return EXIT_USAGE
        except (PtychoGuiError, ValueError) as exc:
            print(f"ptycho-inspect: {one_line(exc)}", file=sys.stderr)
            return EXIT_INVALID_INPUT
        except KeyboardInterrupt:
            print("ptycho-inspect: interrupted; nothing partial was left behind", file=sys.stderr)
            return EXIT_INTERRUPTED
        except Exception as exc:
            print(f"ptycho-inspect: run failed: {type(exc).__name__}: {one_line(exc)}", file=sys.stderr)
            return EXIT_RUNTIME


def entry() -> None:
    """Console-script entry: ``main``, then exit without interpreter teardown.

    After a write failed on a full disk, HDF5 still holds the file it could not close and crashes
    (SIGSEGV) when the interpreter shuts the library down. The result is already reported and every
    file closed or discarded, so the process flushes its streams and leaves directly.
    """
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
