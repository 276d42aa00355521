"""Shared test setup: offscreen Qt, one torch thread, and the paths of the shared fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

REPO = Path(__file__).resolve().parents[1]
SHARED_FIXTURES = REPO.parent / "shared" / "fixtures"
PTYCHOPINN = SHARED_FIXTURES / "ptychopinn"
PTYCHOPINN_ARCH = SHARED_FIXTURES / "ptychopinn-arch"


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
def arch_dir() -> Path:
    """The real PtychoPINN fixtures of the non-default torch generators (fno, ffno, fno_vanilla, uno, real_imag cnn)."""
    _require_shared()
    if not PTYCHOPINN_ARCH.is_dir():
        if os.environ.get("CI"):
            raise RuntimeError(f"shared fixtures missing in CI: {PTYCHOPINN_ARCH}")
        pytest.skip(f"shared ptychopinn-arch fixtures not present at {PTYCHOPINN_ARCH}")
    return PTYCHOPINN_ARCH


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
