"""``python -m ptycho_gui.app``: the same as the ``ptycho-gui`` command."""

import sys

from ptycho_gui.app.main import main

sys.exit(main())
