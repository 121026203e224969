"""Celery tasks: thin wrappers that call the pipeline and map errors to retry or dead letter."""

from __future__ import annotations

import base64
from typing import Any

import redis
import structlog
from celery import Celery, Task, current_app, shared_task
from celery.exceptions import Reject, SoftTimeLimitExceeded
from celery.signals import worker_init, worker_process_init

from worker.errors import PermanentError, TransientError
from worker.logs import configure_logging
from worker import metrics
from worker.pipeline import InputDocument, Pipeline
from worker.store.client import connect

log = structlog.get_logger("storyline.tasks")
#: errors worth retrying: our transient errors and the outages of Redis or the network
RETRYABLE = (TransientError, redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError,
             redis.exceptions.OutOfMemoryError, redis.exceptions.ReadOnlyError, OSError)
#: how long an input's delivery count is kept, in seconds
ATTEMPTS_TTL_SECONDS = 7 * 24 * 3600


def get_pipeline(app: Celery) -> Pipeline:
    """The process's pipeline for ``app``, built once per process and app."""
    pipeline = getattr(app, "_storyline_pipeline", None)
    if pipeline is None:
        settings = app.conf.storyline_settings
        pipeline = Pipeline(connect(settings.redis_url), settings)
        app._storyline_pipeline = pipeline  # type: ignore[attr-defined]
    return pipeline


@worker_init.connect
def _init_main_process(sender: Any = None, **_: Any) -> None:
    """In the Celery main process: our log format, and the metrics endpoint (before the pool forks)."""
    settings = getattr(sender.app.conf, "storyline_settings", None) if sender is not None else None
    if settings is None:
        return
    configure_logging(settings.log_level, settings.json_logs)
    metrics.serve_from_worker(sender)


@worker_process_init.connect
def _init_process(**_: Any) -> None:
    """Build clients in each forked child, never reusing the parent's connections."""
    app = current_app._get_current_object()
    settings = app.conf.storyline_settings
    configure_logging(settings.log_level, settings.json_logs)
    app._storyline_pipeline = None  # type: ignore[attr-defined]
    get_pipeline(app)


def encode_document(doc: InputDocument) -> dict[str, Any]:
    """The JSON message of an ingest task."""
    return {
        "doc_id": doc.doc_id, "source_kind": doc.source_kind, "uri": doc.uri,
        "body": base64.b64encode(doc.body).decode("ascii"), "url": doc.url,
        "content_type": doc.content_type, "run_id": doc.run_id,
    }


def decode_document(message: dict[str, Any]) -> InputDocument:
    return InputDocument(
        doc_id=message["doc_id"], source_kind=message["source_kind"], uri=message["uri"],
        body=base64.b64decode(message["body"]), url=message.get("url"),
        content_type=message.get("content_type"), run_id=message.get("run_id"),
    )


def _backoff(retries: int) -> float:
    """Seconds before retry n: 1, 2, 4 ... capped at 60."""
    return float(min(60, 2**retries))


@shared_task(bind=True, name="storyline.ingest", acks_late=True, max_retries=None)
def ingest(self: Task, message: dict[str, Any]) -> dict[str, Any]:
    """Process one input end to end. Every accepted input ends as an article, a duplicate or a
    dead letter; a redelivered message repeats the same decisions and event ids."""
    try:
        return _ingest(self, message)
    except (redis.RedisError, TransientError) as exc:
        # Redis went away outside the stages (counting attempts, writing a dead letter): the
        # input is not finished, so it goes back to the queue rather than being dropped
        log.warning("retry", error=str(exc), error_type=type(exc).__name__)
        metrics.record_retry(type(exc).__name__, getattr(exc, "timings_ms", {}), _stage_of(exc))
        _retry(self, exc, _backoff(self.request.retries + 1))
    finally:
        structlog.contextvars.clear_contextvars()  # the next task in this process starts clean


def _retry(self, exc, countdown):
    try:
        raise self.retry(exc=exc, countdown=countdown)
    except Reject as rejected:
        log.warning("retry_not_sent", error=str(rejected.reason))
        raise Reject(rejected.reason, requeue=True) from None


