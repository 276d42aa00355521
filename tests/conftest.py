"""Shared test setup: Qt on a real X server (pytest-xvfb; offscreen where xcb cannot start), small generated
PtychoPINN-format files, the shared parity fixtures.

Every engine, CLI and GUI test runs on files generated here in a few seconds (``generated_files.py``):
``bundle_path``, ``ckpt_path`` and ``dataset_path``. Only the PtychoPINN-parity tests use the real
PtychoPINN outputs in ``../shared/fixtures`` (``shared_*`` fixtures, ``workflow_reference``,
``cli_reference``); they skip outside CI when that folder is absent and fail in CI.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from generated_files import GeneratedFiles, write_generated_files

# pytest-xdist runs the tests in one worker process per core (pyproject addopts): each worker and every
# subprocess a test starts computes on one thread, so the workers do not fight over the cores.
torch.set_num_threads(1)
os.environ.setdefault("OMP_NUM_THREADS", "1")


def _is_xdist_controller(config: pytest.Config) -> bool:
    """The pytest-xdist process that only hands tests to the workers (it runs none and starts no X server)."""
    return config.getoption("dist", "no") != "no" and "PYTEST_XDIST_WORKER" not in os.environ


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    """GUI tests use the X server pytest-xvfb started (xcb); offscreen only where xcb cannot start here.

    The xdist controller is skipped: its environment is the workers', and each worker starts its own X server.
    """
    from ptycho_gui.app.platform_check import platform_problem

    if not _is_xdist_controller(config) and platform_problem() is not None:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"


LONG_MODULES = ("test_app_random_soak.py", "test_arch_parity.py", "test_app_judge.py", "test_hostile_corpus.py",
                "test_sweep.py", "test_app_run.py", "test_app_export.py", "test_app_first_hour.py")
"""Modules that take longest (20-90 s each on 2 cores), run first. Under xdist a module runs whole on one worker
(``--dist loadscope``, in collection order: ``--no-loadscope-reorder``), so a long one handed out last would
keep one worker busy while the others have finished."""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Long modules first (the sort is stable: every module keeps its own order)."""
    rank = {name: position for position, name in enumerate(LONG_MODULES)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


REPO = Path(__file__).resolve().parents[1]
SHARED_FIXTURES = REPO.parent / "shared" / "fixtures"
PTYCHOPINN = SHARED_FIXTURES / "ptychopinn"
PTYCHOPINN_ARCH = SHARED_FIXTURES / "ptychopinn-arch"


# ---------------------------------------------------------------------------------------------
# Generated files: the engine, CLI and GUI tests


@pytest.fixture(scope="session")
def generated_files(tmp_path_factory: pytest.TempPathFactory) -> GeneratedFiles:
    """A small gridsize-2 bundle, its Lightning ``.ckpt`` and a 100-position scan, written once per session."""
    return write_generated_files(tmp_path_factory.mktemp("generated"))


@pytest.fixture(scope="session")
def bundle_path(generated_files: GeneratedFiles) -> Path:
    return generated_files.bundle


@pytest.fixture(scope="session")
def ckpt_path(generated_files: GeneratedFiles) -> Path:
    return generated_files.ckpt


@pytest.fixture(scope="session")
def dataset_path(generated_files: GeneratedFiles) -> Path:
    return generated_files.dataset


# ---------------------------------------------------------------------------------------------
# PtychoPINN's own files and outputs: the parity tests only


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
def shared_bundle_path(ptychopinn_dir: Path) -> Path:
    """A bundle written by PtychoPINN itself (gridsize 2, N=64)."""
    return ptychopinn_dir / "gs2" / "wts.h5.zip"


@pytest.fixture(scope="session")
def shared_ckpt_path(ptychopinn_dir: Path) -> Path:
    """A Lightning checkpoint written by PtychoPINN's training."""
    return ptychopinn_dir / "gs2" / "last.ckpt"


@pytest.fixture(scope="session")
def shared_dataset_path(ptychopinn_dir: Path) -> Path:
    """The scan PtychoPINN's reference outputs were computed on."""
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


# ---------------------------------------------------------------------------------------------
# Desktop windows


@pytest.fixture
def settings_path(tmp_path: Path) -> Path:
    """A temporary QSettings file: tests never touch the user's real settings."""
    return tmp_path / "ptycho-gui-test.ini"


@pytest.fixture
def make_window(qtbot, settings_path: Path):
    """Factory of shown MainWindows with temporary settings; joins every worker thread (retired ones too) at teardown.

    Keeps strong references to the windows (pytest-qt's ``addWidget`` only holds weak ones).
    """
    import gc

    import shiboken6
    from app_harness import TEST_SETTINGS
    from pyqtgraph.util.garbage_collector import GarbageCollector
    from PySide6.QtCore import QCoreApplication, QEvent, QSettings

    from ptycho_gui.app.main import GC_INTERVAL_S
    from ptycho_gui.app.main_window import MainWindow
    from ptycho_gui.app.plot_helpers import configure_pyqtgraph
    from ptycho_gui.types import RunSettings

    configure_pyqtgraph()
    collector = GarbageCollector(interval=GC_INTERVAL_S)  # as the app: cycles are collected on the GUI thread only
    made: list[tuple[MainWindow, object]] = []

    def make(run_settings: RunSettings = TEST_SETTINGS, show: bool = True) -> MainWindow:
        window = MainWindow(QSettings(str(settings_path), QSettings.Format.IniFormat), run_settings)
        qtbot.addWidget(window)
        made.append((window, window.session.runner.worker))
        if show:
            window.show()
            qtbot.waitExposed(window)
        return window

    yield make
    for window, controller in made:
        threads = [pair for pair in (*controller._retired, (controller._thread, controller._worker)) if pair[0]]
        for thread, worker in threads:
            worker.shutdown()
            assert thread.wait(30_000), "worker thread did not stop"
        if shiboken6.isValid(window):
            window.session.shutdown()
            window.close()
    made.clear()
    window = controller = None
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    gc.collect()  # the closed windows' cycles go here, on the GUI thread, before automatic collection resumes
    collector.timer.stop()
    gc.enable()


# ---------------------------------------------------------------------------------------------
# Patches computed from the generated files: stitching and statistics data


@pytest.fixture(scope="session")
def generated_reference(bundle_path: Path, dataset_path: Path) -> dict:
    """Groups, positions-ready coordinates and predicted patches of the generated network on the generated scan.

    Keyed like ``workflow_reference`` (``groups``, ``pred_patches``) plus ``xcoords``/``ycoords``, for tests
    that need realistic patches but no PtychoPINN output.
    """
    import numpy as np

    from ptycho_gui.engine.run import InferenceRun
    from ptycho_gui.io.checkpoints import open_checkpoint
    from ptycho_gui.io.datasets import open_dataset
    from ptycho_gui.types import RunSettings

    with open_dataset(dataset_path) as dataset:
        run = InferenceRun(open_checkpoint(bundle_path), dataset,
                           RunSettings(device="cpu", batch_size=50, keep_patches=True, num_threads=1))
        output = run.execute()
        return {"groups": run.groups, "pred_patches": output.patches.get(np.arange(run.n_groups)),
                "xcoords": np.asarray(dataset.xcoords), "ycoords": np.asarray(dataset.ycoords)}
