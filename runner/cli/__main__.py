"""`python -m runner.cli`: the weir command."""

from runner.cli import main

main()
