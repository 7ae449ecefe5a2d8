"""``python -m xproc``: the command-line client (see ``xproc._cli``)."""

import sys

from ._cli import main

sys.exit(main())
