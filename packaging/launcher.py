"""Frozen entry point of the PyInstaller build: the same as the ``ptycho-gui`` command."""

import sys

from ptycho_gui.app.main import main

if __name__ == "__main__":
    sys.exit(main())
