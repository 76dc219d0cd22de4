"""`weir grants`: masked views of the warehouse for an analyst role, and the GRANTs to see only them."""

from __future__ import annotations

import click

from runner.cli.app import cli, connection_for, project_for, shared_options
from runner.errors import ConfigError


@cli.command()
@click.option("--role", metavar="ROLE", help="The analyst role (default: [weir] analyst_role in setup.cfg).")
@click.option("--apply", "apply_now", is_flag=True,
              help="Run the statements (one transaction) instead of printing them.")
@shared_options
@click.pass_context
def grants(ctx: click.Context, role: str | None, apply_now: bool) -> None:
    """Give an analyst role masked views of every managed relation (PII masked), and nothing else."""
    from runner.pii.grants import apply_grants, plan_grants

    weir_project = project_for(ctx)
    role = role or weir_project.settings.analyst_role
    if not role:
        raise ConfigError("no analyst role: pass --role ROLE or set analyst_role in setup.cfg's [weir] section")
    with connection_for(ctx, weir_project, "weir grants", only_reads=not apply_now) as conn:
        planned = plan_grants(conn, weir_project, role)
        if apply_now:
            apply_grants(conn, planned)
            masked = sum(len(columns) for columns in planned.masked.values())
            click.echo(f"{role} sees {len(planned.views)} masked views ({masked} PII columns masked)"
                       " and no table or view of the base schemas")
            return
        for statement in planned.statements:
            click.echo(statement.as_string(conn) + ";")
