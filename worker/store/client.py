"""The only place that constructs Redis clients."""

from __future__ import annotations

import time

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from worker.errors import TransientError


def connect(url: str, *, wait_seconds: float = 10.0) -> redis.Redis:
    """A client for ``url`` that retries dropped connections, after checking the server answers.

    Waits up to ``wait_seconds`` for the server (it may be restarting) before giving up with a
    TransientError, so callers retry instead of crashing.
    """
    client = redis.Redis.from_url(
        url,
        retry=Retry(ExponentialBackoff(cap=2.0, base=0.05), retries=8),
        retry_on_error=[redis.ConnectionError, redis.TimeoutError],
        health_check_interval=30,
        socket_connect_timeout=5,
        socket_keepalive=True,
    )
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            client.ping()
            return client
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            if time.monotonic() >= deadline:
                raise TransientError(f"Redis at {url} does not answer: {exc}") from exc
            time.sleep(0.2)