def _stage_of(exc: BaseException) -> str | None:
    """The stage that raised (set by Pipeline._stage), for metrics."""
    return getattr(exc, "stage", None) or getattr(exc, "failed_stage", None)


def _ingest(self: Task, message: dict[str, Any]) -> dict[str, Any]:
    pipeline = get_pipeline(self.app)
    try:
        doc = decode_document(message)
    except (KeyError, TypeError, ValueError) as exc:
        log.error("dead_letter", error_type="bad_request", reason=f"malformed task message: {exc}")
        return {"doc_id": None, "status": "rejected"}
    max_attempts = pipeline.settings.limits.max_attempts
    with pipeline.client.pipeline(transaction=False) as pipe:
        pipe.incr(pipeline.keys.attempts(doc.doc_id))
        pipe.expire(pipeline.keys.attempts(doc.doc_id), ATTEMPTS_TTL_SECONDS)
        attempts = pipe.execute()[0]
    # every log line of this input, in any stage, carries its ids (the input's id is also the
    # article_id of the article or duplicate it becomes)
    structlog.contextvars.bind_contextvars(doc_id=doc.doc_id, article_id=doc.doc_id, source=doc.uri,
                                           source_kind=doc.source_kind, attempt=attempts)
    bound = log.bind(doc_id=doc.doc_id, source=doc.uri, attempt=attempts)
    try:
        if attempts > max_attempts:
            raise TransientError(f"delivered {attempts - 1} times without finishing (the worker may have crashed on it)")
        outcome = pipeline.process(doc)
    except PermanentError as exc:
        outcome = pipeline.dead_letter(doc, exc, attempts)
        metrics.record_outcome("dead_letter", getattr(exc, "timings_ms", {}), stage=_stage_of(exc), error_type=exc.code)
        bound.warning("dead_letter", error_type=exc.code, reason=str(exc))
    except SoftTimeLimitExceeded as exc:
        outcome = pipeline.dead_letter(doc, TransientError("processing took longer than the task time limit"), attempts,
                                       stage="extract")
        metrics.record_outcome("dead_letter", getattr(exc, "timings_ms", {}), stage=_stage_of(exc), error_type="timeout")
        bound.warning("dead_letter", error_type="timeout")
    except RETRYABLE as exc:  # an outage: retry with backoff, then dead-letter
        if attempts >= max_attempts:
            outcome = pipeline.dead_letter(doc, exc, attempts)
            metrics.record_outcome("dead_letter", getattr(exc, "timings_ms", {}), stage=_stage_of(exc),
                                   error_type=outcome.error_type)
            bound.error("dead_letter", error_type=getattr(exc, "code", type(exc).__name__), reason=str(exc))
        else:
            metrics.record_retry(getattr(exc, "code", type(exc).__name__), getattr(exc, "timings_ms", {}), _stage_of(exc))
            bound.warning("retry", error=str(exc), error_type=type(exc).__name__)
            _retry(self, exc, _backoff(attempts))
    except Exception as exc:  # a bug, not an outage: retrying cannot help; keep the input for reprocessing
        outcome = pipeline.dead_letter(doc, exc, attempts)
        metrics.record_outcome("dead_letter", getattr(exc, "timings_ms", {}), stage=_stage_of(exc),
                               error_type=outcome.error_type)
        bound.exception("dead_letter", error_type=f"internal:{type(exc).__name__}", reason=str(exc))
    else:
        metrics.record_outcome(outcome.status, outcome.timings_ms)
        bound.info(outcome.status, article_id=outcome.article_id, duplicate_of=outcome.duplicate_of,
                   thread_id=outcome.thread_id, **{f"ms_{k}": round(v, 2) for k, v in outcome.timings_ms.items()})
    return {"doc_id": outcome.doc_id, "status": outcome.status}


# the sources stage's tasks (poll a feed, fetch a URL) register on import; kept last because
# they use the helpers above
import worker.sources.tasks  # noqa: E402,F401
