"""``storyline feeds add|list|remove``, ``submit``, ``consume`` and ``beat``: the sources
commands. They parse and delegate to the sources stage (feeds, requests, files) and the
runtime (schedule, sinks, beat process)."""

from __future__ import annotations

import json
import re
import signal
import sys
import threading
import time
import uuid
from typing import TYPE_CHECKING

import structlog
import typer
from rich.console import Console
from rich.table import Table

from worker.cli.common import DataDirOpt, PrefixOpt, RedisOpt, client_for, console, redis_for, settings_from
from worker.errors import BadFeed
from worker.store.keys import Keys

if TYPE_CHECKING:
    import redis

    from worker.settings import Settings

#: its own flag, not $STORYLINE_METRICS_PORT: beat, consume and a worker on one host share one
#: environment (systemd's storyline.env), and would all try to bind the worker's port
MetricsPortOpt = typer.Option(0, "--metrics-port", help="Serve Prometheus metrics (the Redis gauges: queue, "
                              "request-stream and output-stream lag; build info) on this port; 0 = off.")

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
    check: bool = typer.Option(True, "--check/--no-check", help="Fetch and parse the feed now, and refuse it when that fails (404, a private address, not a feed)."),
    redis_url: str | None = RedisOpt, prefix: str | None = PrefixOpt, data_dir: str | None = DataDirOpt,
) -> None:
    """Subscribe to a feed (or change its interval) and put it on the beat schedule. The feed is
    fetched once first (through the same SSRF guard and politeness as a poll), so a wrong URL
    is refused now rather than showing up later in `feeds list`."""
    from worker.runtime.app import create_app  # deferred: keeps `storyline --help` fast
    from worker.runtime.schedule import subscribe
    from worker.sources.feeds import FeedRegistry
    seconds = parse_duration(every)
    with redis_for(settings_from(redis_url, prefix, data_dir)) as (settings, _embedded):
        if seconds < settings.feeds.min_every_seconds:
            console.print(f"[red]error:[/] --every {every} is below the minimum of {settings.feeds.min_every_seconds}s "
                          "(STORYLINE_FEEDS__MIN_EVERY_SECONDS)")
            raise typer.Exit(2)
        client, keys = client_for(settings), Keys(settings.prefix)
        if check:
            from worker.sources.rss import normalise_link

            if not normalise_link(url):  # the same refusal (exit 2) as without the check
                console.print(f"[red]error:[/] a feed URL must be an absolute http(s) URL, not {url!r}")
                raise typer.Exit(2)
            _check_feed(client, keys, settings, url)
        registry = FeedRegistry(client, keys)
        try:
            feed = subscribe(create_app(settings), registry, url, seconds, poll_now=poll_now)
        except BadFeed as exc:
            console.print(f"[red]error:[/] {exc}")
            raise typer.Exit(2) from exc
        if feed.paused:
            console.print(f"[yellow]feed {feed.feed_id} is paused[/]: its interval is now {seconds}s, and it stays off "
                          f"the schedule until `storyline feeds resume {feed.feed_id}`: {feed.url}")
        else:
            console.print(f"feed {feed.feed_id} polled every {seconds}s: {feed.url}")
        print(feed.feed_id)


def _check_feed(client: redis.Redis, keys: Keys, settings: Settings, url: str) -> None:
    """Fetch and parse ``url`` as a poll would; exit 1 saying why when that fails."""
    from worker.errors import StorylineError
    from worker.sources.pages import PageFetcher
    from worker.sources.rss import poll_feed

    try:
        result = poll_feed(PageFetcher(client, keys, settings.fetch), url, max_entries=settings.feeds.max_entries)
    except StorylineError as exc:
        console.print(f"[red]error:[/] {url} is not a feed Storyline can poll: {exc}\n"
                      "(add it anyway with --no-check, e.g. when the server is down for now)")
        raise typer.Exit(1) from exc
    except Exception as exc:  # a parser failure, a URL httpx cannot even build
        console.print(f"[red]error:[/] {url} is not a feed Storyline can poll: {type(exc).__name__}: {exc}")
        raise typer.Exit(1) from exc
    entries = len(result.feed.entries) if result.feed else 0
    console.print(f"[dim]checked: {entries} entr{'y' if entries == 1 else 'ies'} at {result.url}[/]")


@feeds_app.command("list")
def feeds_list(
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    redis_url: str | None = RedisOpt, prefix: str | None = PrefixOpt, data_dir: str | None = DataDirOpt,
) -> None:
    """Subscribed feeds with their last poll, status and item count."""
    from worker.sources.feeds import FeedRegistry  # deferred: keeps `storyline --help` fast
    with redis_for(settings_from(redis_url, prefix, data_dir)) as (settings, _embedded):
        feeds = FeedRegistry(client_for(settings), Keys(settings.prefix)).all()
    if as_json:
        print(json.dumps([f.__dict__ for f in feeds]))
        return
    # four columns of two lines each, readable at 80 columns: the id (to remove or pause a feed)
    # is never cut; the URL and the last error fold
    table = Table(title=f"{len(feeds)} feed(s)", show_lines=True)
    table.add_column("id / every", no_wrap=True)
    table.add_column("url / last error", overflow="fold", ratio=1)
    table.add_column("status / last poll", overflow="fold")
    table.add_column("items / errors", justify="right", no_wrap=True)
    for f in feeds:
        status = ("paused, " if f.paused else "") + f.status + (" (backing off)" if f.backoff_until > time.time() else "")
        error = f"\n[red]{f.last_error[:300]}[/]" if f.last_error else ""
        table.add_row(f"{f.feed_id}\n[dim]{f.every_seconds}s[/]", f"{f.url}{error}", f"{status}\n[dim]{_ago(f.last_poll)}[/]",
                      f"{f.item_count}\n{f.error_count}")
    Console().print(table)


