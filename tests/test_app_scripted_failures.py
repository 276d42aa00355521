"""``ptycho-gui FILES --run --quit-when-done`` never hangs or exits 0 on a failure: 3 for a file (or device)
it cannot use, 4 for a run that failed, the first error on stderr as one line. Real processes, offscreen Qt."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
TIMEOUT_S = 240


def run_app(tmp_path: Path, *args: str, patch: str = "") -> tuple[int, list[str], str]:
    """Run ptycho-gui (after ``patch``, Python run first in the process); (exit code, its own stderr lines, stderr)."""
    env = dict(os.environ, XDG_CONFIG_HOME=str(tmp_path / "config"), QT_QPA_PLATFORM="offscreen",
               OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))
    script = textwrap.dedent(patch) + f"\nimport sys\nfrom ptycho_gui.app.main import main\nsys.exit(main({list(args)!r}))\n"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=TIMEOUT_S, env=env,
                          cwd=REPO)
    lines = [line for line in done.stderr.splitlines() if line.startswith("ptycho-gui:")]
    return done.returncode, lines, done.stderr


def test_a_cut_short_checkpoint_exits_3_naming_the_file(tmp_path, ckpt_path, dataset_path):
    half = tmp_path / "half.ckpt"
    half.write_bytes(ckpt_path.read_bytes()[: ckpt_path.stat().st_size // 2])
    code, lines, err = run_app(tmp_path, str(half), str(dataset_path), "--run", "--quit-when-done")
    assert code == 3, err
    assert len(lines) == 1 and str(half) in lines[0] and "truncated or damaged checkpoint" in lines[0], err
    assert "Traceback" not in err


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA exists here")
def test_an_unavailable_device_exits_3(tmp_path, bundle_path, dataset_path):
    code, lines, err = run_app(tmp_path, str(bundle_path), str(dataset_path), "--device", "cuda", "--run",
                               "--quit-when-done")
    assert code == 3, err
    assert len(lines) == 1 and lines[0].startswith("ptycho-gui: Device not available: device 'cuda'"), err


def test_a_failing_run_exits_4_with_its_message(tmp_path, bundle_path, dataset_path):
    patch = """
        from ptycho_gui.engine.run import InferenceRun

        def failing(run, index):
            raise RuntimeError("injected failure in batch %d" % index)

        InferenceRun.compute_batch = failing
    """
    code, lines, err = run_app(tmp_path, str(bundle_path), str(dataset_path), "--device", "cpu", "--threads", "1",
                               "--run", "--quit-when-done", patch=patch)
    assert code == 4, err
    assert len(lines) == 1, err
    assert lines[0].startswith("ptycho-gui: Inference failed: RuntimeError: injected failure in batch"), err
