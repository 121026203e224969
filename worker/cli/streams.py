"""``storyline tail`` and ``storyline threads``: read the output streams and the thread state."""

from __future__ import annotations

import json
import os
import time
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from worker.cli.common import DataDirOpt, PrefixOpt, RedisOpt, client_for, console, redis_for, settings_from
from worker.ops.streams import ensure_group, follow
from worker.store.keys import Keys


def tail(
    stream: str = typer.Argument("articles", help="articles, duplicates, threads or dead-letter."),
    group: str = typer.Option("storyline-tail", "--group", help="Consumer group (created at the stream's start if missing)."),
    consumer: str = typer.Option("", "--consumer", help="Consumer name (default: host-pid)."),
    count: int = typer.Option(0, "--count", "-n", help="Stop after this many events (0: follow forever)."),
    block_ms: int = typer.Option(5000, "--block", help="How long one read waits for new events, in ms."),
    redis_url: str | None = RedisOpt, prefix: str | None = PrefixOpt, data_dir: str | None = DataDirOpt,
) -> None:
    """Follow a stream through a consumer group, printing one JSON event per line and acking it."""
    streams = [key.removeprefix("_:") for key in Keys("_").output_streams]  # short names
    if stream not in streams:
        # refused before touching Redis: XREADGROUP on a made-up name would create a stray
        # stream and group, then block forever on it
        console.print(f"[red]error:[/] no stream {stream!r}; choose one of: {', '.join(streams)}")
        raise typer.Exit(2)
    with redis_for(settings_from(redis_url, prefix, data_dir)) as (settings, _embedded):
        client = client_for(settings)
        key = Keys(settings.prefix).stream(stream)
        name = consumer or f"{os.uname().nodename}-{os.getpid()}"
        ensure_group(client, key, group)
        try:
            for event in follow(client, key, group, name, count=count, block_ms=block_ms):
                print(event, flush=True)
        except KeyboardInterrupt:
            pass


def threads(
    limit: int = typer.Option(50, "--limit", help="How many threads, most recently active first."),
    level: str = typer.Option("thread", "--level", help="thread or story."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    redis_url: str | None = RedisOpt, prefix: str | None = PrefixOpt, data_dir: str | None = DataDirOpt,
) -> None:
    """List threads (or stories) with their size and label."""
    from worker.threads.state import ThreadState  # deferred: keeps `storyline --help` fast
    if level not in ("thread", "story"):
        console.print(f"[red]error:[/] --level must be thread or story, not {level!r}")
        raise typer.Exit(2)
    with redis_for(settings_from(redis_url, prefix, data_dir)) as (settings, _embedded):
        state = ThreadState(client_for(settings), Keys(settings.prefix), settings.threads)
        rows = state.list_clusters(level, limit)
    if as_json:
        print(json.dumps(rows))
        return
    table = Table(title=f"{level}s")
    for col in ("id", "size", "label", "key terms", "last seen"):
        table.add_column(col)
    for row in rows:
        r: dict[str, Any] = dict(row)  # list_clusters' rows: id, size, label, key_terms, last_seen
        table.add_row(r["id"], str(r["size"]), r["label"], ", ".join(r["key_terms"][:6]),
                      time.strftime("%Y-%m-%d %H:%M", time.gmtime(r["last_seen"])))
    Console().print(table)


def register(app: typer.Typer) -> None:
    app.command()(tail)
    app.command()(threads)