@feeds_app.command("remove")
def feeds_remove(
    url_or_id: str = typer.Argument(..., help="Feed URL or id (from feeds list)."),
    redis_url: str | None = RedisOpt, prefix: str | None = PrefixOpt, data_dir: str | None = DataDirOpt,
) -> None:
    """Unsubscribe: drop the feed's schedule entry and its state."""
    from worker.runtime.app import create_app  # deferred: keeps `storyline --help` fast
    from worker.runtime.schedule import unsubscribe
    from worker.sources.feeds import FeedRegistry
    with redis_for(settings_from(redis_url, prefix, data_dir)) as (settings, _embedded):
        feed = unsubscribe(create_app(settings), FeedRegistry(client_for(settings), Keys(settings.prefix)), url_or_id)
        if feed is None:
            console.print(f"[red]error:[/] no feed {url_or_id!r} (see: storyline feeds list)")
            raise typer.Exit(1)
        console.print(f"removed feed {feed.feed_id}: {feed.url}")


def _set_paused(url_or_id: str, paused: bool, redis_url: str | None, prefix: str | None, data_dir: str | None) -> None:
    from worker.runtime.app import create_app  # deferred: keeps `storyline --help` fast
    from worker.runtime.schedule import schedule_feed, unschedule_feed
    from worker.sources.feeds import FeedRegistry

    with redis_for(settings_from(redis_url, prefix, data_dir)) as (settings, _embedded):
        keys = Keys(settings.prefix)
        registry = FeedRegistry(client_for(settings), keys)
        feed = registry.find(url_or_id)
        if feed is None:
            console.print(f"[red]error:[/] no feed {url_or_id!r} (see: storyline feeds list)")
            raise typer.Exit(1)
        registry.update(feed.feed_id, paused=int(paused))
        celery_app = create_app(settings)
        if paused:
            unschedule_feed(celery_app, feed.feed_id)
        else:
            feed.paused = 0
            schedule_feed(celery_app, keys, feed)
        console.print(f"{'paused' if paused else 'resumed'} feed {feed.feed_id}: {feed.url}")


@feeds_app.command("pause")
def feeds_pause(
    url_or_id: str = typer.Argument(..., help="Feed URL or id (from feeds list)."),
    redis_url: str | None = RedisOpt, prefix: str | None = PrefixOpt, data_dir: str | None = DataDirOpt,
) -> None:
    """Stop polling a feed, keeping its state (validators, seen entries, item count)."""
    _set_paused(url_or_id, True, redis_url, prefix, data_dir)


@feeds_app.command("resume")
def feeds_resume(
    url_or_id: str = typer.Argument(..., help="Feed URL or id (from feeds list)."),
    redis_url: str | None = RedisOpt, prefix: str | None = PrefixOpt, data_dir: str | None = DataDirOpt,
) -> None:
    """Put a paused feed back on the beat schedule."""
    _set_paused(url_or_id, False, redis_url, prefix, data_dir)


@feeds_app.command("export")
def feeds_export(
    redis_url: str | None = RedisOpt, prefix: str | None = PrefixOpt, data_dir: str | None = DataDirOpt,
) -> None:
    """Write the subscribed feeds as OPML 2.0 on stdout (the interval and pause are kept as
    Storyline attributes, which other readers ignore)."""
    from worker.sources.feeds import FeedRegistry
    from worker.sources.opml import to_opml

    with redis_for(settings_from(redis_url, prefix, data_dir)) as (settings, _embedded):
        feeds = FeedRegistry(client_for(settings), Keys(settings.prefix)).all()
    sys.stdout.write(to_opml(feeds))


