"""Per-process setup of a Celery worker (arq's ``on_startup``, in Celery's signals): the main
process configures logs, serves metrics and warms the stages' models up before the pool forks;
each pool process builds its own clients once (``get_pipeline``, ``get_sources``), never reusing
the parent's connections."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import structlog
from celery import Celery, current_app
from celery.signals import worker_init, worker_process_init, worker_process_shutdown

from worker.ops import metrics
from worker.ops.logs import configure_logging
from worker.pipeline import DeadLetterWriter, Pipeline, warm_up
from worker.runtime.sinks import CelerySink
from worker.settings import Settings
from worker.sources.feeds import FeedPoller, FeedRegistry
from worker.sources.pages import PageFetcher
from worker.store.client import connect

log = structlog.get_logger("storyline.tasks")


def app_settings(app: Celery) -> Settings:
    """The Settings an app was built from (worker/runtime/app.py)."""
    settings: Settings = app.conf.storyline_settings
    return settings


def get_pipeline(app: Celery) -> Pipeline:
    """The process's pipeline for ``app``, built once per process and app."""
    pipeline: Pipeline | None = getattr(app, "_storyline_pipeline", None)
    if pipeline is None:
        settings = app_settings(app)
        pipeline = Pipeline(connect(settings.redis_url or ""), settings)
        app._storyline_pipeline = pipeline
    return pipeline


@dataclass
class Sources:
    """Per-process clients of the sources stage."""

    pipeline: Pipeline
    fetcher: PageFetcher
    poller: FeedPoller
    sink: CelerySink


def get_sources(app: Celery) -> Sources:
    """The process's sources-stage clients for ``app``, sharing the pipeline's Redis client."""
    sources: Sources | None = getattr(app, "_storyline_sources", None)
    if sources is None:
        pipeline = get_pipeline(app)
        settings = pipeline.settings
        fetcher = PageFetcher(pipeline.client, pipeline.keys, settings.fetch)
        # the poller gets what it uses: a dead-letter writer, not the whole pipeline
        dead_letters = DeadLetterWriter(pipeline.client, pipeline.keys, pipeline.publisher, settings.run_ttl_seconds)
        poller = FeedPoller(FeedRegistry(pipeline.client, pipeline.keys), fetcher, dead_letters.dead_letter,
                            settings.feeds, max_attempts=settings.limits.max_attempts, run_ttl_seconds=settings.run_ttl_seconds,
                            lock_seconds=int(settings.fetch.total_timeout) + 60)
        sources = Sources(pipeline, fetcher, poller, CelerySink(app, pipeline.keys))
        app._storyline_sources = sources
    return sources


@worker_init.connect
def _init_main_process(sender: Any = None, **_: Any) -> None:
    """In the Celery main process, before the pool forks: our log format, the metrics
    endpoint, and the stages' models loaded once for every pool process (``warm_up``)."""
    settings = getattr(sender.app.conf, "storyline_settings", None) if sender is not None else None
    if settings is None:
        return
    configure_logging(settings.log_level, settings.json_logs)
    metrics.serve_from_worker(sender)
    try:
        warm_up()
    except Exception as exc:  # only a speed-up: the pool processes load what they need anyway
        log.warning("warm_up_failed", error=str(exc), error_type=type(exc).__name__)


@worker_process_init.connect
def _init_process(**_: Any) -> None:
    """Build clients in each forked child, never reusing the parent's connections."""
    app = current_app._get_current_object()
    settings = app_settings(app)
    configure_logging(settings.log_level, settings.json_logs)
    app._storyline_pipeline = None
    app._storyline_sources = None
    get_pipeline(app)


@worker_process_shutdown.connect
def _stop_process(**_: Any) -> None:
    """Send what a stopping pool process holds back (a recycled one too): its document-frequency
    counts not yet in Redis, up to a batch of articles (worker/threads/state.py ``_DF_BATCH``)."""
    pipeline: Pipeline | None = getattr(current_app._get_current_object(), "_storyline_pipeline", None)
    if pipeline is None:
        return
    try:
        pipeline.threads.flush()
    except Exception as exc:  # best effort: the counts of a few dozen articles, never an input
        log.warning("thread_counts_flush_failed", error=str(exc), error_type=type(exc).__name__)
