"""Celery tasks of the sources stage, thin like ``worker.runtime.tasks``: poll a feed, fetch a URL.

A fetched page goes on as a ``storyline.ingest`` task (the same one ``replay`` sends), so
extraction, attempts and dead letters work the same whatever the input's origin.
"""

from __future__ import annotations

import time
from typing import Any

import redis
import structlog
from celery import Task, shared_task

from worker.errors import HostBusy, PermanentError
from worker.model import InputDocument, Stage
from worker.runtime.messages import FETCH_TASK, POLL_TASK
from worker.runtime.retry import RETRYABLE, count_attempt, retry_keeping_message
from worker.runtime.signals import get_sources
from worker.sources.pages import page_document
from worker.store import runs

log = structlog.get_logger("storyline.sources")


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
        # task would have its message deleted (see worker.runtime.retry.retry_keeping_message), so retry, holding it
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
        pipeline.dead_letter(doc, exc, 1, Stage.FETCH)
        bound.warning("dead_letter", stage="fetch", error_type=exc.code, reason=str(exc))
        return {"doc_id": doc_id, "status": "dead_letter"}
    except Exception as exc:  # TransientError, outages of Redis or the network, and anything unexpected
        attempts = count_attempt(pipeline.client, pipeline.keys.fetch_attempts(doc_id))
        # a bug (anything but an outage) is dead-lettered at once: retrying cannot fix it
        if attempts >= pipeline.settings.limits.max_attempts or not isinstance(exc, RETRYABLE):
            pipeline.dead_letter(doc, exc, attempts, Stage.FETCH)
            bound.warning("dead_letter", stage="fetch", error_type=getattr(exc, "code", type(exc).__name__), reason=str(exc))
            return {"doc_id": doc_id, "status": "dead_letter"}
        bound.warning("fetch_retry", attempt=attempts, reason=str(exc))
        retry_keeping_message(self, exc, float(min(300, 5 * 2 ** attempts)), started)
    if result.not_modified:
        # fetched before and unchanged since: nothing new to ingest
        if run_id:
            runs.record_outcome(pipeline.client, pipeline.keys, run_id, doc_id,
                                '{"doc_id": "%s", "status": "unchanged"}' % doc_id, pipeline.settings.run_ttl_seconds)
        bound.info("unchanged")
        return {"doc_id": doc_id, "status": "unchanged"}
    hint = message.get("published")
    sources.sink.ingest(page_document(result, doc_id=doc_id, source_kind=kind, uri=url, run_id=run_id,
                                      published_hint=hint if isinstance(hint, str) else None))
    return {"doc_id": doc_id, "status": "fetched"}
