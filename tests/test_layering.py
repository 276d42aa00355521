"""The core is Qt-free: every ptycho_gui module imports with Qt and pyqtgraph made unimportable."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def test_core_modules_import_without_qt():
    script = textwrap.dedent(
        """
        import importlib, pkgutil, sys
        for blocked in ("PySide6", "PyQt5", "PyQt6", "pyqtgraph", "shiboken6"):
            sys.modules[blocked] = None
        import ptycho_gui
        names = [m.name for m in pkgutil.walk_packages(ptycho_gui.__path__, "ptycho_gui.")
                 if not m.name.startswith("ptycho_gui.app")]
        for name in names:
            importlib.import_module(name)
        assert not any(n.startswith(("PySide6.", "pyqtgraph.")) for n in sys.modules), "Qt leaked in"
        print(len(names))
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout.strip()) >= 10


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


def test_no_core_module_imports_the_desktop_shell():
    """``app/`` is installed as ``ptycho_gui.app``: importing every core module never loads it."""
    script = textwrap.dedent(
        """
        import importlib, pkgutil, sys
        import ptycho_gui
        names = [m.name for m in pkgutil.walk_packages(ptycho_gui.__path__, "ptycho_gui.")
                 if not m.name.startswith("ptycho_gui.app")]
        for name in names:
            importlib.import_module(name)
        shell = sorted(n for n in sys.modules if n == "ptycho_gui.app" or n.startswith(("ptycho_gui.app.", "app.")))
        assert not shell, shell
        print(len(names))
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout.strip()) >= 10


def test_no_core_source_names_the_desktop_shell():
    """Not even a lazy import inside a function: no core file imports ``ptycho_gui.app`` or ``app``."""
    import pathlib
    import re

    import ptycho_gui

    core = pathlib.Path(ptycho_gui.__file__).parent
    pattern = re.compile(r"^\s*(from|import)\s+(ptycho_gui\.app|app)(\.|\s|$)", re.MULTILINE)
    offenders = [str(path) for path in core.rglob("*.py") if pattern.search(path.read_text())]
    assert offenders == []
