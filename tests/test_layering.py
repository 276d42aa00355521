"""The core is Qt-free: every ptycho_gui module imports with Qt and pyqtgraph made unimportable."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest


@pytest.fixture(scope="module")
def core_imported_without_qt() -> dict:
    """Import every core module in a fresh interpreter with Qt and pyqtgraph made unimportable (one process
    for both checks below): how many modules, whether Qt leaked in, which desktop-shell modules got loaded."""
    script = textwrap.dedent(
        """
        import importlib, json, pkgutil, sys
        for blocked in ("PySide6", "PyQt5", "PyQt6", "pyqtgraph", "shiboken6"):
            sys.modules[blocked] = None
        import ptycho_gui
        names = [m.name for m in pkgutil.walk_packages(ptycho_gui.__path__, "ptycho_gui.")
                 if not m.name.startswith("ptycho_gui.app")]
        for name in names:
            importlib.import_module(name)
        qt = sorted(n for n in sys.modules if n.startswith(("PySide6.", "pyqtgraph.")))
        shell = sorted(n for n in sys.modules if n == "ptycho_gui.app" or n.startswith(("ptycho_gui.app.", "app.")))
        print(json.dumps({"modules": len(names), "qt": qt, "shell": shell}))
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_core_modules_import_without_qt(core_imported_without_qt):
    assert core_imported_without_qt["modules"] >= 10
    assert core_imported_without_qt["qt"] == [], "Qt leaked in"


def test_app_is_the_only_qt_user():
    import pathlib

    import ptycho_gui

    core = pathlib.Path(ptycho_gui.__file__).parent
    offenders = [
        str(path)
        for path in core.rglob("*.py")
        if "app" not in path.relative_to(core).parts[:1]
        and any(
            line.lstrip().startswith(("import PySide6", "from PySide6", "import pyqtgraph", "from pyqtgraph", "from app", "import app"))
            for line in path.read_text().splitlines()
        )
    ]
    assert offenders == []


def test_no_core_module_imports_the_desktop_shell(core_imported_without_qt):
    """``app/`` is installed as ``ptycho_gui.app``: importing every core module never loads it."""
    assert core_imported_without_qt["modules"] >= 10
    assert core_imported_without_qt["shell"] == []


def test_no_core_source_names_the_desktop_shell():
    """Not even a lazy import inside a function: no core file imports ``ptycho_gui.app`` or ``app``."""
    import pathlib
    import re

    import ptycho_gui

    core = pathlib.Path(ptycho_gui.__file__).parent
    pattern = re.compile(r"^\s*(from|import)\s+(ptycho_gui\.app|app)(\.|\s|$)", re.MULTILINE)
    offenders = [str(path) for path in core.rglob("*.py") if pattern.search(path.read_text())]
    assert offenders == []
