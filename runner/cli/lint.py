"""`weir lint`: the project's files checked without a database, for pre-commit and CI."""

from __future__ import annotations

from pathlib import Path

import click

from runner.cli.app import cli, project_for, say, shared_options
from runner.errors import EXIT_ERROR, EXIT_FAIL


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--sarif", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help="Also write every finding as SARIF 2.1.0 (GitHub code scanning).")
@shared_options
@click.pass_context
def lint(ctx: click.Context, paths: tuple[Path, ...], sarif: Path | None) -> None:
    """Read every migration, model and check as Weir runs them; squawk the forward migrations.

    With PATHS (as pre-commit passes the files it changed), squawk reads only the forward
    migrations among them; Weir's own reading always covers the whole project, since one
    changed model can make a cycle with another.
    """
    from runner.lint import RULES_URL, sarif_runs
    from runner.lint import lint as lint_project

    weir_project = project_for(ctx)
    report = lint_project(weir_project, paths)
    for line in [*report.errors, *map(str, report.findings)]:
        click.echo(line)
    if report.errors:
        say(f"{len(report.errors)} problem{'s' if len(report.errors) > 1 else ''} in the project")
    if sarif is not None:
        from runner.reports.sarif import write

        write(sarif_runs(report, weir_project), sarif)
    read = ", ".join(f"{count} {kind}" for kind, count in report.counts.items())
    squawk = sum(finding.tool == "squawk" for finding in report.findings)
    say(f"read {read or 'no files'}: {len(report.errors)} refused;"
        f" squawk read {report.squawked} forward migration(s): {squawk} finding(s)")
    if report.sqlfluffed is not None:
        say(f"sqlfluff read {report.sqlfluffed} file(s): {len(report.findings) - squawk} finding(s)")
    if report.findings:
        say(f"rules: {RULES_URL}; let one statement through with -- squawk-ignore <rule>,"
            " or a rule everywhere with [weir] squawk_exclude")
    ctx.exit(EXIT_ERROR if report.errors else EXIT_FAIL if report.findings else 0)
