"""`python -m playground`: see playground/cli/main.py."""

import sys

from playground.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
