"""``storyline feeds add|list|remove``, ``submit``, ``consume`` and ``beat``: the sources
commands. They parse and delegate to the sources stage (feeds, requests, files) and the
runtime (schedule, sinks, beat process)."""

from __future__ import annotations

import json
import re
import signal
import threading
import time
import uuid

import typer
from rich.console import Console
from rich.table import Table

from worker.cli.common import DataDirOpt, PrefixOpt, RedisOpt, client_for, console, redis_for, settings_from
from worker.errors import BadFeed
from worker.runtime.app import create_app
from worker.runtime.processes import forward_sigterm, start_beat_process, stop_worker_process
from worker.runtime.schedule import subscribe, unsubscribe
from worker.runtime.sinks import build_consumer
from worker.sources.feeds import FeedRegistry
from worker.sources.files import expand_paths
from worker.sources.requests import requests_for
from worker.sources.requests import submit as xadd_requests
from worker.store.keys import Keys

feeds_app = typer.Typer(help="Subscribed feeds (RSS, Atom, JSON Feed), polled on the beat schedule.",
                        no_args_is_help=True)

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> int:
    """'90' or '90s' -> 90, '10m' -> 600, '1h30m' -> 5400 (seconds)."""
    text = text.strip().lower()
    if text.isdigit():
        return int(text)
    parts = re.findall(r"(\d+)\s*([smhd])", text)
    if not parts or "".join(n + u for n, u in parts) != re.sub(r"\s+", "", text):
        raise typer.BadParameter(f"{text!r} is not a duration like 90s, 10m, 1h or 1h30m")
    return sum(int(n) * _UNITS[u] for n, u in parts)


def _ago(ts: float) -> str:
    if not ts:
        return "never"
    seconds = max(0, int(time.time() - ts))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return f"{seconds}s ago"


@feeds_app.command("add")
def feeds_add(
    url: str = typer.Argument(..., help="Feed URL (RSS, Atom or JSON Feed)."),
    every: str = typer.Option("10m", "--every", help="Polling interval: 90s, 10m, 1h ..."),
    poll_now: bool = typer.Option(True, "--poll-now/--no-poll-now", help="Send a first poll at once."),
    redis_url: str | None = RedisOpt, prefix: str | None = PrefixOpt, data_dir: str | None = DataDirOpt,
) -> None:
    """Subscribe to a feed (or change its interval) and put it on the beat schedule."""
    seconds = parse_duration(every)
    with redis_for(settings_from(redis_url, prefix, data_dir)) as (settings, _embedded):
        if seconds < settings.feeds.min_every_seconds:
            console.print(f"[red]error:[/] --every {every} is below the minimum of {settings.feeds.min_every_seconds}s "
                          "(STORYLINE_FEEDS__MIN_EVERY_SECONDS)")
            raise typer.Exit(2)
        registry = FeedRegistry(client_for(settings), Keys(settings.prefix))
        try:
            feed = subscribe(create_app(settings), registry, url, seconds, poll_now=poll_now)
        except BadFeed as exc:
            console.print(f"[red]error:[/] {exc}")
            raise typer.Exit(2) from exc
        console.print(f"feed {feed.feed_id} polled every {seconds}s: {feed.url}")
        print(feed.feed_id)


@feeds_app.command("list")
def feeds_list(
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    redis_url: str | None = RedisOpt, prefix: str | None = PrefixOpt, data_dir: str | None = DataDirOpt,
) -> None:
    """Subscribed feeds with their last poll, status and item count."""
    with redis_for(settings_from(redis_url, prefix, data_dir)) as (settings, _embedded):
        feeds = FeedRegistry(client_for(settings), Keys(settings.prefix)).all()
    if as_json:
        print(json.dumps([f.__dict__ for f in feeds]))
        return
    table = Table(title=f"{len(feeds)} feed(s)")
    for col in ("id", "url", "every", "last poll", "status", "items", "errors", "last error"):
        table.add_column(col)
    for f in feeds:
        status = f.status + (" (backing off)" if f.backoff_until > time.time() else "")
        table.add_row(f.feed_id, f.url, f"{f.every_seconds}s", _ago(f.last_poll), status, str(f.item_count),
                      str(f.error_count), f.last_error[:60])
    Console().print(table)


