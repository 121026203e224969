"""Health checks of each process kind, for Docker's HEALTHCHECK and Kubernetes' exec probes:
``python -m worker.ops.health [--kind auto|worker|beat|consume|redis]``; exit 0 when healthy, 1
otherwise, with one JSON line saying why.

* **worker**: its /metrics endpoint answers (served by the Celery main process, which also reads
  Redis for the gauges: a started, unwedged worker), or, with metrics off, Redis answers.
* **beat**: Redis answers and a beat holds celery-redbeat's lock (``<prefix>:redbeat::lock``),
  so polls are being sent. Standby beats are healthy while another holds it.
* **consume**: Redis answers and a request consumer named after this host (``<host>-<pid>``,
  the default) has refreshed its heartbeat key within three blocking reads: the loop turns.
* **redis**: Redis answers (Flower, the example consumer).

``auto`` (the default) reads what the container runs from /proc/1/cmdline (PID 1 is tini, and
its argument the Storyline command), so one HEALTHCHECK in the Dockerfile fits every service.
Only the standard library and redis-py are imported: a probe starts in well under a second.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import urllib.request
from pathlib import Path
from typing import Any

KINDS = ("worker", "beat", "consume", "redis")


def kind_of(argv: list[str]) -> str:
    """The process kind a command line runs: `storyline worker|beat|consume`, else redis."""
    names = [Path(a).name for a in argv]
    if "storyline" in names:
        rest = names[names.index("storyline") + 1:]
        for word in rest:
            if word in ("worker", "beat", "consume"):
                return word
    return "redis"


def _pid1_argv() -> list[str]:
    try:
        return [a for a in Path("/proc/1/cmdline").read_bytes().decode().split("\0") if a]
    except OSError:
        return []


def _client(timeout: float) -> Any:
    import redis

    from worker.settings import Settings

    settings = Settings()
    if not settings.redis_url:
        raise RuntimeError("REDIS_URL is not set")
    return redis.Redis.from_url(settings.redis_url, socket_connect_timeout=timeout, socket_timeout=timeout), settings


def check(kind: str, timeout: float = 5.0) -> tuple[bool, str]:
    """(healthy, reason) for a process of ``kind``."""
    from worker.settings import Settings
    from worker.store.keys import Keys

    if kind == "worker":
        port = Settings().metrics_port
        if port > 0:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=timeout) as response:
                    body = response.read()
            except OSError as exc:
                return False, f"/metrics on port {port} does not answer: {exc}"
            if b"storyline_redis_up 1.0" not in body:
                return False, "/metrics answers but the worker cannot read Redis (storyline_redis_up 0)"
            return True, f"/metrics on port {port} answers and Redis is readable"
    try:
        client, settings = _client(timeout)
        client.ping()
    except Exception as exc:
        return False, f"Redis does not answer: {exc}"
    keys = Keys(settings.prefix)
    if kind == "beat":
        if not client.exists(f"{keys.redbeat_prefix}:lock"):
            return False, f"no beat holds {keys.redbeat_prefix}:lock: feed polls are not being sent"
        return True, "Redis answers and a beat holds the schedule lock"
    if kind == "consume":
        host = socket.gethostname()
        # each consumer loop refreshes its heartbeat key (worker/sources/requests.py); consumers
        # are named <host>-<pid> by default, so this host's are found by name
        alive = list(client.scan_iter(match=keys.consumer_alive(f"{host}-*"), count=1000))
        if not alive:
            return False, f"no request consumer on host {host} has turned its loop lately ({keys.consumer_alive(host + '-*')})"
        return True, f"{len(alive)} request consumer(s) on {host} are reading {keys.requests}"
    return True, "Redis answers"


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m worker.ops.health", description=__doc__.split("\n\n")[0])
    parser.add_argument("--kind", choices=("auto", *KINDS), default="auto")
    parser.add_argument("--timeout", type=float, default=5.0, help="Seconds for each network call.")
    args = parser.parse_args(argv)
    kind = kind_of(_pid1_argv()) if args.kind == "auto" else args.kind
    try:
        healthy, reason = check(kind, args.timeout)
    except Exception as exc:  # a probe must answer, whatever broke
        healthy, reason = False, f"{type(exc).__name__}: {exc}"
    print(json.dumps({"event": "health", "kind": kind, "healthy": healthy, "reason": reason}))
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
