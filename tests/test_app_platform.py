"""Start anywhere: a missing xcb system library gives a short message and exit 2, never a Qt abort."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ptycho_gui.app import platform_check
from ptycho_gui.app.platform_check import (
    missing_libraries_message,
    missing_xcb_libraries,
    packages_for,
    platform_is_xcb,
    xcb_plugin_path,
)

linux_with_xcb = pytest.mark.skipif(
    not sys.platform.startswith("linux") or not xcb_plugin_path().is_file(),
    reason="needs Linux and PySide6's xcb platform plugin",
)


def _hiding_env(tmp_path: Path, library: str) -> dict[str, str]:
    """An environment whose loader finds an unloadable ``library`` first (it hides the system's copy)."""
    hide = tmp_path / "hide"
    hide.mkdir()
    (hide / library).write_bytes(b"not a shared library")
    env = dict(os.environ, LD_LIBRARY_PATH=str(hide), DISPLAY=os.environ.get("DISPLAY", ":99"))
    env.pop("QT_QPA_PLATFORM", None)
    env.pop("XDG_SESSION_TYPE", None)
    return env


@linux_with_xcb
def test_hidden_xcb_cursor_library_exits_2_with_the_package_to_install(tmp_path):
    env = _hiding_env(tmp_path, "libxcb-cursor.so.0")
    result = subprocess.run(
        [sys.executable, "-m", "ptycho_gui.app", "--demo", "--quit-when-done"],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert 1 <= len(lines) <= 5, result.stderr
    assert "libxcb-cursor0" in result.stderr and "xcb-util-cursor" in result.stderr
    assert "QT_QPA_PLATFORM=" in result.stderr
    assert "Aborted" not in result.stderr and "core dumped" not in result.stderr


@linux_with_xcb
def test_hidden_library_is_named_in_process_by_the_checker(tmp_path):
    env = _hiding_env(tmp_path, "libxcb-icccm.so.4")
    code = "from ptycho_gui.app.platform_check import missing_xcb_libraries; print(missing_xcb_libraries())"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=60, check=True).stdout
    assert "libxcb-icccm.so.4" in out


def test_an_absent_plugin_reports_nothing_missing():
    assert missing_xcb_libraries(Path("/nonexistent/libqxcb.so")) == []


def test_loader_error_names_the_library(tmp_path):
    broken = tmp_path / "libbroken.so.1"
    broken.write_bytes(b"garbage")
    assert platform_check._dlopen_missing(broken) == ["libbroken.so.1"]


@pytest.mark.parametrize(("environ", "expected"), [
    ({}, True),
    ({"QT_QPA_PLATFORM": "xcb"}, True),
    ({"QT_QPA_PLATFORM": "xcb:nograb"}, True),
    ({"QT_QPA_PLATFORM": "offscreen"}, False),
    ({"QT_QPA_PLATFORM": "wayland;xcb"}, False),
    ({"XDG_SESSION_TYPE": "wayland", "WAYLAND_DISPLAY": "wayland-0"}, False),
    ({"XDG_SESSION_TYPE": "x11"}, True),
])
def test_xcb_is_checked_only_when_qt_will_use_it(environ, expected, monkeypatch):
    monkeypatch.setattr(sys, "platform", "linux")
    assert platform_is_xcb(environ) is expected


def test_message_is_short_and_names_packages_for_both_families():
    message = missing_libraries_message(["libxcb-cursor.so.0", "libxcb-keysyms.so.1", "libxcb-randr.so.0"])
    lines = message.splitlines()
    assert len(lines) <= 5
    assert "libxcb-cursor0 libxcb-keysyms1 libxcb-randr0" in lines[1]
    assert "xcb-util-cursor xcb-util-keysyms libxcb" in lines[2]
    assert packages_for("libunknown.so.3") == ("libunknown.so.3", "libunknown.so.3")
