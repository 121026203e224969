"""``storyline dead-letters list|requeue``: parse, then delegate to worker.ops.deadletters."""

from __future__ import annotations

import json
import uuid

import typer
from rich.console import Console
from rich.table import Table

from worker.cli.common import DataDirOpt, PrefixOpt, RedisOpt, client_for, console, redis_for, settings_from
from worker.store.keys import Keys

dead_letters_app = typer.Typer(help="Inputs that could not be used: list them, requeue the ones whose file can be read again.",
                               no_args_is_help=True)


@dead_letters_app.command("list")
def dead_letters_list(
    count: int = typer.Option(50, "--count", "-n", help="How many, newest first."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per line instead of a table."),
    redis_url: str | None = RedisOpt, prefix: str | None = PrefixOpt, data_dir: str | None = DataDirOpt,
) -> None:
    """The newest dead letters: source, stage, error type, message, and what each was requeued as."""
    from worker.ops import deadletters  # deferred: keeps `storyline --help` fast
    with redis_for(settings_from(redis_url, prefix, data_dir)) as (settings, _embedded):
        entries = deadletters.latest(client_for(settings), Keys(settings.prefix), count)
    if as_json:
        for e in entries:
            print(json.dumps({**e.event, "entry_id": e.entry_id, "requeued_as": e.requeued_as}))
        return
    # three columns of two lines each, so 80 columns are enough: nothing cut that an operator
    # needs to act on (the event id to requeue is never truncated; the rest folds)
    table = Table(title=f"dead letters (newest {len(entries)})", show_lines=True)
    table.add_column("event id / when", no_wrap=True)
    table.add_column("stage / error", overflow="fold")
    table.add_column("source / message", overflow="fold", ratio=1)
    for e in entries:
        ev = e.event
        when = ev["occurred_at"][:19].replace("T", " ")
        requeued = f"\n[green]requeued as {e.requeued_as}[/]" if e.requeued_as else ""
        table.add_row(f"{ev['event_id']}\n[dim]{when}[/]", f"{ev['stage']}\n{ev['error_type']}",
                      f"{ev['source']['uri']}\n[dim]{ev['message'][:300]}[/]{requeued}")
    Console().print(table)


@dead_letters_app.command("requeue")
def dead_letters_requeue(
    event_ids: list[str] = typer.Argument(None, help="Event ids (from `storyline dead-letters list`)."),
    every: bool = typer.Option(False, "--all", help="Every dead letter not requeued yet (with --error-type: of that type)."),
    error_type: str | None = typer.Option(None, "--error-type", help="Only dead letters of this error type."),
    force: bool = typer.Option(False, "--force", help="Requeue even if requeued before."),
    redis_url: str | None = RedisOpt, prefix: str | None = PrefixOpt, data_dir: str | None = DataDirOpt,
) -> None:
    """Send dead-lettered file inputs back to the workers (the file is read again, here); prints
    one JSON line per dead letter: requeued (with its new doc id) or skipped (with why)."""
    from worker.ops import deadletters  # deferred: keeps `storyline --help` fast
    from worker.runtime.app import create_app  # deferred: keeps `storyline --help` fast
    from worker.runtime.sinks import CelerySink
    if not event_ids and not every:
        console.print("[red]error:[/] name event ids, or pass --all")
        raise typer.Exit(2)
    with redis_for(settings_from(redis_url, prefix, data_dir)) as (settings, _embedded):
        client, keys = client_for(settings), Keys(settings.prefix)
        entries = deadletters.find(client, keys, None if every else set(event_ids), error_type)
        run_id = uuid.uuid4().hex[:12]
        sink = CelerySink(create_app(settings), keys)
        results = deadletters.requeue(client, sink.ingest, settings, entries, run_id=run_id, force=force)
    for event_id in (event_ids or []):
        results.setdefault(event_id, {"status": "skipped", "reason": "no such dead letter"})
    for event_id, result in results.items():
        print(json.dumps({"event_id": event_id, **result, "run_id": run_id}))
    if event_ids and any(r["status"] != "requeued" for r in results.values()):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.add_typer(dead_letters_app, name="dead-letters")
