"""``storyline worker``: parse, then run a Celery worker process (worker.runtime.processes)."""

from __future__ import annotations

import os

import typer

from worker.cli.common import DataDirOpt, PrefixOpt, RedisOpt, redis_for, settings_from
from worker.runtime.processes import forward_sigterm, metrics_dir, start_worker_process, stop_worker_process


def worker(
    concurrency: int = typer.Option(os.cpu_count() or 1, "--concurrency", "-c", help="Worker processes."),
    loglevel: str = typer.Option("INFO", "--loglevel", "-l", help="Celery log level."),
    metrics_port: int | None = typer.Option(None, "--metrics-port", help="Serve Prometheus metrics on this port (default: $STORYLINE_METRICS_PORT; 0 = off)."),
    redis_url: str | None = RedisOpt, prefix: str | None = PrefixOpt, data_dir: str | None = DataDirOpt,
) -> None:
    """Run a Celery worker that processes ingest tasks (scale out by running more, anywhere)."""
    base = settings_from(redis_url, prefix, data_dir).with_overrides(metrics_port=metrics_port)
    with redis_for(base) as (settings, _embedded), metrics_dir(settings.metrics_port):
        proc = start_worker_process(settings, concurrency, loglevel)
        forward_sigterm(proc)  # SIGTERM and SIGINT: a warm shutdown of Celery's main process
        try:
            code = proc.wait()
        finally:
            stop_worker_process(proc)  # at once when it already exited; kills what is left of its group
        raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    app.command()(worker)
