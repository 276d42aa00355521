"""``python -m ptycho_gui.cli``: the same as ``ptycho-inspect``."""

from ptycho_gui.cli import entry

if __name__ == "__main__":
    entry()
