"""Error types shared by the core: each names the offending file and what is wrong with it."""

from __future__ import annotations

from pathlib import Path


class PtychoGuiError(Exception):
    """Base class of every error the app reports to a user as a message, not a traceback."""


class InvalidInputError(PtychoGuiError):
    """A file cannot be used: wrong format, missing or inconsistent data, or unsafe content.

    The message always starts with the file's path so a one-line report is self-contained.
    """

    def __init__(self, path: str | Path | None, problem: str):
        self.path = None if path is None else Path(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}" if self.path is not None else problem)


class UnsupportedModelError(InvalidInputError):
    """The checkpoint is well formed but describes a network this app does not implement."""


class IncompatibleInputsError(PtychoGuiError):
    """A checkpoint and a dataset (or groups file) that cannot be used together."""
