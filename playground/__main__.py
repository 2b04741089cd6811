"""`python -m playground`: see playground/cli.py."""

import sys

from playground.cli import main

if __name__ == "__main__":
    sys.exit(main())
