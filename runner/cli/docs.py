"""`weir docs`: write docs/data/ from the project's SQL and catalog, or check that it is current."""

from __future__ import annotations

import os
from pathlib import Path

import click

from runner.cli.app import cli, connection_for, project_for, say, shared, shared_options


@cli.command()
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), metavar="DIR",
              help="Directory to write. Default: docs/data/ in the project.")
@click.option("--check", "check", is_flag=True, help="Write nothing; exit 1 naming each file that is not current.")
@click.option("--strict", is_flag=True, help="Exit 1 when a column has no description, naming each.")
@click.option("--scratch-server", metavar="DSN",
              help="Server to build the throwaway database on (a role with CREATEDB). Default: the embedded one.")
@shared_options
@click.pass_context
def docs(ctx: click.Context, out: Path | None, check: bool, strict: bool, scratch_server: str | None) -> None:
    """Write the data model, ERD, lineage, pipelines, quality, runbook, schema and contracts docs.

    Without --dsn (or WEIR_DSN) the catalog comes from a throwaway database on the embedded
    server: migrations applied and models built with no data, then dropped. With one, the
    live database is documented, with row counts and run history.
    """
    from runner.db.connection import connect
    from runner.db.embedded import ensure_running
    from runner.docs import check_docs, document_live, document_throwaway, write_all
    from runner.errors import DocsStale

    project = project_for(ctx)
    _ = project.gates  # every file read, and a bad one reported, before any database
    target = out if out is not None else project.root / "docs" / "data"
    if shared(ctx).dsn or os.environ.get("WEIR_DSN"):
        with connection_for(ctx, project, "weir docs", only_reads=True) as conn:
            generated = document_live(conn, project)
    else:
        server = connect(scratch_server or ensure_running(project.settings), "weir docs")
        try:
            generated = document_throwaway(server, project)
        finally:
            server.close()
    if check:
        drifts = check_docs(target, generated)
        for drift in drifts:
            click.echo(f"{target / drift.name}: not current")
            for line in drift.change.splitlines():
                click.echo(f"  {line}")
        if drifts:
            raise DocsStale(f"{len(drifts)} file(s) of {target} are not what weir docs generates"
                            f" ({', '.join(d.name for d in drifts)}); run weir docs and commit them")
    else:
        write_all(target, generated.files)
        say(f"wrote {len(generated.files)} files to {target}")
    if generated.undocumented:
        missing = ", ".join(f"{u.relation}.{u.column} ({u.where})" for u in generated.undocumented)
        if strict:
            raise DocsStale(f"{len(generated.undocumented)} undocumented column(s): {missing}")
        say(f"{len(generated.undocumented)} undocumented column(s), listed in DATA-MODEL.md")
