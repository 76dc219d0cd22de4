"""`python -m runner.cli`: the weir command."""

import sys

from runner.cli import main

sys.exit(main())
