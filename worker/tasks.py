"""Celery tasks: thin wrappers that call the pipeline and map errors to retry or dead letter."""

from __future__ import annotations

import base64
import time
from typing import Any, NoReturn

import redis
import structlog
from celery import Celery, Task, current_app, shared_task
from celery.exceptions import Reject, SoftTimeLimitExceeded
from celery.signals import worker_init, worker_process_init

from worker.errors import PermanentError, RedisRefusedWrite, TransientError
from worker.logs import configure_logging
from worker import metrics
from worker.pipeline import InputDocument, Pipeline, warm_up
from worker.store.client import connect

log = structlog.get_logger("storyline.tasks")
#: Redis answering but refusing writes: maxmemory reached under noeviction ("OOM command not
#: allowed"), a replica after a failover (READONLY), a replica cut off from its master
#: (MASTERDOWN). An outage like a lost connection, not a bug in the input or in us
REFUSED_WRITES = (redis.exceptions.OutOfMemoryError, redis.exceptions.ReadOnlyError, redis.exceptions.MasterDownError)
#: errors worth retrying: our transient errors and the outages of Redis or the network
RETRYABLE = (TransientError, redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError, *REFUSED_WRITES,
             OSError)
#: how long an input's delivery count is kept, in seconds
ATTEMPTS_TTL_SECONDS = 7 * 24 * 3600
#: a task whose retry cannot be queued keeps trying until this many seconds before its soft time
#: limit (or for HOLD_SECONDS when it has no time limit), then rejects its message for requeueing
HOLD_MARGIN_SECONDS = 10.0
HOLD_SECONDS = 300.0


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
    started = time.monotonic()
    try:
        return _ingest(self, message, started)
    except (redis.RedisError, TransientError) as exc:
        # Redis failed outside the stages (counting attempts, writing a dead letter): gone,
        # restarting, full (OOM under noeviction) or read-only. These are our own well-formed
        # writes, so any Redis error here is an outage: the input is not finished, and it goes
        # back to the queue rather than failing the task, which would delete its message
        log.warning("retry", error=str(exc), error_type=type(exc).__name__)
        metrics.record_retry(type(exc).__name__, getattr(exc, "timings_ms", {}), _stage_of(exc))
        retry_keeping_message(self, exc, _backoff(self.request.retries + 1), started)
    finally:
        structlog.contextvars.clear_contextvars()  # the next task in this process starts clean


def count_attempt(client: redis.Redis, key: str) -> int:
    """One more delivery of an input counted under ``key`` (kept ATTEMPTS_TTL_SECONDS), in one
    round trip; returns the count so far."""
    with client.pipeline(transaction=False) as pipe:
        pipe.incr(key)
        pipe.expire(key, ATTEMPTS_TTL_SECONDS)
        return pipe.execute()[0]


