"""Packaging files: the desktop entry, AppStream metainfo, icons, PyInstaller spec and build script (no build)."""

from __future__ import annotations

import configparser
import os
import shlex
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from PIL import Image

from ptycho_gui import __version__
from ptycho_gui.demo import CHECKPOINT_FILE, DATASET_FILE

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: pytest depends on tomli there
    import tomli as tomllib

REPO = Path(__file__).resolve().parents[1]
PACKAGING = REPO / "packaging"
DESKTOP = PACKAGING / "ptycho-gui.desktop"
METAINFO = PACKAGING / "io.github.ptycho_gui.metainfo.xml"
SPEC = PACKAGING / "ptycho-gui.spec"
ICONS = REPO / "resources" / "icons"


@pytest.fixture(scope="module")
def pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())


@pytest.fixture(scope="module")
def desktop_entry() -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str
    parser.read_string(DESKTOP.read_text())
    return parser["Desktop Entry"]


def test_desktop_entry_has_the_required_keys(desktop_entry):
    assert desktop_entry["Type"] == "Application"
    assert desktop_entry["Name"] == "ptycho-gui"
    assert desktop_entry["Icon"] == "ptycho-gui"
    assert desktop_entry["Terminal"] == "false"
    categories = desktop_entry["Categories"].rstrip(";").split(";")
    assert "Science" in categories
    assert desktop_entry["Categories"].endswith(";")


def test_desktop_entry_execs_a_script_declared_in_pyproject(desktop_entry, pyproject):
    program, *arguments = shlex.split(desktop_entry["Exec"])
    scripts = {**pyproject["project"]["scripts"], **pyproject["project"]["gui-scripts"]}
    assert program in scripts
    assert program in pyproject["project"]["gui-scripts"], "the desktop entry should start the GUI script"
    assert arguments == ["%F"]


def test_metainfo_is_valid_xml_naming_the_desktop_file_and_this_release(pyproject):
    root = ET.parse(METAINFO).getroot()
    assert root.tag == "component" and root.get("type") == "desktop-application"
    launchable = root.find("launchable")
    assert launchable.get("type") == "desktop-id" and launchable.text == DESKTOP.name
    assert root.findtext("project_license") == pyproject["project"]["license"]
    assert root.find("description/p") is not None
    assert [r.get("version") for r in root.findall("releases/release")] == [__version__]


def test_metainfo_screenshot_is_in_the_repository():
    images = [element.text for element in ET.parse(METAINFO).getroot().findall("screenshots/screenshot/image")]
    assert images == ["docs/screenshot-main.png"]
    assert (REPO / images[0]).is_file()


def test_icons_exist_and_the_png_is_256_square():
    svg = ET.parse(ICONS / "ptycho-gui.svg").getroot()
    assert svg.tag == "{http://www.w3.org/2000/svg}svg"
    assert (svg.get("width"), svg.get("height")) == ("256", "256")
    with Image.open(ICONS / "ptycho-gui.png") as png:
        assert png.format == "PNG"
        assert png.size == (256, 256)


def test_spec_bundles_the_demo_data_and_the_app_package():
    text = SPEC.read_text()
    compile(text, str(SPEC), "exec")
    assert '"ptycho_gui/demo/data"' in text
    assert f'"{CHECKPOINT_FILE}"' in text and f'"{DATASET_FILE}"' in text
    assert 'REPO / "app", PACKAGE / "app"' in text, "app/ must be staged as ptycho_gui/app"
    assert "hiddenimports=package_modules()" in text
    assert "from ptycho_gui.app.main import main" in (PACKAGING / "launcher.py").read_text()


def test_build_script_smoke_tests_the_built_program_on_the_demo():
    script = PACKAGING / "build.sh"
    assert os.access(script, os.X_OK)
    subprocess.run(["bash", "-n", str(script)], check=True)
    text = script.read_text()
    for flag in ("--demo", "--run", "--screenshot", "--quit-when-done", "xvfb-run", "QT_QPA_PLATFORM=offscreen"):
        assert flag in text
    assert "packaging/ptycho-gui.spec" in text
