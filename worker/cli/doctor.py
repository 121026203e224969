"""``storyline doctor``: print the checks of worker.runtime.doctor."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from worker.cli.common import DataDirOpt, PrefixOpt, RedisOpt, client_for, redis_for, settings_from


def doctor(
    redis_url: str | None = RedisOpt, prefix: str | None = PrefixOpt, data_dir: str | None = DataDirOpt,
) -> None:
    """Check the connected Redis (eviction policy, persistence, memory), workers and streams."""
    from worker.runtime.doctor import run_checks  # deferred: keeps `storyline --help` fast
    with redis_for(settings_from(redis_url, prefix, data_dir)) as (settings, _embedded):
        findings = run_checks(client_for(settings), settings)
    table = Table(title="storyline doctor")
    for col in ("", "check", "detail"):
        table.add_column(col)
    marks = {"ok": "[green]ok[/]", "warn": "[yellow]warn[/]", "error": "[red]error[/]"}
    for f in findings:
        table.add_row(marks[f.level], f.check, f.detail)
    Console().print(table)
    if any(f.level == "error" for f in findings):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command()(doctor)