@feeds_app.command("remove")
def feeds_remove(
    url_or_id: str = typer.Argument(..., help="Feed URL or id (from feeds list)."),
    redis_url: str | None = RedisOpt, prefix: str | None = PrefixOpt, data_dir: str | None = DataDirOpt,
) -> None:
    """Unsubscribe: drop the feed's schedule entry and its state."""
    with redis_for(settings_from(redis_url, prefix, data_dir)) as (settings, _embedded):
        feed = unsubscribe(create_app(settings), FeedRegistry(client_for(settings), Keys(settings.prefix)), url_or_id)
        if feed is None:
            console.print(f"[red]error:[/] no feed {url_or_id!r} (see: storyline feeds list)")
            raise typer.Exit(1)
        console.print(f"removed feed {feed.feed_id}: {feed.url}")


def submit(
    items: list[str] = typer.Argument(..., help="URLs to fetch, and files or folders (.txt, .html, .htm) to ingest."),
    run_id: str | None = typer.Option(None, "--run-id", help="Record outcomes under this run id (default: a new one, printed)."),
    redis_url: str | None = RedisOpt, prefix: str | None = PrefixOpt, data_dir: str | None = DataDirOpt,
) -> None:
    """Write ingest requests to the request stream (<prefix>:requests); `storyline consume` hands them on."""
    run_id = run_id or uuid.uuid4().hex[:12]
    urls = [i for i in items if re.match(r"^https?://", i, re.I)]
    try:
        files = expand_paths([i for i in items if i not in urls])
    except FileNotFoundError as exc:
        console.print(f"[red]error:[/] no such file or folder, and not an http(s) URL: {exc}")
        raise typer.Exit(2) from exc
    with redis_for(settings_from(redis_url, prefix, data_dir)) as (settings, _embedded):
        entries, skipped = requests_for(urls, files, run_id, max_bytes=settings.limits.max_bytes)
        for path, reason in skipped:
            console.print(f"[yellow]skipped[/] {path}: {reason}")
        ids = xadd_requests(client_for(settings), Keys(settings.prefix), entries, maxlen=settings.streams.maxlen)
    console.print(f"{len(ids)} request(s) on {Keys(settings.prefix).requests}, run {run_id}")
    print(json.dumps({"run_id": run_id, "requests": ids}))


def consume(
    name: str = typer.Option("", "--name", help="Consumer name in the group (default: host-pid)."),
    once: bool = typer.Option(False, "--once", help="Process what is waiting, then exit."),
    redis_url: str | None = RedisOpt, prefix: str | None = PrefixOpt, data_dir: str | None = DataDirOpt,
) -> None:
    """Read the request stream in its consumer group and hand each request to the workers.
    Run several (anywhere): entries of a consumer that died are reclaimed by the others."""
    with redis_for(settings_from(redis_url, prefix, data_dir)) as (settings, _embedded):
        consumer = build_consumer(settings, client_for(settings), name or None)
        consumer.ensure_group()
        if once:
            counts = consumer.run_once(block_ms=None)
            print(json.dumps(counts))
            return
        stop = threading.Event()
        # both end the loop between two reads (each blocks ~4 s at most): an entry is never
        # left half handed on, and the command exits within seconds, inside any grace period
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        console.print(f"consuming {consumer.stream} as {consumer.name} in group {consumer.group}")
        try:
            consumer.run(stop)
        except KeyboardInterrupt:
            pass


def beat(
    loglevel: str = typer.Option("INFO", "--loglevel", "-l", help="Celery log level."),
    redis_url: str | None = RedisOpt, prefix: str | None = PrefixOpt, data_dir: str | None = DataDirOpt,
) -> None:
    """Run Celery beat with the Redis schedule (celery-redbeat). Run one or several: a lock in
    Redis lets exactly one send the polls at a time."""
    with redis_for(settings_from(redis_url, prefix, data_dir)) as (settings, _embedded):
        proc = start_beat_process(settings, loglevel)
        # beat runs in its own session: without this, SIGTERM ended the wrapper alone and beat
        # went on as an orphan, holding the redbeat lock and sending polls
        forward_sigterm(proc)
        try:
            code = proc.wait()
        finally:
            stop_worker_process(proc)
        raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    """Add the sources commands to the ``storyline`` command."""
    app.add_typer(feeds_app, name="feeds")
    app.command()(submit)
    app.command()(consume)
    app.command()(beat)

