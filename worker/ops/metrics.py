"""Prometheus metrics of the worker: what each input became, how long each stage took, and how
far behind the queue and the consumers of the output streams are.

Design (Celery prefork)
-----------------------
Tasks run in forked pool processes, but there is one HTTP port per worker. Two kinds of metric,
two mechanisms:

* **Counters and histograms** are incremented inside the pool processes. With
  ``PROMETHEUS_MULTIPROC_DIR`` set (``storyline worker`` sets it to a fresh directory when
  metrics are on; the Docker image sets it to /tmp/storyline-metrics), prometheus-client keeps
  every process's values in an mmap file of that directory, and the HTTP server in the Celery
  main process sums them at scrape time (``MultiProcessCollector``). Counters of recycled
  children (``worker_max_tasks_per_child``) stay in their files, so totals never go backwards
  while the worker runs. The directory is emptied when the worker starts, as the
  prometheus-client docs require.
* **Gauges about Redis** (queue length, stream length, consumer-group pending and lag) are
  not kept in any process: ``RedisCollector`` asks Redis at scrape time, in the process that
  serves HTTP. Nothing to aggregate, nothing stale, and no multiprocess gauge modes to get wrong.

With a single-process pool (threads, solo, or the test worker) no directory is needed: the
same counters live in this module's registry and are served from it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import redis
import structlog
from prometheus_client import CollectorRegistry, Counter, Histogram, multiprocess, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from worker.model import Stage
from worker.settings import Settings
from worker.store.client import connect
from worker.store.keys import Keys
from worker.sources import telemetry as source_telemetry

log = structlog.get_logger("storyline.metrics")

#: Storyline's own registry: the metrics below and nothing of other libraries
REGISTRY = CollectorRegistry()

#: stages in pipeline order, as they appear in ``Outcome.timings_ms`` and dead letters
STAGES = tuple(Stage)

INPUTS = Counter(
    "storyline_inputs", "Inputs finished, by what they became (article, duplicate, dead_letter).",
    ["outcome"], registry=REGISTRY,
)
STAGE_RUNS = Counter(
    "storyline_stage_runs", "Stage runs by stage and outcome (ok, or error when the stage raised).",
    ["stage", "outcome"], registry=REGISTRY,
)
DEAD_LETTERS = Counter(
    "storyline_dead_letters", "Inputs dead-lettered, by the stage that gave up and the error type.",
    ["stage", "error_type"], registry=REGISTRY,
)
RETRIES = Counter(
    "storyline_retries", "Task attempts that failed transiently and were scheduled again.",
    ["error_type"], registry=REGISTRY,
)
#: buckets in seconds: extraction of a page takes 5-200 ms, a pathological page up to the
#: task time limit; Redis stages take well under 10 ms
STAGE_SECONDS = Histogram(
    "storyline_stage_seconds", "Time spent in each stage of one input, in seconds.", ["stage"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 120.0),
    registry=REGISTRY,
)


class BuildInfo(Collector):
    """``storyline_build_info{version, python, celery}`` = 1: which release each process runs
    (a dashboard shows a rollout; an alert finds a fleet on two versions)."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        import platform

        from worker import __version__

        try:
            from importlib.metadata import version

            celery_version = version("celery")
        except Exception:  # pragma: no cover - celery is a dependency
            celery_version = "unknown"
        family = GaugeMetricFamily("storyline_build_info", "Storyline's version and its runtime's; always 1.",
                                   labels=["version", "python", "celery"])
        family.add_metric([__version__, platform.python_version(), celery_version], 1)
        yield family


def record_stages(timings_ms: dict[str, float], failed_stage: str | None = None) -> None:
    """Count and time each stage that ran; ``failed_stage`` (if any) is the one that raised."""
    for stage, ms in timings_ms.items():
        STAGE_SECONDS.labels(stage).observe(ms / 1000.0)
        STAGE_RUNS.labels(stage, "error" if stage == failed_stage else "ok").inc()
    if failed_stage and failed_stage not in timings_ms:
        # a stage that failed before timing started (read, or the attempts gate) still counts
        STAGE_RUNS.labels(failed_stage, "error").inc()


def record_outcome(status: str, timings_ms: dict[str, float], *, stage: str | None = None,
                   error_type: str | None = None) -> None:
    """Record one finished input: its outcome, its stages, and why it was dead-lettered."""
    INPUTS.labels(status).inc()
    if status == "dead_letter":
        stage = stage or Stage.EXTRACT  # the stage a dead letter without one is filed under
        DEAD_LETTERS.labels(stage, error_type or "unknown").inc()
    record_stages(timings_ms, failed_stage=stage if status == "dead_letter" else None)


def record_retry(error_type: str, timings_ms: dict[str, float], stage: str | None) -> None:
    RETRIES.labels(error_type).inc()
    record_stages(timings_ms, failed_stage=stage)


