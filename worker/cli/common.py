"""What every command shares: the --redis/--prefix/--data-dir options, Settings from them, a
Redis (the embedded one when none is configured) and a client that fails with a clear message."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import redis
import typer
from rich.console import Console

from worker.ops.embedded import EmbeddedRedis
from worker.settings import Settings
from worker.store.client import connect, masked

#: messages, progress and warnings go to stderr; stdout carries only what a command outputs
console = Console(stderr=True)

RedisOpt = typer.Option(None, "--redis", help="Redis URL (default: $REDIS_URL, else an embedded Redis in --data-dir).")
PrefixOpt = typer.Option(None, "--prefix", help="Prefix of every key, stream and queue (default: $STORYLINE_PREFIX or 'storyline').")
DataDirOpt = typer.Option(None, "--data-dir", help="Where the embedded Redis keeps its data (default: .storyline).")


def settings_from(redis_url: str | None, prefix: str | None, data_dir: str | None = None) -> Settings:
    """Settings from the environment, with the command's options over them."""
    return Settings().with_overrides(redis_url=redis_url, prefix=prefix, data_dir=data_dir)


@contextmanager
def redis_for(settings: Settings) -> Iterator[tuple[Settings, bool]]:
    """Settings with a reachable redis_url; starts the embedded Redis when none is configured.
    Yields (settings, embedded)."""
    if settings.redis_url:
        yield settings, False
        return
    server = EmbeddedRedis(settings.data_dir)
    try:
        url = server.start()
    except RuntimeError as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from exc
    console.print(f"[dim]embedded Redis at {masked(url)} (data in {server.data_dir}); set REDIS_URL to use your own[/]")
    try:
        yield settings.with_overrides(redis_url=url), True
    finally:
        server.stop()


def client_for(settings: Settings) -> redis.Redis:
    """A client of the settings' Redis; exits with status 2 and a hint when it does not answer."""
    try:
        return connect(settings.redis_url or "", wait_seconds=3)
    except Exception as exc:
        console.print(f"[red]error:[/] cannot reach Redis at {masked(settings.redis_url)}: {exc}\n"
                      "Start Redis, or fix REDIS_URL / --redis.")
        raise typer.Exit(2) from exc
