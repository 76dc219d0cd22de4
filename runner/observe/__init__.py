"""Watching runs from outside: freshness against SLAs, alerts to sinks, metrics, structured logs, progress."""
