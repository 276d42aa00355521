"""Checks, before the QApplication exists, that Qt's xcb platform plugin can load on this Linux desktop.

PySide6's xcb plugin needs system libraries that pip cannot install (``libxcb-cursor0`` since Qt 6.5,
and on minimal images ``libxcb-icccm4``, ``libxcb-keysyms1`` ...). Without them Qt aborts with a core
dump; this module turns that into a short message naming the libraries and the packages to install.
"""

from __future__ import annotations

import ctypes
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from PySide6.QtCore import QLibraryInfo

PACKAGES: dict[str, tuple[str, str]] = {
    "libxcb-cursor.so.0": ("libxcb-cursor0", "xcb-util-cursor"),
    "libxcb-icccm.so.4": ("libxcb-icccm4", "xcb-util-wm"),
    "libxcb-keysyms.so.1": ("libxcb-keysyms1", "xcb-util-keysyms"),
    "libxcb-image.so.0": ("libxcb-image0", "xcb-util-image"),
    "libxcb-render-util.so.0": ("libxcb-render-util0", "xcb-util-renderutil"),
    "libxcb-util.so.1": ("libxcb-util1", "xcb-util"),
    "libxkbcommon-x11.so.0": ("libxkbcommon-x11-0", "libxkbcommon-x11"),
    "libxkbcommon.so.0": ("libxkbcommon0", "libxkbcommon"),
    "libX11-xcb.so.1": ("libx11-xcb1", "libX11-xcb"),
    "libX11.so.6": ("libx11-6", "libX11"),
    "libEGL.so.1": ("libegl1", "libglvnd-egl"),
    "libGL.so.1": ("libgl1", "libglvnd-glx"),
    "libfontconfig.so.1": ("libfontconfig1", "fontconfig"),
    "libfreetype.so.6": ("libfreetype6", "freetype"),
    "libdbus-1.so.3": ("libdbus-1-3", "dbus-libs"),
    "libglib-2.0.so.0": ("libglib2.0-0", "glib2"),
}
"""Shared library -> (Debian/Ubuntu package, Fedora/RHEL package)."""

_XCB_CORE = re.compile(r"^libxcb(?:-(randr|render|shape|shm|sync|xfixes|xkb|xinerama|glx))?\.so\.\d+$")
_ERROR_LIBRARY = re.compile(r"([^\s:/]+\.so[.\d]*)\s*:")


def packages_for(library: str) -> tuple[str, str]:
    """The Debian/Ubuntu and Fedora/RHEL packages that provide ``library`` (its own name when unknown)."""
    if library in PACKAGES:
        return PACKAGES[library]
    core = _XCB_CORE.match(library)
    if core:
        suffix = core.group(1)
        return (f"libxcb-{suffix}0" if suffix else "libxcb1", "libxcb")
    return (library, library)


def platform_is_xcb(environ: os._Environ | dict[str, str] = os.environ) -> bool:
    """Whether Qt will try the xcb (X11) plugin first: Linux, and QT_QPA_PLATFORM unset or starting with xcb."""
    if not sys.platform.startswith("linux"):
        return False
    requested = environ.get("QT_QPA_PLATFORM", "").strip()
    if requested:
        return requested.split(";")[0].split(":")[0] == "xcb"
    wayland_session = environ.get("XDG_SESSION_TYPE") == "wayland" and bool(environ.get("WAYLAND_DISPLAY"))
    return not wayland_session


def xcb_plugin_path() -> Path:
    """The xcb platform plugin of the installed (or frozen) Qt."""
    override = os.environ.get("QT_QPA_PLATFORM_PLUGIN_PATH")
    folder = Path(override) if override else Path(QLibraryInfo.path(QLibraryInfo.LibraryPath.PluginsPath)) / "platforms"
    return folder / "libqxcb.so"


def _ldd_missing(plugin: Path) -> list[str] | None:
    """Libraries the dynamic loader cannot load for ``plugin`` according to ldd; None when ldd is unavailable."""
    ldd = shutil.which("ldd")
    if ldd is None:
        return None
    result = subprocess.run([ldd, str(plugin)], capture_output=True, text=True, timeout=30, check=False)
    missing = [line.split("=>")[0].strip() for line in result.stdout.splitlines() if "not found" in line]
    for line in (result.stdout + result.stderr).splitlines():
        if "error while loading shared libraries" in line:
            named = _ERROR_LIBRARY.findall(line.split("error while loading shared libraries:", 1)[1])
            missing.extend(Path(name).name for name in named[:1])
    return list(dict.fromkeys(missing))


def _dlopen_missing(plugin: Path) -> list[str]:
    """The library named by the loader's error when ``plugin`` cannot be opened (at most one)."""
    try:
        ctypes.CDLL(str(plugin))
    except OSError as exc:
        named = _ERROR_LIBRARY.findall(str(exc))
        return [Path(named[0]).name] if named else [str(exc)]
    return []


def missing_xcb_libraries(plugin: Path | None = None) -> list[str]:
    """System libraries the xcb plugin needs but cannot load (empty when it loads or is not installed)."""
    plugin = plugin or xcb_plugin_path()
    if not plugin.is_file():
        return []
    found = _ldd_missing(plugin)
    return found if found is not None else _dlopen_missing(plugin)


def missing_libraries_message(missing: list[str], program: str = "ptycho-gui") -> str:
    """At most five lines: what is missing, the packages for Debian/Ubuntu and Fedora/RHEL, the alternatives."""
    debian = " ".join(dict.fromkeys(packages_for(lib)[0] for lib in missing))
    fedora = " ".join(dict.fromkeys(packages_for(lib)[1] for lib in missing))
    return "\n".join([
        f"{program}: Qt's X11 (xcb) platform plugin cannot load; missing system libraries: {', '.join(missing)}",
        f"  Debian/Ubuntu: sudo apt-get install {debian}",
        f"  Fedora/RHEL:   sudo dnf install {fedora}",
        "  Or pick another Qt platform: QT_QPA_PLATFORM=wayland (Wayland desktops), "
        "QT_QPA_PLATFORM=offscreen (no window; --screenshot still works)",
    ])


def no_display_message(program: str = "ptycho-gui") -> str:
    """The message for an X11 platform with no display to connect to."""
    return "\n".join([
        f"{program}: no X display to open the window on (DISPLAY is not set)",
        "  Run it from a desktop session, under xvfb-run, or with QT_QPA_PLATFORM=offscreen "
        "(no window; --screenshot still works)",
    ])


def platform_problem(environ: os._Environ | dict[str, str] = os.environ, program: str = "ptycho-gui") -> str | None:
    """Why Qt would abort on start (missing xcb libraries, no display), or None when it can start."""
    if not platform_is_xcb(environ):
        return None
    missing = missing_xcb_libraries()
    if missing:
        return missing_libraries_message(missing, program)
    if not environ.get("DISPLAY"):
        return no_display_message(program)
    return None
