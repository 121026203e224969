"""Celery tasks of the sources stage, thin like ``worker.tasks``: poll a feed, fetch a URL.

A fetched page goes on as a ``storyline.ingest`` task (the same one ``replay`` sends), so
extraction, attempts and dead letters work the same whatever the input's origin.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import redis
import structlog
from celery import Celery, Task, current_app, shared_task
from celery.signals import worker_process_init

from worker.errors import HostBusy, PermanentError
from worker.pipeline import InputDocument, Pipeline
from worker.sources.feeds import FeedPoller, FeedRegistry
from worker.sources.pages import PageFetcher, page_document
from worker.sources.requests import IngestRequest
from worker.store.keys import Keys
from worker.tasks import RETRYABLE, count_attempt, encode_document, get_pipeline, retry_keeping_message

log = structlog.get_logger("storyline.sources")

POLL_TASK = "storyline.poll_feed"
FETCH_TASK = "storyline.fetch_url"
INGEST_TASK = "storyline.ingest"


class CelerySink:
    """Sends new inputs on as tasks on this deployment's queue."""

    def __init__(self, app: Celery, keys: Keys) -> None:
        self.app = app
        self.keys = keys

    def ingest(self, doc: InputDocument) -> None:
        self.app.send_task(INGEST_TASK, args=[encode_document(doc)], queue=self.keys.queue, task_id=doc.doc_id)

    def fetch(self, doc_id: str, url: str, *, source_kind: str, run_id: str | None) -> None:
        message = {"doc_id": doc_id, "url": url, "source_kind": source_kind, "run_id": run_id}
        self.app.send_task(FETCH_TASK, args=[message], queue=self.keys.queue, task_id=f"fetch-{doc_id}")


def hand_on(sink: CelerySink, request: IngestRequest) -> None:
    """A request from the stream becomes a fetch task (URL) or an ingest task (file body)."""
    if request.kind == "url":
        sink.fetch(request.doc_id, request.uri, source_kind="url", run_id=request.run_id)
    else:
        sink.ingest(InputDocument(request.doc_id, "file", request.uri, request.body,
                                  content_type=request.content_type, run_id=request.run_id))


@dataclass
class Sources:
    """Per-process clients of the sources stage."""

    pipeline: Pipeline
    fetcher: PageFetcher
    poller: FeedPoller
    sink: CelerySink


def get_sources(app: Celery) -> Sources:
    sources = getattr(app, "_storyline_sources", None)
    if sources is None:
        pipeline = get_pipeline(app)
        settings = pipeline.settings
        fetcher = PageFetcher(pipeline.client, pipeline.keys, settings.fetch)
        poller = FeedPoller(FeedRegistry(pipeline.client, pipeline.keys), fetcher, pipeline, settings.feeds,
                            lock_seconds=int(settings.fetch.total_timeout) + 60)
        sources = Sources(pipeline, fetcher, poller, CelerySink(app, pipeline.keys))
        app._storyline_sources = sources  # type: ignore[attr-defined]
    return sources


@worker_process_init.connect
def _init_process(**_: Any) -> None:
    """A forked child must not share the parent's connection pool."""
    current_app._get_current_object()._storyline_sources = None  # type: ignore[attr-defined]


@shared_task(bind=True, name=POLL_TASK, acks_late=True, ignore_result=True)
def poll_feed_task(self: Task, feed_id: str, run_id: str | None = None, force: bool = False) -> dict[str, Any]:
    """Poll one feed (sent by beat on its schedule, or by ``feeds add``). Never retried: the
    next scheduled poll is the retry, after the feed's back-off."""
    sources = get_sources(self.app)
    outcome = sources.poller.poll(feed_id, sources.sink, run_id=run_id, force=force)
    log.info("feed_poll", feed_id=feed_id, status=outcome.status, entries=outcome.entries, new=outcome.new,
             error_type=outcome.error_type, reason=outcome.message)
    return {"feed_id": feed_id, "status": outcome.status, "new": outcome.new}


@shared_task(bind=True, name=FETCH_TASK, acks_late=True, max_retries=None, ignore_result=True)
def fetch_url_task(self: Task, message: dict[str, Any]) -> dict[str, Any]:
    """Fetch one URL and send the page on to ``storyline.ingest``. Transient failures are
    retried with back-off up to ``limits.max_attempts``, then dead-lettered (stage fetch)."""
    started = time.monotonic()
    try:
        return _fetch_url(self, message, started)
    except redis.RedisError as exc:
        # Redis failed while counting attempts, writing a dead letter or handing the page on
        # (gone, full under noeviction, read-only): an outage, and the URL is not done. A failed
        # task would have its message deleted (see worker.tasks.retry_keeping_message), so retry, holding it
        log.warning("fetch_retry", url=message.get("url"), error=str(exc), error_type=type(exc).__name__)
        retry_keeping_message(self, exc, 5.0, started)


def _fetch_url(self: Task, message: dict[str, Any], started: float) -> dict[str, Any]:
    sources = get_sources(self.app)
    pipeline = sources.pipeline
    doc_id, url, run_id = message["doc_id"], message["url"], message.get("run_id")
    kind = message.get("source_kind", "url")
    doc = InputDocument(doc_id, kind, url, b"", url=url, run_id=run_id)
    bound = log.bind(doc_id=doc_id, url=url)
    try:
        result = sources.fetcher.fetch_page(url)
    except HostBusy as exc:
        # not a failure of this URL: wait for the host's turn without spending an attempt
        retry_keeping_message(self, exc, 2.0, started)
    except PermanentError as exc:
        pipeline.dead_letter(doc, exc, attempts=1, stage="fetch")
        bound.warning("dead_letter", stage="fetch", error_type=exc.code, reason=str(exc))
        return {"doc_id": doc_id, "status": "dead_letter"}
    except Exception as exc:  # TransientError, outages of Redis or the network, and anything unexpected
        attempts = count_attempt(pipeline.client, pipeline.keys.fetch_attempts(doc_id))
        # a bug (anything but an outage) is dead-lettered at once: retrying cannot fix it
        if attempts >= pipeline.settings.limits.max_attempts or not isinstance(exc, RETRYABLE):
            pipeline.dead_letter(doc, exc, attempts=attempts, stage="fetch")
            bound.warning("dead_letter", stage="fetch", error_type=getattr(exc, "code", type(exc).__name__), reason=str(exc))
            return {"doc_id": doc_id, "status": "dead_letter"}
        bound.warning("fetch_retry", attempt=attempts, reason=str(exc))
        retry_keeping_message(self, exc, float(min(300, 5 * 2 ** attempts)), started)
    if result.not_modified:
        # fetched before and unchanged since: nothing new to ingest
        if run_id:
            pipeline.client.hsetnx(pipeline.keys.run(run_id), doc_id, '{"doc_id": "%s", "status": "unchanged"}' % doc_id)
        bound.info("unchanged")
        return {"doc_id": doc_id, "status": "unchanged"}
    sources.sink.ingest(page_document(result, doc_id=doc_id, source_kind=kind, uri=url, run_id=run_id))
    return {"doc_id": doc_id, "status": "fetched"}
