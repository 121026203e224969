"""``storyline runs show RUN_ID``: what became of each input of a run (a replay, a submit, a feed
poll), read from the run's outcome hash (kept 24 h, worker/store/runs.py)."""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.table import Table

from worker.cli.common import DataDirOpt, PrefixOpt, RedisOpt, client_for, console, redis_for, settings_from
from worker.store.keys import Keys

runs_app = typer.Typer(help="Runs (a replay, a submit, a feed poll): what became of each input.", no_args_is_help=True)

#: the fields of an outcome worth a column, after its status
_DETAIL = ("article_id", "duplicate_of", "thread_id", "error_type", "entries", "new", "message")


@runs_app.command("show")
def runs_show(
    run_id: str = typer.Argument(..., help="The run id `submit`, `replay` or `feeds poll` printed."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per input instead of a table."),
    redis_url: str | None = RedisOpt, prefix: str | None = PrefixOpt, data_dir: str | None = DataDirOpt,
) -> None:
    """Show the outcome of every input of a run: article, duplicate (of what), dead letter (why),
    unchanged (fetched before, not modified since), or a feed poll's result."""
    with redis_for(settings_from(redis_url, prefix, data_dir)) as (settings, _embedded):
        raw = client_for(settings).hgetall(Keys(settings.prefix).run(run_id))
    outcomes = sorted(({"input": k.decode(), **json.loads(v)} for k, v in raw.items()), key=lambda o: o["input"])
    if not outcomes:
        console.print(f"[yellow]no outcome recorded for run {run_id}[/]: its inputs are still queued or in flight, "
                      f"the id is wrong, or the run is older than {settings.run_ttl_seconds // 3600} h "
                      "(STORYLINE_RUN_TTL_SECONDS)")
        raise typer.Exit(1)
    if as_json:
        for outcome in outcomes:
            print(json.dumps(outcome))
        return
    table = Table(title=f"run {run_id}: {len(outcomes)} input(s)")
    for col, options in (("input", {"overflow": "fold", "max_width": 24}), ("status", {}),
                         ("detail", {"overflow": "fold"})):
        table.add_column(col, **options)
    for outcome in outcomes:
        detail = ", ".join(f"{k} {outcome[k]}" for k in _DETAIL if outcome.get(k) not in (None, ""))
        table.add_row(outcome["input"], outcome.get("status", "?"), detail)
    Console().print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(runs_app, name="runs")
