"""One or two examples at the end of every command's --help, kept together so they read as a set."""

from __future__ import annotations

import click

# command path -> (what to type, what it does)
EXAMPLES: dict[str, tuple[tuple[str, str], ...]] = {
    "build": (
        ("weir build --threads 2", "build what changed, two models at a time"),
        ("weir build --select +marts.fct_orders --full-refresh", "rebuild fct_orders and all it reads"),
    ),
    "check": (
        ("weir check --threads 4", "run every check on 4 connections"),
        ("weir check --select tag:orders --junit checks.xml", "CI: a JUnit file as well"),
        ("weir check --json | jq .results.counts", "the versioned JSON document"),
    ),
    "dag": (("weir dag airflow --check", "CI: fail when dags/weir_airflow.py is stale"),),
    "dag airflow": (
        ("weir dag airflow", "write dags/weir_airflow.py, a task per model and check"),
        ("weir dag airflow --check", "CI: exit 1 when the file is stale"),
    ),
    "dag dagster": (
        ("weir dag dagster --out defs/weir.py", "write a Dagster definitions module"),
        ("weir dag dagster --check", "CI: exit 1 when dags/weir_dagster.py is stale"),
    ),
    "db": (("weir db start && psql \"$(weir db url)\"", "open psql on the embedded server"),),
    "db start": (("weir db start", "start the embedded server in .weir/pgdata"),),
    "db stop": (("weir db stop", "stop it; the data stays in .weir/pgdata"),),
    "db status": (("weir db status || weir db start", "start the embedded server unless it runs"),),
    "db url": (("psql \"$(weir db url)\"", "connect psql to the embedded server"),),
    "docs": (
        ("weir docs", "write docs/data/ from a throwaway build of the project"),
        ("weir docs --check", "CI: exit 1 naming each doc that is not current"),
    ),
    "grants": (
        ("weir grants --role analyst", "print the masked views and GRANTs for role analyst"),
        ("weir grants --apply", "run them for setup.cfg's analyst_role, in one transaction"),
    ),
    "lineage": (
        ("weir lineage marts.fct_orders", "what fct_orders reads, and what reads it"),
        ("weir lineage fct_orders.order_date", "the columns order_date is computed from, down to sources"),
        ("weir lineage fct_orders.order_date --json", "the same tree as JSON"),
    ),
    "plan": (
        ("weir plan", "what `weir run` would do, and which changes break a reader"),
        ("weir plan --json --allow-breaking | jq .results.models", "CI: accept breaking changes explicitly"),
    ),
    "lint": (
        ("weir lint", "every file, as migrate, build and check read them"),
        ("weir lint --sarif lint.sarif", "also SARIF for GitHub code scanning"),
    ),
    "ls": (("weir ls", "every model: kind, upstream models, last build"),),
    "migrate": (
        ("weir migrate --dry-run", "what would change, in a rolled-back transaction"),
        ("weir --dsn \"$DATABASE_URL\" migrate --to 12", "apply up to migration 0012"),
    ),
    "new": (("weir new migration \"add orders\"", "create the next NNNN_add_orders.sql pair"),),
    "new migration": (("weir new migration \"add orders\"", "create the next NNNN_add_orders.sql pair"),),
    "retain": (
        ("weir retain --dry-run", "what each model's retain directive would remove now"),
        ("weir retain --select marts.fact_order_items", "drop its expired partitions (recorded in weir)"),
    ),
    "rollback": (
        ("weir rollback --dry-run", "what undoing the last migration would change"),
        ("weir rollback --to 0010", "undo every migration after 0010"),
    ),
    "test": (
        ("weir test", "every unit test, on a scratch database of the embedded server"),
        ("weir test marts.fact_order_items --junit unit.xml", "one model's tests; CI: a JUnit file"),
    ),
    "run": (
        ("weir run", "migrate, build and check (embedded server)"),
        ("weir --dsn \"$DATABASE_URL\" run --junit weir.xml", "what CI calls"),
        ("weir run -q --metrics weir.prom --log-format json", "for a scheduler: metrics, JSON logs"),
    ),
    "freshness": (
        ("weir freshness", "every model's lag against its SLA; exit 1 on a breach"),
        ("weir freshness marts.fct_orders --json", "one model, as JSON"),
    ),
    "alert": (
        ("weir alert \"nightly load is late\" --severity warn", "tell the alert sinks"),
        ("weir alert \"task weir.marts.fact_orders killed\" --model marts.fact_orders", "a failure callback's"),
    ),
    "seed": (
        ("weir seed", "load every seed whose CSV changed"),
        ("weir seed --show-types --select ref.countries", "the column types it loads with"),
    ),
    "sample": (("weir sample load --scale 100000", "fill the example's raw schema"),),
    "sample load": (("weir sample load --scale 100000", "fill the example's raw schema"),),
    "sample change": (("weir sample change --batch 2", "apply the second change batch"),),
    "status": (
        ("weir status", "migrations, and the latest check and gate results"),
        ("weir status --json | jq '.results.migrations[].state'", "the same as JSON"),
    ),
    "verify": (("weir verify", "prove every rollback on a scratch database"),),
}


def add_examples(group: click.Group, prefix: str = "") -> None:
    """Set the epilog of every command under `group` from EXAMPLES."""
    for name, command in group.commands.items():
        path = f"{prefix}{name}"
        examples = EXAMPLES.get(path)
        if examples:
            width = max(len(typed) for typed, _ in examples)
            lines = [f"  {typed:<{width}}  # {what}" for typed, what in examples]
            command.epilog = "\b\nExamples:\n" + "\n".join(lines)
        if isinstance(command, click.Group):
            add_examples(command, path + " ")