class RedisCollector(Collector):
    """Gauges read from Redis at scrape time: the Celery queue, the output streams and their
    consumer groups. Each scrape costs 1 LLEN + 2 commands per stream + 1 XRANGE (of at most
    one entry) per consumer group: well under 1 ms."""

    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self._client = client
        self._keys = keys

    @property
    def queue_key(self) -> str:
        """The Redis list of waiting ingest tasks: Celery's queue under global_keyprefix."""
        return self._keys.broker_queue

    def collect(self) -> Iterator[GaugeMetricFamily]:
        up = GaugeMetricFamily("storyline_redis_up", "1 when the last scrape could read Redis.")
        queue = GaugeMetricFamily("storyline_queue_length", "Ingest tasks waiting in the Celery queue.", labels=["queue"])
        length = GaugeMetricFamily("storyline_stream_length", "Entries in each output stream and in the request stream (XLEN).", labels=["stream"])
        pending = GaugeMetricFamily(
            "storyline_consumer_group_pending",
            "Entries delivered to a consumer group and not yet acknowledged (XINFO GROUPS pending).",
            labels=["stream", "group"])
        lag = GaugeMetricFamily(
            "storyline_consumer_group_lag",
            "Entries in the stream not yet delivered to a consumer group (XINFO GROUPS lag, Redis >= 7).",
            labels=["stream", "group"])
        try:
            queue.add_metric([self._keys.queue], self._client.llen(self.queue_key))
            # the request stream too: its consume group's lag is how far `storyline consume` is behind
            for stream in (*self._keys.output_streams, self._keys.requests):
                short = stream.removeprefix(f"{self._keys.prefix}:")
                entries = self._client.xlen(stream)
                length.add_metric([short], entries)
                for group in self._groups(stream):
                    name = _text(group["name"])
                    pending.add_metric([short, name], group.get("pending") or 0)
                    group_lag = self._lag(stream, group, entries)
                    if group_lag is not None:  # None when Redis cannot tell (after XDEL/trim)
                        lag.add_metric([short, name], group_lag)
            up.add_metric([], 1)
        except redis.RedisError as exc:
            log.warning("metrics_redis_unreachable", error=str(exc))
            up.add_metric([], 0)
            yield up
            return
        yield from (up, queue, length, pending, lag)

    def _lag(self, stream: str, group: dict[str, Any], entries: int) -> int | None:
        """The group's lag, checked against the stream. Redis computes it as entries added minus
        the group's ``entries-read``, and after a restart that counter can be stale: the AOF's
        RDB preamble restores it, then the replayed reads (XCLAIM ... LASTID) move the group on
        without counting, so a group that has read everything showed a lag of 486. A group with
        no entry after its last-delivered id has nothing to read (lag 0, one XRANGE of at most one
        entry), and no group can lag by more entries than the stream holds."""
        last = group.get("last-delivered-id")
        if last is not None and not self._client.xrange(stream, min=f"({_text(last)}", count=1):
            return 0
        reported = group.get("lag")
        return None if reported is None else min(int(reported), entries)

    def _groups(self, stream: str) -> Iterable[dict[str, Any]]:
        try:
            groups: list[dict[str, Any]] = self._client.xinfo_groups(stream)
            return groups
        except redis.ResponseError:  # no such key: the stream has no entries and no group yet
            return []


class _Forward(Collector):
    """Serves another registry's metrics, so each endpoint gets its own Redis collector."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._registry = registry

    def collect(self) -> Iterable[Any]:
        return self._registry.collect()


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def multiprocess_dir() -> str | None:
    """The directory of multiprocess mode, when prometheus-client runs in it."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or os.environ.get("prometheus_multiproc_dir")


def serving_registry(client: redis.Redis, keys: Keys) -> CollectorRegistry:
    """The registry the HTTP endpoint serves: every process's counters plus the Redis gauges."""
    if multiprocess_dir():
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry = CollectorRegistry()
        registry.register(_Forward(REGISTRY))
        source_telemetry.build_all()  # so their families are served before the first fetch
        registry.register(_Forward(source_telemetry.REGISTRY))  # the sources' own instruments
    registry.register(RedisCollector(client, keys))
    registry.register(BuildInfo())
    return registry


def serve(port: int, client: redis.Redis, keys: Keys, addr: str = "127.0.0.1") -> tuple[Any, Any]:
    """Start the /metrics HTTP server in a daemon thread; returns (server, thread)."""
    return start_http_server(port, addr=addr, registry=serving_registry(client, keys))


def reset_multiprocess_dir(path: str) -> None:
    """Remove the value files of a previous run (their pids may be reused by new processes)."""
    Path(path).mkdir(parents=True, exist_ok=True)
    for f in Path(path).glob("*.db"):
        f.unlink()


def _pool_forks(pool_cls: object) -> bool:
    """Whether the worker's pool runs tasks in child processes (prefork, Celery's default)."""
    name = pool_cls if isinstance(pool_cls, str) else f"{getattr(pool_cls, '__module__', '')}.{getattr(pool_cls, '__name__', '')}"
    return "prefork" in name or "processes" in name


def serve_from_worker(sender: Any) -> None:
    """Start /metrics in the Celery main process, before the pool forks, when metrics_port > 0.
    Called from the ``worker_init`` signal (worker/runtime/signals.py) with the WorkController."""
    app = getattr(sender, "app", None)
    settings: Settings | None = getattr(getattr(app, "conf", None), "storyline_settings", None)
    if settings is None or settings.metrics_port <= 0:
        return
    directory = multiprocess_dir()
    if directory:
        reset_multiprocess_dir(directory)
    elif _pool_forks(getattr(sender, "pool_cls", "prefork")) and (getattr(sender, "concurrency", 1) or 1) > 1:
        # the counters would stay at 0 (they move in the children and nothing collects them):
        # serve nothing rather than numbers that lie. (Raising here would only be logged by Celery.)
        log.error("metrics_disabled", reason="a prefork pool needs PROMETHEUS_MULTIPROC_DIR (an empty, writable "
                  "directory); `storyline worker --metrics-port N` sets one for you")
        return
    serve(settings.metrics_port, connect(settings.redis_url or ""), Keys(settings.prefix), addr=settings.metrics_addr)
    log.info("metrics_serving", addr=settings.metrics_addr, port=settings.metrics_port, multiprocess_dir=directory)
