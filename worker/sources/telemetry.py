"""The sources' Prometheus instruments: fetch status codes, robots.txt refusals, politeness
waits, feed polls. Defined here, in the stage that moves them (a stage imports nothing of the
layers above it, worker.ops among them); worker/ops/metrics.py serves this registry next to its
own, and in multiprocess mode their values are in the same files as every other counter.

Built on first use, not at import: in multiprocess mode prometheus-client opens a value file in
PROMETHEUS_MULTIPROC_DIR as soon as a metric without labels is built, and the `storyline`
command imports this module before the worker has created (and emptied) that directory.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram

REGISTRY = CollectorRegistry()
_lock = threading.Lock()


class _Lazy:
    """A metric built by ``factory`` the first time anything of it is used."""

    def __init__(self, factory: Callable[[], Any]) -> None:
        self._factory = factory
        self._metric: Any = None

    def get(self) -> Any:
        if self._metric is None:
            with _lock:
                if self._metric is None:
                    self._metric = self._factory()
        return self._metric

    def __getattr__(self, name: str) -> Any:
        return getattr(self.get(), name)


FETCH_RESPONSES = _Lazy(lambda: Counter(
    "storyline_fetch_responses",
    "HTTP fetches by kind (page, feed, robots) and outcome: the status code of each response "
    "(redirect hops included; 304 = not modified), or timeout / transport_error when none came.",
    ["kind", "code"], registry=REGISTRY,
))
ROBOTS_REFUSALS = _Lazy(lambda: Counter(
    "storyline_robots_refusals", "Pages not fetched because the host's robots.txt disallows them.", registry=REGISTRY,
))
#: buckets in seconds: the per-host delay is about 1 s; host_wait_seconds bounds a wait
POLITENESS_WAIT_SECONDS = _Lazy(lambda: Histogram(
    "storyline_politeness_wait_seconds",
    "Time a fetch waited for its host's slot (per-host concurrency and delay), in seconds.",
    buckets=(0.0, 0.05, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0), registry=REGISTRY,
))
HOST_BUSY = _Lazy(lambda: Counter(
    "storyline_host_busy", "Fetches put back on the queue because their host stayed busy past host_wait_seconds.",
    registry=REGISTRY,
))
FEED_POLLS = _Lazy(lambda: Counter(
    "storyline_feed_polls",
    "Feed polls by feed id and outcome (polled, not_modified, error, dead_letter, backoff, busy, unknown).",
    ["feed", "status"], registry=REGISTRY,
))
FEED_POLL_SECONDS = _Lazy(lambda: Histogram(
    "storyline_feed_poll_seconds", "Time one feed poll took (fetch, parse, hand-on), in seconds.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0), registry=REGISTRY,
))
ALL = (FETCH_RESPONSES, ROBOTS_REFUSALS, POLITENESS_WAIT_SECONDS, HOST_BUSY, FEED_POLLS, FEED_POLL_SECONDS)


def build_all() -> None:
    """Build every instrument now (the serving process, and tests listing what is exported)."""
    for metric in ALL:
        metric.get()


def record_fetch(kind: str, code: int | str) -> None:
    FETCH_RESPONSES.labels(kind, str(code)).inc()


def record_feed_poll(feed_id: str, status: str, seconds: float) -> None:
    FEED_POLLS.labels(feed_id, status).inc()
    FEED_POLL_SECONDS.observe(seconds)
