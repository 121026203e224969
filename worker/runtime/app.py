"""The Celery app, built from Settings by ``create_app``; nothing is built at import.
``celery -A worker.app`` gets ``default_app()`` through worker/app.py."""

from __future__ import annotations

from functools import cache

from celery import Celery

from worker.runtime.lease import RESTORE_INTERVAL_SECONDS, LeaseRenewal
from worker.runtime.watchdog import ConsumerWatchdog
from worker.runtime.messages import INGEST_TASK
from worker.settings import Settings
from worker.store.keys import Keys

#: the Redis of a bare ``celery -A worker.app`` with no REDIS_URL (as before: a local one)
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
#: the modules whose tasks and signal handlers a worker of this app loads
TASK_MODULES = ["worker.runtime.tasks", "worker.runtime.source_tasks"]


def create_app(settings: Settings) -> Celery:
    if not settings.redis_url:
        raise RuntimeError("no Redis configured: set REDIS_URL or pass --redis (the CLI can start an embedded one)")
    keys = Keys(settings.prefix)
    app = Celery("storyline", broker=settings.broker_url or settings.redis_url, include=TASK_MODULES)
    app.conf.update(
        # acknowledge after the task ran, so a worker killed mid-task leaves the message to redeliver
        task_acks_late=True,
        # ... and also when the worker process dies (SIGKILL, OOM), not only on clean failures
        task_reject_on_worker_lost=True,
        # a task that failed unexpectedly stays unacknowledged and comes back after the visibility
        # timeout (our attempt counter then dead-letters it) instead of being silently dropped
        task_acks_on_failure_or_timeout=False,
        # one message in flight per process: a slow page never holds others hostage
        worker_prefetch_multiplier=1,
        # JSON only: no pickle from a shared broker
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        # outcomes are counted in Redis by the pipeline itself; Celery results are not needed
        task_ignore_result=True,
        # a hard limit per task, and a soft one just below it so the task can dead-letter itself
        task_time_limit=settings.task_time_limit,
        task_soft_time_limit=settings.task_time_limit - max(1, min(10, settings.task_time_limit // 5)),
        broker_transport_options={
            # the task message is JSON text already: kombu's default base64 around it made every
            # message a third bigger in the queue, in the unacked copy acks_late keeps, and on the
            # wire both ways, and cost an encode and a decode (bench/pipeline.py: KiB and ms per
            # document). A message queued by an older sender still names its own encoding.
            "body_encoding": "utf-8",
            # an unacked message is redelivered after this long without its worker renewing the
            # lease (worker/runtime/lease.py): a lost worker's tasks go to another in ~35 s
            "visibility_timeout": settings.visibility_timeout,
            # scan for expired leases every 5 s (kombu: every 10 s, and only every 10th time)
            "unacked_restore_interval": RESTORE_INTERVAL_SECONDS,
            "unacked_restore_throttle": 1,
            # a scan holds a mutex; one held by a worker killed mid-scan expires after this
            # (kombu: 300 s, which would stall every restore for 5 minutes)
            "unacked_mutex_expire": max(10, settings.visibility_timeout),
            # every queue and unacked-index key under our prefix
            "global_keyprefix": f"{settings.prefix}:celery:",
        },
        broker_connection_retry_on_startup=True,
        # keep reconnecting to Redis forever rather than exiting when it restarts
        broker_connection_max_retries=None,
        task_default_queue=keys.queue,
        task_routes={INGEST_TASK: {"queue": keys.queue}},
        worker_hijack_root_logger=False,
        # our structlog lines go to stderr as they are, not re-logged by Celery as warnings
        worker_redirect_stdouts=False,
        # a worker that has processed many documents is replaced, bounding slow leaks in parsers
        worker_max_tasks_per_child=2000,
        # a worker is recycled past this resident size, in KiB (1.5 GiB)
        worker_max_memory_per_child=1_500_000,
        # no task events by default: three event messages per task cost 8% of one worker's
        # throughput (bench/pipeline.py); Flower turns them on at run time (enable_events), and
        # `celery -A worker.app control enable_events` does for any other monitor
        worker_send_task_events=False,
        task_send_sent_event=False,
        # feed polls are scheduled by celery-redbeat: the schedule lives in Redis (it survives
        # restarts and `feeds add` edits it), and its lock lets one beat of many send each poll
        beat_scheduler="redbeat.RedBeatScheduler",
        redbeat_redis_url=settings.redis_url,
        redbeat_key_prefix=keys.redbeat_prefix,
        # set, so redbeat does not borrow the broker's transport options; keep retrying Redis
        # for up to 60 s when it restarts
        redbeat_redis_options={"retry_period": 60},
    )
    app.conf.storyline_settings = settings
    if settings.json_logs:  # every line of the process one JSON object, Celery's own too
        from worker.ops.logs import take_over_celery_logging

        take_over_celery_logging(settings.log_level)
    # each worker renews the lease of its own deliveries while it lives
    app.steps["consumer"].add(LeaseRenewal)
    # and exits when its consumer stops taking tasks that are waiting (a broker reconnection bug)
    app.steps["worker"].add(ConsumerWatchdog)
    return app



@cache
def default_app() -> Celery:
    """The app of the environment's Settings (read once), for Celery's own command line."""
    settings = Settings()
    return create_app(settings.with_overrides(redis_url=settings.redis_url or DEFAULT_REDIS_URL))
