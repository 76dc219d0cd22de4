"""Building one model, by kind: model.py dispatches and records; view, table, incremental and
scd2 each have a module; swap.py replaces a relation without readers seeing a half-built one;
common.py and result.py hold what the kinds share.
"""
