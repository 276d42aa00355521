"""Shared test setup: Qt on a real X server (pytest-xvfb) or offscreen, and the paths of the shared fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    """GUI tests use the X server pytest-xvfb started (xcb); offscreen only where xcb cannot start here."""
    from ptycho_gui.app.platform_check import platform_problem

    if platform_problem() is not None:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"


REPO = Path(__file__).resolve().parents[1]
SHARED_FIXTURES = REPO.parent / "shared" / "fixtures"
PTYCHOPINN = SHARED_FIXTURES / "ptychopinn"


def _require_shared() -> Path:
    if not PTYCHOPINN.is_dir():
        if os.environ.get("CI"):
            raise RuntimeError(f"shared fixtures missing in CI: {PTYCHOPINN}")
        pytest.skip(f"shared PtychoPINN fixtures not present at {PTYCHOPINN}")
    return PTYCHOPINN


@pytest.fixture(scope="session")
def ptychopinn_dir() -> Path:
    """The folder of real PtychoPINN fixtures (skips only outside CI when it is absent)."""
    return _require_shared()


@pytest.fixture(scope="session")
def bundle_path(ptychopinn_dir: Path) -> Path:
    return ptychopinn_dir / "gs2" / "wts.h5.zip"


@pytest.fixture(scope="session")
def ckpt_path(ptychopinn_dir: Path) -> Path:
    return ptychopinn_dir / "gs2" / "last.ckpt"


@pytest.fixture(scope="session")
def dataset_path(ptychopinn_dir: Path) -> Path:
    return ptychopinn_dir / "lines_n64_test.npz"


@pytest.fixture(scope="session")
def workflow_reference(ptychopinn_dir: Path):
    import numpy as np

    with np.load(ptychopinn_dir / "reference" / "gs2_workflow.npz") as ref:
        return {k: ref[k] for k in ref.files}


@pytest.fixture(scope="session")
def cli_reference(ptychopinn_dir: Path):
    import numpy as np

    with np.load(ptychopinn_dir / "reference" / "gs2_cli.npz") as ref:
        return {k: ref[k] for k in ref.files}
