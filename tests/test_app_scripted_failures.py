"""``ptycho-gui FILES --run --quit-when-done`` never hangs or exits 0 on a failure: 3 for a file (or device)
it cannot use, 4 for a run that failed, the first error on stderr as one line. Real processes, offscreen Qt.

The cases run in ONE runner subprocess that has imported the app (start-up paid once) and forks a child per
case: each child is a whole ``ptycho-gui`` process of its own (its QApplication, window and exit code).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
TIMEOUT_S = 60
"""A case takes 2-10 s; one that has not quit by then is hung: every thread's stack is dumped on its stderr 5 s
before it is killed (faulthandler), and the failure shows it."""

RUNNER = textwrap.dedent(
    """
    import faulthandler, json, os, sys, time, traceback
    from ptycho_gui.app.main import main

    results = {}
    for case in json.load(open(sys.argv[1])):
        pid = os.fork()
        if pid == 0:
            os.environ["XDG_CONFIG_HOME"] = case["config"]
            for fd, name in ((1, "stdout"), (2, "stderr")):
                os.dup2(os.open(case[name], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644), fd)
            faulthandler.dump_traceback_later(float(sys.argv[2]) - 5)
            code = 1
            try:
                exec(case["patch"], {})
                code = main(case["argv"])
            except BaseException:
                traceback.print_exc()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        deadline = time.monotonic() + float(sys.argv[2])
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                results[case["name"]] = os.waitstatus_to_exitcode(status)
                break
            if time.monotonic() > deadline:
                os.kill(pid, 9)
                os.waitpid(pid, 0)
                results[case["name"]] = "hung"
                break
            time.sleep(0.01)
    json.dump(results, sys.stdout)
    """
)


def _cases(tmp: Path, bundle_path: Path, ckpt_path: Path, dataset_path: Path) -> dict[str, dict]:
    """Each case: the ptycho-gui arguments and Python run first in its process (``patch``)."""
    half = tmp / "half.ckpt"
    half.write_bytes(ckpt_path.read_bytes()[: ckpt_path.stat().st_size // 2])
    failing = """
        from ptycho_gui.engine.run import InferenceRun

        def failing(run, index):
            raise RuntimeError("injected failure in batch %d" % index)

        InferenceRun.compute_batch = failing
    """
    cases = {
        "cut-short": ([str(half), str(dataset_path), "--run", "--quit-when-done"], ""),
        "failing-run": ([str(bundle_path), str(dataset_path), "--device", "cpu", "--threads", "1", "--run",
                         "--quit-when-done"], failing),
    }
    if not torch.cuda.is_available():
        cases["no-cuda"] = ([str(bundle_path), str(dataset_path), "--device", "cuda", "--run", "--quit-when-done"], "")
    return {name: {"argv": argv, "patch": textwrap.dedent(patch)} for name, (argv, patch) in cases.items()}


@pytest.fixture(scope="module")
def app_runs(tmp_path_factory, bundle_path, ckpt_path, dataset_path) -> dict[str, tuple[int, list[str], str, list]]:
    """Every case run as ptycho-gui: name -> (exit code, its own stderr lines, stderr, its arguments)."""
    tmp = tmp_path_factory.mktemp("scripted")
    plan = []
    for name, case in _cases(tmp, bundle_path, ckpt_path, dataset_path).items():
        folder = tmp / name
        folder.mkdir()
        plan.append({**case, "name": name, "config": str(folder / "config"), "stdout": str(folder / "stdout.txt"),
                     "stderr": str(folder / "stderr.txt")})
    (tmp / "plan.json").write_text(json.dumps(plan))
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))
    done = subprocess.run([sys.executable, "-c", RUNNER, str(tmp / "plan.json"), str(TIMEOUT_S)],
                          capture_output=True, text=True, timeout=TIMEOUT_S * len(plan), env=env, cwd=REPO)
    assert done.returncode == 0, done.stderr[-3000:]
    codes = json.loads(done.stdout)
    runs = {}
    for case in plan:
        err = Path(case["stderr"]).read_text(errors="replace")
        assert codes[case["name"]] != "hung", f"{case['name']} never quit: {err[-2000:]}"
        lines = [line for line in err.splitlines() if line.startswith("ptycho-gui:")]
        runs[case["name"]] = (codes[case["name"]], lines, err, case["argv"])
    return runs


def test_a_cut_short_checkpoint_exits_3_naming_the_file(app_runs):
    code, lines, err, (half, *_) = app_runs["cut-short"]
    assert code == 3, err
    assert len(lines) == 1 and half in lines[0] and "truncated or damaged checkpoint" in lines[0], err
    assert "Traceback" not in err


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA exists here")
def test_an_unavailable_device_exits_3(app_runs):
    code, lines, err, _ = app_runs["no-cuda"]
    assert code == 3, err
    assert len(lines) == 1 and lines[0].startswith("ptycho-gui: Device not available: device 'cuda'"), err


def test_a_failing_run_exits_4_with_its_message(app_runs):
    code, lines, err, _ = app_runs["failing-run"]
    assert code == 4, err
    assert len(lines) == 1, err
    assert lines[0].startswith("ptycho-gui: Inference failed: RuntimeError: injected failure in batch"), err
