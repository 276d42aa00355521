"""``python -m ptycho_gui.cli``: the same as ``ptycho-inspect``."""

import sys

from ptycho_gui.cli import main

if __name__ == "__main__":
    sys.exit(main())
