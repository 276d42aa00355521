"""What every ``ptycho-inspect`` command shares: exit codes, input and run options, progress, opening a run.

Exit codes: 0 success; 2 usage error; 3 invalid input (one line on stderr naming the file);
4 runtime failure; 130 interrupted (Ctrl+C or SIGTERM).
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
import time
import traceback
import unicodedata
from collections.abc import Iterator
from pathlib import Path

from ptycho_gui.engine.device import DEVICE_HELP
from ptycho_gui.types import PRECISIONS, STITCH_MODES, RunSettings

EXIT_OK, EXIT_USAGE, EXIT_INVALID_INPUT, EXIT_RUNTIME, EXIT_INTERRUPTED = 0, 2, 3, 4, 130
MESSAGE_LIMIT = 600
"""Characters of one error line; longer messages are cut with an ellipsis."""


class UsageError(Exception):
    """A command line that parses but asks for something impossible (exit code 2)."""


def add_input_arguments(parser: argparse.ArgumentParser) -> None:
    """CHECKPOINT DATASET, or --demo for the built-in demo scan and checkpoint."""
    parser.add_argument("checkpoint", nargs="?", type=Path, help="PtychoPINN bundle (wts.h5.zip) or Lightning .ckpt")
    parser.add_argument("dataset", nargs="?", type=Path, help="scan dataset (PtychoPINN NPZ or HDF5)")
    parser.add_argument("--demo", action="store_true", help="use the built-in demo checkpoint and scan")


def add_run_options(parser: argparse.ArgumentParser) -> None:
    """Options that decide the forward passes and the stitch; shared by ``run`` and ``export``."""
    group = parser.add_argument_group("run options")
    group.add_argument("--device", default="auto", help=f"compute device: {DEVICE_HELP} (default auto)")
    group.add_argument("--batch-size", type=batch_size, default=32, metavar="N|auto",
                       help="groups per batch, or auto: the largest that fits free device memory with a margin "
                            "(default 32)")
    group.add_argument("--n-groups", type=positive_int, default=None, help="number of groups (default: one per pattern)")
    group.add_argument("--neighbors", type=positive_int, default=None, metavar="K",
                       help="group members are drawn from the K nearest neighbours (default: the checkpoint's training K, else 4)")
    group.add_argument("--seed", type=int, default=0, help="grouping random seed (default 0)")
    group.add_argument("--groups", type=Path, default=None, metavar="FILE.npy",
                       help="explicit groups: .npy of dataset row indices, shape (G, C)")
    group.add_argument("--stitch", choices=STITCH_MODES, default="position", help="stitching mode (default position)")
    group.add_argument("--crop", type=positive_int, default=20, metavar="M", help="central crop of each patch (default 20)")
    group.add_argument("--normalization", default="auto", metavar="bridge|mmap|VALUE",
                       help="input scale: the checkpoint's convention (auto, default), bridge (N/2)², mmap N², or a number")
    group.add_argument("--threads", type=positive_int, default=None,
                       help="CPU threads for torch (default: torch's choice; in ptycho-gui all cores but one)")
    group.add_argument("--precision", choices=PRECISIONS, default="fp32",
                       help="forward-pass precision; bf16/fp16 run under autocast and report their error against fp32 "
                            "in the statistics (default fp32)")
    group.add_argument("--tf32", action="store_true",
                       help="allow TensorFloat-32 on CUDA (faster, breaks fp32 parity with PtychoPINN; default off)")
    group.add_argument("--prefetch", type=non_negative_int, default=2, metavar="K",
                       help="batches read ahead in a loader thread while one computes (0: none; default 2)")


def settings_from_args(args: argparse.Namespace) -> RunSettings:
    """The RunSettings an ``add_run_options`` command line asks for (patches streamed, not kept)."""
    return RunSettings(
        device=args.device,
        batch_size=32 if args.batch_size == "auto" else args.batch_size,
        auto_batch_size=args.batch_size == "auto",
        n_groups=args.n_groups,
        neighbors=args.neighbors,
        seed=args.seed,
        groups_file=str(args.groups) if args.groups else None,
        stitch=args.stitch,
        crop=args.crop,
        normalization=args.normalization,
        keep_patches=False,
        num_threads=args.threads,
        precision=args.precision,
        tf32=args.tf32,
        prefetch=args.prefetch,
    )


def input_paths(args: argparse.Namespace) -> tuple[Path, Path]:
    """(checkpoint, dataset) from the command line, or the demo's when --demo is given."""
    if args.demo:
        if args.checkpoint or args.dataset:
            raise UsageError("give either --demo or CHECKPOINT DATASET, not both")
        from ptycho_gui.demo import demo_paths

        return demo_paths()
    if not (args.checkpoint and args.dataset):
        raise UsageError("CHECKPOINT and DATASET are required (or --demo)")
    return args.checkpoint, args.dataset


