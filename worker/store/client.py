"""The only place that constructs Redis clients."""

from __future__ import annotations

import time

import redis
from kombu.utils.url import maybe_sanitize_url
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from worker.errors import TransientError

#: seconds a reply may take before the socket times out. Set here rather than left to redis-py,
#: whose default (5 s since 6.x) a stream reader must know to block for less than it
SOCKET_TIMEOUT_SECONDS = 5.0
#: what a blocking read leaves between its BLOCK and the socket timeout, in ms
_BLOCK_MARGIN_MS = 1000


def masked(url: str | None) -> str:
    """``url`` with its password shown as ``**``, as Celery's banner shows it: for every URL a
    message, a log line or an error prints (kombu's own sanitiser, which knows the broker URL forms)."""
    return maybe_sanitize_url(url or "") or ""


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
        socket_timeout=SOCKET_TIMEOUT_SECONDS,
        socket_keepalive=True,
    )
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            client.ping()
            return client
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            if time.monotonic() >= deadline:
                raise TransientError(f"Redis at {masked(url)} does not answer: {exc}") from exc
            time.sleep(0.2)


def read_block_ms(client: redis.Redis, block_ms: int | None) -> int | None:
    """``block_ms`` for an XREAD/XREADGROUP on ``client``, cut to end a second before the
    client's socket timeout. A BLOCK as long as the socket timeout (5 s each by default) makes
    every idle read a TimeoutError, which the client's retry repeats (8 times, about a minute)
    and then raises: a reader of an idle stream died. None (do not block) stays None."""
    if block_ms is None:
        return None
    timeout = client.connection_pool.connection_kwargs.get("socket_timeout")
    if not timeout:
        return block_ms
    return max(1, min(block_ms, int(timeout * 1000) - _BLOCK_MARGIN_MS))
