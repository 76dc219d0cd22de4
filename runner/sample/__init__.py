"""The example warehouse's deterministic sample data (data.py and its SQL); only the CLI and tests use it."""