def open_run(args: argparse.Namespace):
    """Load the checkpoint and dataset named on the command line and plan the run."""
    from ptycho_gui.engine.run import InferenceRun
    from ptycho_gui.io.checkpoints import open_checkpoint
    from ptycho_gui.io.datasets import open_dataset

    checkpoint, dataset = input_paths(args)
    settings = settings_from_args(args)
    run = InferenceRun(open_checkpoint(checkpoint), open_dataset(dataset), settings)
    for text in run.dataset.warnings:
        warn(f"{run.dataset.path}: {text}")
    for message in run.notices:
        note(message)
    run.on_notice = note
    if settings.auto_batch_size:
        print(f"batch size auto: {run.settings.batch_size} groups", file=sys.stderr)
    return run


def note(message: str) -> None:
    """One sanitized note line on stderr (a run's informational notices)."""
    print(f"note: {one_line(message)}", file=sys.stderr)


def warn(text: str) -> None:
    """One sanitized warning line on stderr (suspicious data is reported, never refused)."""
    print(f"ptycho-inspect: warning: {one_line(text)}", file=sys.stderr)


class StopSignals:
    """SIGINT/SIGTERM handling: inside ``graceful()`` the first signal asks the loop to stop after its
    batch (finished work is then written, marked incomplete); anywhere else, or a second time, it
    raises KeyboardInterrupt so atomic writers discard their temporary files."""

    def __init__(self) -> None:
        self.requested = False
        self._graceful = False

    def handle(self, signum: int, _frame: object) -> None:
        """Signal handler."""
        if self._graceful and not self.requested:
            self.requested = True
            print(f"\nptycho-inspect: {signal.Signals(signum).name}: stopping after this batch "
                  "(again to abort)", file=sys.stderr)
            return
        raise KeyboardInterrupt

    @contextlib.contextmanager
    def graceful(self) -> Iterator[StopSignals]:
        """A block whose loop polls ``requested`` to stop cleanly."""
        self._graceful = True
        try:
            yield self
        finally:
            self._graceful = False

    @contextlib.contextmanager
    def installed(self) -> Iterator[StopSignals]:
        """Install the handler for SIGINT and SIGTERM (main thread only) for the duration of the block."""
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        previous = {sig: signal.signal(sig, self.handle) for sig in (signal.SIGINT, signal.SIGTERM)}
        previous_hook = sys.unraisablehook

        def hook(unraisable) -> None:
            """A stop signal that lands in a finalizer cannot abort there; the loop still stops after its batch."""
            if not isinstance(unraisable.exc_value, KeyboardInterrupt):
                previous_hook(unraisable)

        sys.unraisablehook = hook
        try:
            yield self
        finally:
            sys.unraisablehook = previous_hook
            for sig, handler in previous.items():
                signal.signal(sig, handler)


@contextlib.contextmanager
def quiet_h5py_teardown() -> Iterator[None]:
    """Drop h5py's "Exception ignored in ObjectID.__dealloc__" reports (a file whose write failed on a full
    disk cannot flush as its handles are freed); the failure itself is reported once, as one line.

    h5py still prints the traceback of one such failed handle release itself, outside this hook.
    """
    previous = sys.unraisablehook

    def hook(unraisable) -> None:
        frames = traceback.extract_tb(unraisable.exc_traceback) if unraisable.exc_traceback else []
        from_h5py = "h5py" in repr(unraisable.object) or any("h5py" in frame.filename for frame in frames)
        if not from_h5py:
            previous(unraisable)

    sys.unraisablehook = hook
    try:
        yield
    finally:
        sys.unraisablehook = previous


STOP = StopSignals()
"""The process's stop-signal state, installed by ``main``."""


class ProgressBar:
    """A one-line progress bar on stderr with throughput and time left."""

    def __init__(self, total: int, patterns_per_batch: int, stream=None):
        self.total, self.per_batch = total, patterns_per_batch
        self.stream = sys.stderr if stream is None else stream
        self.start = time.perf_counter()
        self.done = 0

    def advance(self) -> None:
        """Count one finished batch and redraw."""
        self.done += 1
        elapsed = max(time.perf_counter() - self.start, 1e-9)
        rate = self.done * self.per_batch / elapsed
        left = elapsed / self.done * (self.total - self.done)
        filled = int(30 * self.done / self.total)
        end = "\n" if self.done == self.total else ""
        self.stream.write(
            f"\r[{'#' * filled}{'.' * (30 - filled)}] {self.done}/{self.total} batches  "
            f"{rate:7.1f} patterns/s  {left:5.1f} s left{end}"
        )
        self.stream.flush()

    def end_line(self) -> None:
        """End a bar left mid-line (a failed or interrupted run), so the next message starts on its own line."""
        if 0 < self.done < self.total:
            self.stream.write("\n")
            self.stream.flush()


def one_line(message: BaseException | str) -> str:
    """A message on one line with terminal control and format characters escaped (file names may hold them)."""
    text = " ".join(str(message).split())
    text = "".join(ch if ch.isprintable() and unicodedata.category(ch) != "Cf" else _escape(ch) for ch in text)
    return text if len(text) <= MESSAGE_LIMIT else text[: MESSAGE_LIMIT - 1] + "…"


def _escape(ch: str) -> str:
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be zero or a positive integer, got {text}")
    return value


def batch_size(text: str) -> int | str:
    """A positive batch size, or 'auto'."""
    return "auto" if text.strip().lower() == "auto" else positive_int(text)


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value

