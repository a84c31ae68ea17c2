"""``python -m quarch``: the same as the ``quarch`` command."""

import sys

from quarch.cli import main

if __name__ == "__main__":
    sys.exit(main())
