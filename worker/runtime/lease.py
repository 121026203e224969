"""A lost worker's tasks are taken over within about a minute: a lease on each delivery.

kombu's Redis transport keeps every delivered, unacknowledged message in the ``unacked`` hash,
scored in the ``unacked_index`` zset by the time it was delivered, and any worker's periodic
``restore_visible`` puts back on the queue those scored more than ``visibility_timeout`` ago. On
its own that forces a choice: a timeout above the longest task (20 min here) so a running task is
never handed out twice, or a short one that hands out the running tasks of live workers too.

A lease removes the choice: the visibility timeout is short (``Settings.visibility_timeout``,
30 s) and each live worker renews it for its own deliveries, setting their scores to now every
third of it (``ZADD XX``, so an acknowledged tag is never brought back). A worker that stops
renewing (SIGKILL, OOM, a lost machine, a partition longer than the lease) leaves its deliveries
to age; the next restore scan of any other worker (every ``RESTORE_INTERVAL_SECONDS``) requeues
them. A task redelivered so runs again on another worker, which the pipeline makes safe: its
input's id drives every decision and event id, so no event is published twice.

kombu has no renewal of its own (Celery's docs advise a visibility timeout above the longest
ETA), hence this consumer bootstep. It reads the deliveries from kombu's virtual QoS
(``_delivered``: every message this worker received and has not yet acknowledged, running,
reserved or waiting for an ETA), the one internal attribute used, and writes with a Redis client
of its own, in a daemon thread, so a busy event loop never delays a renewal.
"""

from __future__ import annotations

import time
from typing import Any

import redis
import structlog

from worker.runtime.steps import ThreadStep

log = structlog.get_logger("storyline.lease")

#: how often each worker scans for expired leases (kombu's ``unacked_restore_interval``,
#: with the throttle at 1 so every tick scans: one ZRANGE BYSCORE LIMIT, a few microseconds)
RESTORE_INTERVAL_SECONDS = 5


def renew_interval(visibility_timeout: float) -> float:
    """Seconds between two renewals: a third of the lease, so two renewals can fail (a Redis
    blip) before a live worker's deliveries look abandoned."""
    return max(0.5, visibility_timeout / 3)


def renew(client: redis.Redis, index_key: str, tags: list[str], now: float | None = None) -> int:
    """Sets the score of each still-unacknowledged ``tags`` to ``now``; returns how many were renewed.
    ``XX``: a tag acknowledged meanwhile is not in the index and is not added back. ``CH``: count them."""
    if not tags:
        return 0
    stamp = time.time() if now is None else now
    return int(client.zadd(index_key, {tag: stamp for tag in tags}, xx=True, ch=True))


class LeaseRenewal(ThreadStep):
    """Consumer bootstep: renews this worker's deliveries while it runs (see the module docstring)."""

    requires = ("celery.worker.consumer.tasks:Tasks",)

    def start(self, c: Any) -> None:
        options = c.app.conf.broker_transport_options or {}
        channel: Any = getattr(c.task_consumer, "channel", None)
        qos = getattr(channel, "qos", None)
        if not hasattr(qos, "unacked_index_key"):  # not kombu's Redis transport (RabbitMQ redelivers itself)
            return
        settings = getattr(c.app.conf, "storyline_settings", None)
        url = (settings.redis_url if settings is not None else None) or c.app.conf.broker_url
        index_key = f"{options.get('global_keyprefix', '')}{channel.unacked_index_key}"
        interval = renew_interval(float(options.get("visibility_timeout", 3600)))
        self._start_thread(self._run, (c, url, index_key, interval), "storyline-lease")

    def _run(self, c: Any, url: str, index_key: str, interval: float) -> None:
        client = redis.Redis.from_url(url, socket_timeout=max(1.0, interval / 2), socket_connect_timeout=max(1.0, interval / 2))
        while not self._stop.wait(interval):
            try:
                # the channel of now: a reconnection to the broker builds a new one
                qos = c.task_consumer.channel.qos
                tags = [str(t) for t in list(qos._delivered)]
                renew(client, index_key, tags)
            except (redis.RedisError, OSError) as exc:
                log.warning("lease_renewal_failed", error=str(exc), error_type=type(exc).__name__)
            except (AttributeError, RuntimeError) as exc:  # mid-reconnection, or the dict changed while copied
                log.debug("lease_renewal_skipped", error=str(exc))
        client.close()
