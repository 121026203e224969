"""A worker that is alive but no longer consumes exits, so its supervisor starts a fresh one.

Celery's consumer can go quiet after its broker connection drops and comes back: the process
runs, answers its metrics endpoint, holds no task, and takes none, while the queue fills (kombu
and Celery have had several such bugs: celery/celery#8030, #8091, #9054, #10205). Nothing in
Celery notices. This worker bootstep does: a daemon thread counts the tasks the consumer
receives and, every ``CHECK_SECONDS``, asks Redis how long the queue is. When, for
``Settings.consumer_stall_seconds`` in a row, the queue has messages, this worker has a free
process and it received nothing, the consumer is stalled: it logs ``consumer_stalled`` and asks
the process for a warm shutdown (SIGTERM), then exits hard if that has not ended it in
``EXIT_GRACE_SECONDS``. Its unacknowledged messages come back through their lease
(runtime/lease.py); `storyline replay`, systemd, Compose and Kubernetes restart the process.

Written here because Celery has no consumer liveness check; the rule itself is the pure
``Stall`` below, tested without a worker.
"""

from __future__ import annotations

import os
import signal
import threading
from dataclasses import dataclass
from typing import Any

import redis
import structlog
from celery.signals import task_received
from celery.worker import state as worker_state

from worker.runtime.steps import ThreadStep
from worker.store.keys import Keys

log = structlog.get_logger("storyline.watchdog")

#: seconds between two looks at the queue
CHECK_SECONDS = 10.0
#: seconds a warm shutdown may take before the process exits hard (a stalled consumer may not
#: shut down cleanly either)
EXIT_GRACE_SECONDS = 60.0


@dataclass
class Stall:
    """How long the consumer has looked stalled: fed one observation per check."""

    limit_seconds: float
    stalled_for: float = 0.0
    _last_received: int = 0

    def observe(self, *, received: int, queued: int, held: int, capacity: int, elapsed: float) -> bool:
        """One check: ``received`` tasks so far, ``queued`` messages waiting, ``held`` tasks this
        worker has (running, reserved, waiting for an ETA) of ``capacity``; True once stalled."""
        took_none = received == self._last_received
        self._last_received = received
        if queued > 0 and held < capacity and took_none:
            self.stalled_for += elapsed
        else:
            self.stalled_for = 0.0
        return self.limit_seconds > 0 and self.stalled_for >= self.limit_seconds


class ConsumerWatchdog(ThreadStep):
    """Worker bootstep: exits a worker whose consumer stopped taking tasks (module docstring)."""

    requires = ("celery.worker.components:Pool",)

    def __init__(self, parent: Any, **kwargs: Any) -> None:
        super().__init__(parent, **kwargs)
        self._received = 0

    def _count(self, **_kwargs: Any) -> None:
        self._received += 1

    def start(self, w: Any) -> None:
        settings = getattr(w.app.conf, "storyline_settings", None)
        if settings is None or settings.broker_url or settings.consumer_stall_seconds <= 0:
            return  # another broker (RabbitMQ has consumer timeouts of its own), or switched off
        if threading.current_thread() is not threading.main_thread():
            return  # a worker run inside another program's thread (tests): its process is not ours to end
        task_received.connect(self._count, weak=False)
        self._start_thread(self._run, (w, settings.redis_url, Keys(settings.prefix).broker_queue,
                                       float(settings.consumer_stall_seconds)), "storyline-watchdog")

    def stop(self, w: Any) -> None:
        task_received.disconnect(self._count)
        super().stop(w)

    def _run(self, w: Any, url: str, queue_key: str, limit: float) -> None:
        client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        stall = Stall(limit)
        while not self._stop.wait(CHECK_SECONDS):
            try:
                queued = int(client.llen(queue_key))
            except (redis.RedisError, OSError):
                stall.stalled_for = 0.0  # Redis away: the consumer is not to blame, the clock restarts
                continue
            if stall.observe(received=self._received, queued=queued, held=len(worker_state.reserved_requests),
                             capacity=int(w.concurrency or 1), elapsed=CHECK_SECONDS):
                log.error("consumer_stalled", queued=queued, stalled_seconds=round(stall.stalled_for),
                          action="warm shutdown: the supervisor starts a fresh worker; unacknowledged "
                                 "tasks come back through their lease")
                os.kill(os.getpid(), signal.SIGTERM)
                if not self._stop.wait(EXIT_GRACE_SECONDS):
                    log.error("consumer_stalled_exit", action="the warm shutdown did not end the process: exiting")
                    os._exit(70)
                break
        client.close()
