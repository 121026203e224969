"""Per-host politeness shared by every worker: at most ``per_host_concurrency`` fetches at once
on a host, and at least ``per_host_delay_seconds`` between two fetches starting there.

State is a lease set and a next-start time per host in Redis, changed by one Lua script, so the
limits hold across processes and machines. Leases expire, so a worker killed mid-fetch frees its
slot after the lease (the fetch's total timeout plus a margin) instead of blocking the host.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources

import redis

from worker.errors import HostBusy
from worker.settings import FetchSettings
from worker.store.keys import Keys
from worker.sources import telemetry as metrics

_SCRIPT = resources.files("worker.sources").joinpath("lua/host_slot.lua").read_text()


class HostSlots:
    def __init__(self, client: redis.Redis, keys: Keys, settings: FetchSettings) -> None:
        self.client = client
        self.keys = keys
        self.settings = settings
        self._acquire = client.register_script(_SCRIPT)
        #: a lease outlives the longest possible fetch, in ms
        self.lease_ms = int((settings.total_timeout + 10) * 1000)

    def try_acquire(self, host: str, token: str, crawl_delay: float | None = None) -> int:
        """0 when ``token`` now holds a slot on ``host``, else the ms to wait before retrying.
        ``crawl_delay`` (the host's robots.txt Crawl-delay, seconds): at least that long between
        two fetches starting there, one at a time, whatever the configured delay."""
        delay = self.settings.per_host_delay_seconds
        concurrency = self.settings.per_host_concurrency
        if crawl_delay:
            delay, concurrency = max(delay, crawl_delay), 1
        return int(self._acquire(
            keys=[self.keys.host_slots(host), self.keys.host_next(host)],
            args=[token, concurrency, int(delay * 1000), self.lease_ms],
        ))

    def release(self, host: str, token: str) -> None:
        self.client.zrem(self.keys.host_slots(host), token)

    @contextmanager
    def slot(self, host: str, crawl_delay: float | None = None) -> Iterator[None]:
        """Hold a slot on ``host`` for the block; waits up to ``host_wait_seconds``, then raises
        HostBusy so the task is put back on the queue instead of holding a worker process."""
        token = uuid.uuid4().hex
        started = time.monotonic()
        deadline = started + self.settings.host_wait_seconds
        while True:
            wait_ms = self.try_acquire(host, token, crawl_delay)
            if wait_ms == 0:
                metrics.POLITENESS_WAIT_SECONDS.observe(time.monotonic() - started)
                break
            if time.monotonic() + wait_ms / 1000 > deadline:
                metrics.HOST_BUSY.inc()
                raise HostBusy(f"{host} is busy (per-host politeness); try again in {wait_ms / 1000:.1f}s")
            time.sleep(wait_ms / 1000)
        try:
            yield
        finally:
            self.release(host, token)