def retry_keeping_message(self: Task, exc: BaseException, countdown: float, started: float) -> NoReturn:
    """Retry later: raises Retry once the retry message is queued, or Reject(requeue=True) if it
    cannot be queued before the task's time runs out. Never lets the message be deleted.

    Why (celery and kombu 5.7, Redis transport, acks_late; Redis 7):

    - ``Task.retry`` publishes the retry message; the worker acknowledges this delivery only
      after that (``Request.on_retry``). When the publish fails, in the same outage, Task.retry
      raises ``Reject(exc, requeue=False)``, and the worker calls kombu's ``QoS.reject``
      without requeue: ZREM + HDEL of the message in the unacked index and hash, in one
      MULTI/EXEC. A Redis hovering at maxmemory takes that as soon as it is back under the
      limit for a moment, and the input is gone. So that Reject never leaves this function.
    - While Redis refuses the retry, we keep trying it, with backoff, until shortly before the
      soft time limit. Meanwhile nothing acknowledges or rejects the delivery: the message stays
      in kombu's unacked hash (written when it was delivered), and if the worker dies meanwhile
      the visibility timeout hands it to another one. A held task also keeps its worker from
      taking more messages during the outage (prefetch is one a process). Holding matters
      because of what giving up costs:
    - Giving up raises ``Reject(requeue=True)``: the worker calls ``QoS.reject(requeue=True)``,
      i.e. ``restore_by_tag``, one MULTI/EXEC of ZREM, HDEL and LPUSH. If Redis takes writes
      again, the message is back on the queue at once. If it still refuses, Redis discards the
      whole transaction (over maxmemory it refuses every command queued in a MULTI; a replica
      refuses the writes; EXEC fails with EXECABORT), so the message stays in the unacked hash,
      and kombu's ``restore_visible`` puts it back on the queue once the visibility timeout has
      passed. The refused requeue raises OutOfMemoryError/ReadOnlyError in the worker's main
      process, which kombu does not count as a connection error: a prefork worker stops
      ("Unrecoverable error") and its supervisor restarts it. (Any ack refused by a full Redis
      does the same.) The message is kept either way.
    """
    deadline = _hold_deadline(self, started)
    delay = 0.5
    reason: object = None
    try:
        while True:
            try:
                raise self.retry(exc=exc, countdown=countdown)  # Retry: queued, the normal case
            except Reject as not_queued:  # Task.retry's publish failed: see above
                if reason is None:
                    log.warning("retry_not_queued", error=str(not_queued.reason),
                                error_type=type(not_queued.reason).__name__,
                                action="holding the message until Redis takes the retry")
                reason = not_queued.reason
            if time.monotonic() + delay >= deadline:
                break
            time.sleep(delay)
            delay = min(delay * 2, 5.0)
    except SoftTimeLimitExceeded as limit:  # never let the task fail here: that deletes the message
        reason = limit
    log.error("retry_not_queued", error=str(reason), error_type=type(reason).__name__,
              action="rejecting the message for requeueing (it stays unacknowledged if Redis refuses that too)")
    raise Reject(reason, requeue=True)


def _hold_deadline(self: Task, started: float) -> float:
    """When a task that cannot queue its retry stops trying: before its soft time limit."""
    hard, soft = (tuple(self.request.timelimit or ()) + (None, None))[:2]
    conf = self.app.conf
    limit = (soft or self.soft_time_limit or conf.task_soft_time_limit
             or hard or self.time_limit or conf.task_time_limit)
    if not limit:
        return started + HOLD_SECONDS
    return started + max(0.0, float(limit) - HOLD_MARGIN_SECONDS)


def _stage_of(exc: BaseException) -> str | None:
    """The stage that raised (set by Pipeline._stage), for metrics."""
    return getattr(exc, "stage", None) or getattr(exc, "failed_stage", None)


def _ingest(self: Task, message: dict[str, Any], started: float) -> dict[str, Any]:
    pipeline = get_pipeline(self.app)
    try:
        doc = decode_document(message)
    except (KeyError, TypeError, ValueError) as exc:
        log.error("dead_letter", error_type="bad_request", reason=f"malformed task message: {exc}")
        return {"doc_id": None, "status": "rejected"}
    max_attempts = pipeline.settings.limits.max_attempts
    attempts = count_attempt(pipeline.client, pipeline.keys.attempts(doc.doc_id))
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
            error: Exception = exc
            if isinstance(exc, REFUSED_WRITES):
                # an outage, never a bug (``internal:``); while Redis still refuses, this dead
                # letter fails too, and the outer handler retries
                error = RedisRefusedWrite(f"{type(exc).__name__}: {exc}")
                error.stage = _stage_of(exc)  # type: ignore[attr-defined]
            outcome = pipeline.dead_letter(doc, error, attempts)
            metrics.record_outcome("dead_letter", getattr(exc, "timings_ms", {}), stage=_stage_of(exc),
                                   error_type=outcome.error_type)
            bound.error("dead_letter", error_type=outcome.error_type, reason=str(exc))
        else:
            metrics.record_retry(getattr(exc, "code", type(exc).__name__), getattr(exc, "timings_ms", {}), _stage_of(exc))
            bound.warning("retry", error=str(exc), error_type=type(exc).__name__)
            retry_keeping_message(self, exc, _backoff(attempts), started)
    except Exception as exc:  # a bug, not an outage: retrying cannot help; keep the input for reprocessing
        # (if Redis refuses this dead letter, the error reaches the outer handler: retried)
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
