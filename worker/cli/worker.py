"""``storyline worker``: parse, then run a Celery worker process (worker.runtime.processes)."""

from __future__ import annotations

import os

import typer

from worker.cli.common import DataDirOpt, PrefixOpt, RedisOpt, redis_for, settings_from


def worker(
    concurrency: int = typer.Option(os.cpu_count() or 1, "--concurrency", "-c", help="Worker processes."),
    loglevel: str = typer.Option("INFO", "--loglevel", "-l", help="Celery log level."),
    name: str = typer.Option("storyline@%h", "--name", "-n", help="Celery node name; %h is the host name. One per worker on a host (e.g. storyline-2@%h)."),
    metrics_port: int | None = typer.Option(None, "--metrics-port", help="Serve Prometheus metrics on this port (default: $STORYLINE_METRICS_PORT; 0 = off)."),
    redis_url: str | None = RedisOpt, prefix: str | None = PrefixOpt, data_dir: str | None = DataDirOpt,
) -> None:
    """Run a Celery worker that processes ingest tasks (scale out by running more, anywhere)."""
    from worker.runtime.processes import forward_sigterm  # deferred: keeps `storyline --help` fast
    from worker.runtime.processes import metrics_dir
    from worker.runtime.processes import start_worker_process
    from worker.runtime.processes import stop_worker_process
    base = settings_from(redis_url, prefix, data_dir).with_overrides(metrics_port=metrics_port)
    with redis_for(base) as (settings, _embedded), metrics_dir(settings.metrics_port):
        # a stable name per host, so a restarted worker is the same node in Flower, not a new one
        proc = start_worker_process(settings, concurrency, loglevel, name=name)
        forward_sigterm(proc)  # SIGTERM and SIGINT: a warm shutdown of Celery main process
        try:
            code = proc.wait()
        finally:
            stop_worker_process(proc)  # at once when it already exited; kills what is left of its group
        raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    app.command()(worker)
