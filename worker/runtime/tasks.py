"""The ingest task: thin. It decodes the message, counts the delivery, calls the pipeline, and
maps a failure to retry or dead letter through the one mapping of ``retry.judge``."""

from __future__ import annotations

import time
from typing import Any

import redis
import structlog
from celery import Task, shared_task

from worker.errors import BadRequest, StageFailure, TransientError
from worker.model import InputDocument, Outcome, Stage, Status
from worker.ops import metrics
from worker.pipeline import Pipeline
from worker.runtime.messages import INGEST_TASK, decode_document, malformed_document
from worker.runtime.retry import backoff, count_attempt, error_code, judge, retry_keeping_message
from worker.runtime.signals import get_pipeline

log = structlog.get_logger("storyline.tasks")


@shared_task(bind=True, name=INGEST_TASK, acks_late=True, max_retries=None)
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
        metrics.record_retry(type(exc).__name__, {}, None)
        retry_keeping_message(self, exc, backoff(self.request.retries + 1), started)
    finally:
        structlog.contextvars.clear_contextvars()  # the next task in this process starts clean


def _ingest(self: Task, message: dict[str, Any], started: float) -> dict[str, Any]:
    pipeline = get_pipeline(self.app)
    try:
        doc = decode_document(message, pipeline.settings.limits.max_bytes)
    except (KeyError, TypeError, ValueError) as exc:
        # nothing to retry: the message itself is broken. Published, so it is seen and counted
        bad = malformed_document(message)
        outcome = _dead_letter(pipeline, bad, BadRequest(f"malformed task message: {exc}"), 1, Stage.REQUEST, {},
                               log.bind(doc_id=bad.doc_id), "error")
        return {"doc_id": outcome.doc_id, "status": outcome.status}
    max_attempts = pipeline.settings.limits.max_attempts
    attempts = count_attempt(pipeline.client, pipeline.keys.attempts(doc.doc_id))
    # every log line of this input, in any stage, carries its ids (the input's id is also the
    # article_id of the article or duplicate it becomes)
    structlog.contextvars.bind_contextvars(doc_id=doc.doc_id, article_id=doc.doc_id, source=doc.uri,
                                           source_kind=doc.source_kind, attempt=attempts)
    bound = log.bind(doc_id=doc.doc_id, source=doc.uri, attempt=attempts)
    if attempts > max_attempts:
        # delivered again and again without finishing: the worker may have crashed on it. Which
        # stage it was in is not known; the first one is named, as before
        gave_up = TransientError(f"delivered {attempts - 1} times without finishing (the worker may have crashed on it)")
        outcome = _dead_letter(pipeline, doc, gave_up, attempts, Stage.EXTRACT, {}, bound, "error")
        return {"doc_id": outcome.doc_id, "status": outcome.status}
    try:
        outcome = pipeline.process(doc)
    except StageFailure as failure:
        verdict = judge(failure.error)
        if verdict.retry and attempts < max_attempts:
            metrics.record_retry(error_code(failure.error), failure.timings_ms, failure.stage)
            bound.warning("retry", error=str(failure.error), error_type=type(failure.error).__name__,
                          stage=failure.stage)
            retry_keeping_message(self, failure.error, backoff(attempts), started)
        # (if Redis refuses this dead letter, the error reaches the outer handler: retried)
        outcome = _dead_letter(pipeline, doc, verdict.error, attempts, Stage(failure.stage), failure.timings_ms,
                               bound, verdict.log_level, metric_error_type=verdict.metric_error_type,
                               reason=str(failure.error))
        return {"doc_id": outcome.doc_id, "status": outcome.status}
    metrics.record_outcome(outcome.status, outcome.timings_ms)
    bound.info(outcome.status, article_id=outcome.article_id, duplicate_of=outcome.duplicate_of,
               thread_id=outcome.thread_id, **{f"ms_{k}": round(v, 2) for k, v in outcome.timings_ms.items()})
    return {"doc_id": outcome.doc_id, "status": outcome.status}


def _dead_letter(pipeline: Pipeline, doc: InputDocument, error: BaseException, attempts: int, stage: Stage,
                 timings_ms: dict[str, float], bound: Any, level: str, *, metric_error_type: str | None = None,
                 reason: str | None = None) -> Outcome:
    """Publish the dead letter, count it and log it: the one place an ingest gives up."""
    outcome = pipeline.dead_letter(doc, error, attempts, stage)
    metrics.record_outcome(Status.DEAD_LETTER, timings_ms, stage=stage,
                           error_type=metric_error_type or outcome.error_type)
    getattr(bound, level)("dead_letter", stage=stage, error_type=metric_error_type or outcome.error_type,
                          reason=reason or str(error))
    return outcome
