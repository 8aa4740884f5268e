"""`python -m minplt <command>`: see minplt/cli.py."""
import sys

from minplt.cli import main

sys.exit(main())
