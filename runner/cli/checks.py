"""`weir check`, and `weir run`: migrate, build, then check."""

from __future__ import annotations

from pathlib import Path

import click

from runner.cli.app import atomic_option, cli, connected_target, connection_for, project_for, shared_options
from runner.cli.models import report_build, watched_build_event
from runner.cli.observe import observe_options, observed


@cli.command()
@click.option("--select", "select", multiple=True, metavar="SELECTOR",
              help="Checks to run: name, tag:x or path:dir (repeatable). Default: all.")
@click.option("--threads", type=click.IntRange(min=1), default=1, show_default=True,
              help="Run checks in parallel on this many connections.")
@click.option("--junit", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help="Also write a JUnit XML report for CI (written even if the run stops early).")
@click.option("--json", "as_json", is_flag=True, help="Print the versioned JSON document instead of text.")
@click.option("--tap", "as_tap", is_flag=True, help="Print TAP (Test Anything Protocol) instead of text.")
@observe_options
@shared_options
@click.pass_context
def check(ctx: click.Context, select: tuple[str, ...], threads: int, junit: Path | None, as_json: bool,
          as_tap: bool, metrics: Path | None, log_format: str, progress: str, quiet: bool) -> None:
    """Run the SQL assertions in checks/; exit 1 if one fails, 2 if one cannot run."""
    from runner.checks import checks_to_run, json_results, render_text, run_checks, write_junit
    from runner.cli.reporting import reported
    from runner.project.gates import validate_gates
    from runner.reports.envelope import dumps

    if as_json and as_tap:
        raise click.UsageError("--json and --tap both print to stdout: choose one")
    with reported("check", junit, as_json) as envelope:
        weir_project = project_for(ctx)
        checks_to_run(weir_project, select, threads)  # a wrong file or selector is reported before connecting
        validate_gates(weir_project)  # so is a gate naming no model: `weir build` would refuse it
        with observed(weir_project, "check", metrics, log_format, progress, quiet) as (shown, outcome), \
                connection_for(ctx, weir_project, "weir check") as conn:
            envelope.target = connected_target(ctx)
            report = run_checks(conn, weir_project, select=select, threads=threads, on_progress=shown.message,
                                on_result=shown.check_result, on_start=shown.check_started)
            outcome.checks = report
            outcome.measure(conn, weir_project)
    if as_json:
        click.echo(dumps(envelope.document(report.status, report.exit_code, json_results(report))))
    elif as_tap:
        from runner.checks.report import render_tap

        click.echo(render_tap(report))
    else:
        click.echo(render_text(report))
    if junit:
        write_junit(report, junit, envelope.started)
    ctx.exit(report.exit_code)


@cli.command("run")
@click.option("--threads", type=click.IntRange(min=1), default=1, show_default=True,
              help="Build models and run checks on this many connections.")
@atomic_option
@click.option("--junit", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help="Also write a JUnit XML report: a suite each for migrate, build and check.")
@click.option("--json", "as_json", is_flag=True, help="Print the versioned JSON document instead of text.")
@observe_options
@shared_options
@click.pass_context
def run_all(ctx: click.Context, threads: int, atomic: bool | None, junit: Path | None, as_json: bool,
            metrics: Path | None, log_format: str, progress: str, quiet: bool) -> None:
    """Migrate, build (with gates), then check: what CI and `make check` call."""
    from runner.checks.report import render_text
    from runner.cli.reporting import reported
    from runner.pipeline import run_pipeline, validate_project
    from runner.reports.envelope import dumps

    with reported("run", junit, as_json) as envelope:
        weir_project = project_for(ctx)
        validate_project(weir_project)  # a malformed file is reported before connecting
        with observed(weir_project, "run", metrics, log_format, progress, quiet) as (shown, outcome), \
                connection_for(ctx, weir_project, "weir run") as conn:
            envelope.target = connected_target(ctx)
            report = run_pipeline(conn, weir_project, threads=threads, atomic=atomic, on_progress=shown.message,
                                  on_build_event=watched_build_event(shown), on_check_result=shown.check_result,
                                  on_check_start=shown.check_started)
            outcome.build, outcome.checks, outcome.failure = report.build, report.checks, report.migration_error
            outcome.measure(conn, weir_project)
    if junit:
        from runner.reports import junit as junit_xml

        junit_xml.write(report.junit_suites(), junit)
    if as_json:
        click.echo(dumps(envelope.document(report.status, report.exit_code, report.json_results())))
        ctx.exit(report.exit_code)
    if report.unit_tests is not None and not report.unit_tests.ok:
        from runner.unittests.report import render_text as render_unit_tests

        click.echo(render_unit_tests(report.unit_tests))
    if report.build is not None:
        report_build(report.build)
    if report.checks is not None:
        click.echo(render_text(report.checks))
    click.echo()
    for line in report.summary():
        click.echo(line)
    ctx.exit(report.exit_code)
