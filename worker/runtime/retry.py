"""The retry policy of the tasks: which errors are outages worth retrying, how a failed attempt
is judged (one mapping, ``judge``), the delivery count, and how a retry is queued without ever
letting the message be deleted."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import NoReturn

import redis
import structlog
from celery import Task
from celery.exceptions import Reject, SoftTimeLimitExceeded

from worker.errors import PermanentError, RedisRefusedWrite, StorylineError, TransientError
from worker.settings import Settings

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
#: limit (or before Settings.task_time_limit when the task has no limit of its own), then
#: rejects its message for requeueing
HOLD_MARGIN_SECONDS = 10.0


@dataclass(frozen=True)
class Verdict:
    """What one failed attempt means."""

    #: an outage: try again while attempts remain, then dead-letter
    retry: bool
    #: the error the dead letter records (the original, or one that names the outage)
    error: BaseException
    #: the metrics' error type of a dead letter (None: the dead letter's own error_type)
    metric_error_type: str | None
    #: how the dead letter is logged: warning (the input's fault), error (an outage), exception (a bug)
    log_level: str


def judge(error: BaseException) -> Verdict:
    """The one mapping from a failed attempt's error to what happens next."""
    if isinstance(error, PermanentError):  # the input's fault: retrying cannot help
        return Verdict(False, error, None, "warning")
    if isinstance(error, SoftTimeLimitExceeded):  # the input takes too long: it would again
        return Verdict(False, TransientError("processing took longer than the task time limit"), "timeout", "warning")
    if isinstance(error, REFUSED_WRITES):
        # an outage, never a bug (``internal:``); while Redis still refuses, the dead letter fails
        # too, and the task's outer handler retries
        return Verdict(True, RedisRefusedWrite(f"{type(error).__name__}: {error}"), None, "error")
    if isinstance(error, RETRYABLE):  # an outage of Redis or the network
        return Verdict(True, error, None, "error")
    # a bug, not an outage: retrying cannot help; the dead letter keeps the input for reprocessing
    return Verdict(False, error, None, "exception")


def error_code(error: BaseException) -> str:
    """The short name of an error for metrics and logs."""
    return error.code if isinstance(error, StorylineError) else type(error).__name__


def backoff(retries: int) -> float:
    """Seconds before retry n: 1, 2, 4 ... capped at 60."""
    return float(min(60, 2**retries))


def count_attempt(client: redis.Redis, key: str) -> int:
    """One more delivery of an input counted under ``key`` (kept ATTEMPTS_TTL_SECONDS), in one
    round trip; returns the count so far."""
    with client.pipeline(transaction=False) as pipe:
        pipe.incr(key)
        pipe.expire(key, ATTEMPTS_TTL_SECONDS)
        return int(pipe.execute()[0])


def retry_keeping_message(task: Task, exc: BaseException, countdown: float, started: float) -> NoReturn:
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
    deadline = _hold_deadline(task, started)
    delay = 0.5
    reason: object = None
    try:
        while True:
            try:
                raise task.retry(exc=exc, countdown=countdown)  # Retry: queued, the normal case
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


def _hold_deadline(task: Task, started: float) -> float:
    """When a task that cannot queue its retry stops trying: before its soft time limit."""
    hard, soft = (tuple(task.request.timelimit or ()) + (None, None))[:2]
    conf = task.app.conf
    limit = (soft or task.soft_time_limit or conf.task_soft_time_limit
             or hard or task.time_limit or conf.task_time_limit)
    if not limit:
        settings = getattr(conf, "storyline_settings", None)
        return started + float(settings.task_time_limit if settings else Settings().task_time_limit)
    return started + max(0.0, float(limit) - HOLD_MARGIN_SECONDS)
