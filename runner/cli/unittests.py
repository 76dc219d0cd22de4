"""`weir test`: run the models' unit tests on fixture rows."""

from __future__ import annotations

from pathlib import Path

import click

from runner.cli.app import cli, connected_target, connection_for, project_for, shared_options


@cli.command("test")
@click.argument("selection", nargs=-1, metavar="[SELECTION]...")
@click.option("--in-place", is_flag=True,
              help="Run in the target database itself (each test rolled back) instead of a scratch database.")
@click.option("--junit", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help="Also write a JUnit XML report for CI.")
@click.option("--json", "as_json", is_flag=True, help="Print the versioned JSON document instead of text.")
@shared_options
@click.pass_context
def test(ctx: click.Context, selection: tuple[str, ...], in_place: bool, junit: Path | None, as_json: bool) -> None:
    """Run the models' unit tests (unit_tests/) on fixture rows; exit 1 if one fails.

    SELECTION picks models as `weir build --select` does (name, schema.name, tag:x,
    path:dir, + for up/downstream); their tests run. Default: every test. Each test runs
    in a transaction that is rolled back, on a scratch database of the target server
    (the embedded one by default) with the migrations applied.
    """
    from runner.cli.reporting import reported
    from runner.reports.envelope import dumps
    from runner.unittests.report import json_results, render_text, result_text
    from runner.unittests.run import run_unit_tests, tests_to_run

    def progress(result: object) -> None:
        click.echo(result_text(result).splitlines()[0], err=True)  # type: ignore[arg-type]

    with reported("test", junit, as_json) as envelope:
        weir_project = project_for(ctx)
        tests_to_run(weir_project, selection)  # a bad file or selector is reported before connecting
        with connection_for(ctx, weir_project, "weir test") as conn:
            envelope.target = connected_target(ctx)
            report = run_unit_tests(conn, weir_project, select=selection, in_place=in_place, on_result=progress)
    if junit:
        from runner.reports import junit as junit_xml
        from runner.unittests.report import junit_suite

        junit_xml.write([junit_suite(report, envelope.started)], junit)
    if as_json:
        status = "pass" if report.ok else "error" if report.exit_code > 1 else "fail"
        click.echo(dumps(envelope.document(status, report.exit_code, json_results(report))))
    else:
        click.echo(render_text(report))
    ctx.exit(report.exit_code)