@feeds_app.command("import")
def feeds_import(
    path: str = typer.Argument(..., help="An OPML file (from a feed reader, or `storyline feeds export`); - for stdin."),
    every: str = typer.Option("", "--every", help="Polling interval of feeds the file gives none (default: STORYLINE_FEEDS' default 10m)."),
    check: bool = typer.Option(False, "--check/--no-check", help="Fetch and parse each feed first, skipping the ones that fail."),
    redis_url: str | None = RedisOpt, prefix: str | None = PrefixOpt, data_dir: str | None = DataDirOpt,
) -> None:
    """Subscribe to every feed (outline with an xmlUrl) of an OPML file; prints one JSON line per
    feed (added, or skipped with why). Feeds already subscribed keep their state."""
    from worker.runtime.app import create_app
    from worker.runtime.schedule import schedule_feed
    from worker.sources.feeds import FeedRegistry
    from worker.sources.opml import parse_opml

    data = sys.stdin.buffer.read() if path == "-" else open(path, "rb").read()
    try:
        outlines = parse_opml(data)
    except ValueError as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from exc
    default_every = parse_duration(every) if every else 600
    failed = 0
    with redis_for(settings_from(redis_url, prefix, data_dir)) as (settings, _embedded):
        client, keys = client_for(settings), Keys(settings.prefix)
        registry, celery_app = FeedRegistry(client, keys), create_app(settings)
        for outline in outlines:
            seconds = max(outline.every_seconds or default_every, settings.feeds.min_every_seconds)
            try:
                if check:
                    _check_feed(client, keys, settings, outline.url)
                feed = registry.add(outline.url, seconds)
            except (BadFeed, typer.Exit) as exc:
                failed += 1
                print(json.dumps({"url": outline.url, "status": "skipped", "reason": str(exc) or "check failed"}))
                continue
            if outline.paused:
                registry.update(feed.feed_id, paused=1)
            else:
                schedule_feed(celery_app, keys, feed)
            print(json.dumps({"url": feed.url, "feed_id": feed.feed_id, "status": "added", "every_seconds": seconds,
                              "paused": outline.paused}))
    if failed:
        raise typer.Exit(1)


def submit(
    items: list[str] = typer.Argument(..., help="URLs to fetch, and files or folders (.txt, .html, .htm) to ingest."),
    run_id: str | None = typer.Option(None, "--run-id", help="Record outcomes under this run id (default: a new one, printed)."),
    redis_url: str | None = RedisOpt, prefix: str | None = PrefixOpt, data_dir: str | None = DataDirOpt,
) -> None:
    """Write ingest requests to the request stream (<prefix>:requests); `storyline consume` hands them on."""
    from worker.sources.files import expand_paths  # deferred: keeps `storyline --help` fast
    from worker.sources.requests import requests_for
    from worker.sources.requests import submit as xadd_requests
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
    metrics_port: int = MetricsPortOpt,
    redis_url: str | None = RedisOpt, prefix: str | None = PrefixOpt, data_dir: str | None = DataDirOpt,
) -> None:
    """Read the request stream in its consumer group and hand each request to the workers.
    Run several (anywhere): entries of a consumer that died are reclaimed by the others."""
    from worker.runtime.sinks import build_consumer  # deferred: keeps `storyline --help` fast
    with redis_for(settings_from(redis_url, prefix, data_dir)) as (settings, _embedded):
        client = client_for(settings)
        consumer = build_consumer(settings, client, name or None)
        consumer.ensure_group()
        _serve_metrics(settings, client, metrics_port)
        if once:
            counts = consumer.run_once(block_ms=None)
            print(json.dumps(counts))
            return
        stop = threading.Event()
        # both end the loop between two reads (each blocks ~4 s at most): an entry is never
        # left half handed on, and the command exits within seconds, inside any grace period
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        structlog.get_logger("storyline.consume").info("consuming", stream=consumer.stream, consumer=consumer.name,
                                                       group=consumer.group)
        try:
            consumer.run(stop)
        except KeyboardInterrupt:
            pass


def beat(
    loglevel: str = typer.Option("INFO", "--loglevel", "-l", help="Celery log level."),
    metrics_port: int = MetricsPortOpt,
    redis_url: str | None = RedisOpt, prefix: str | None = PrefixOpt, data_dir: str | None = DataDirOpt,
) -> None:
    """Run Celery beat with the Redis schedule (celery-redbeat). Run one or several: a lock in
    Redis lets exactly one send the polls at a time."""
    from worker.runtime.processes import forward_sigterm  # deferred: keeps `storyline --help` fast
    from worker.runtime.processes import start_beat_process
    from worker.runtime.processes import stop_worker_process
    with redis_for(settings_from(redis_url, prefix, data_dir)) as (settings, _embedded):
        _serve_metrics(settings, client_for(settings), metrics_port)
        proc = start_beat_process(settings, loglevel)
        # SIGTERM (systemd, Kubernetes, docker stop) reaches this process only: pass it on, or
        # beat (in its own session) outlives us and keeps sending polls
        forward_sigterm(proc)
        try:
            code = proc.wait()
        finally:
            stop_worker_process(proc)
        raise typer.Exit(code)


def _serve_metrics(settings: Settings, client: redis.Redis, port: int) -> None:
    """/metrics of a beat or consume process, on ``metrics_addr`` (the same gauges a worker serves)."""
    if port > 0:
        from worker.ops.metrics import serve  # deferred: keeps `storyline --help` fast
        serve(port, client, Keys(settings.prefix), addr=settings.metrics_addr)


def register(app: typer.Typer) -> None:
    """Add the sources commands to the ``storyline`` command."""
    app.add_typer(feeds_app, name="feeds")
    app.command()(submit)
    app.command()(consume)
    app.command()(beat)

