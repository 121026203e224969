"""Shared plumbing of the end-to-end benchmarks: a Redis, prefixes, worker processes, RSS sampling."""

from __future__ import annotations

import json
from collections import Counter
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import psutil
import redis

from worker.ops.embedded import _free_port, redis_server_binary
from worker.runtime.app import create_app
from worker.runtime.processes import start_worker_process, stop_worker_process
from worker.settings import Settings


def start_private_redis(workdir: str) -> tuple[subprocess.Popen[bytes], str]:
    """A redis-server of this bench run only (no persistence, data and log in ``workdir``), so
    that INFO commandstats and INFO cpu count this run's commands and nothing of other jobs."""
    port = _free_port()
    proc = subprocess.Popen(
        [redis_server_binary(), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", workdir, "--logfile", os.path.join(workdir, "redis.log")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    for _ in range(200):
        try:
            redis.Redis.from_url(url).ping()
            return proc, url
        except redis.ConnectionError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("private redis-server did not start")


def slowlog_start(client: redis.Redis, max_entries: int = 2_000_000) -> None:
    """From now on SLOWLOG logs every command with its duration (``slowlog_time`` reads them)."""
    client.config_set("slowlog-max-len", str(max_entries))
    client.config_set("slowlog-log-slower-than", "0")
    client.slowlog_reset()


def slowlog_time(client: redis.Redis) -> tuple[float, Counter[str], int, Counter[str]]:
    """µs of the top-level commands SLOWLOG holds since ``slowlog_start``, in all and by
    command, and how many: the exact server time of what clients sent. INFO commandstats
    cannot give it: a script's commands (and a MULTI's) are counted inside the script's (or
    EXEC's) time and again under their own names. A script's own calls have the client address
    "?:0" and are left out here; EXEC is not logged, the commands it ran are, each once. The
    bench's own INFO / CONFIG / SLOWLOG are left out. SLOWLOG is then put back to Redis's
    defaults. Raises when the log was full (the oldest entries lost: the sum would be short).
    Last, the µs of the commands scripts ran, by command (inside the scripts' durations)."""
    cap = int(client.config_get("slowlog-max-len")["slowlog-max-len"])
    entries = client.slowlog_get(-1)
    client.config_set("slowlog-log-slower-than", "10000")
    client.config_set("slowlog-max-len", "128")
    client.slowlog_reset()
    if len(entries) >= cap:
        raise RuntimeError(f"SLOWLOG held its maximum of {cap} entries: raise slowlog_start's max_entries")
    by_kind: Counter[str] = Counter()
    inner: Counter[str] = Counter()
    n = 0
    for e in entries:
        words = e["command"].split(b" ")
        name = words[0].upper().decode()
        if e["client_address"] == b"?:0":
            inner[name] += e["duration"]
            continue
        if name in ("INFO", "CONFIG", "SLOWLOG"):
            continue
        if name in ("EVALSHA", "EVAL") and len(words) > 3 and words[2] != b"0":
            name += " " + _key_kind(words[3].decode(errors="replace"))
        by_kind[name] += e["duration"]
        n += 1
    return float(sum(by_kind.values())), by_kind, n, inner


def _key_kind(key: str) -> str:
    """A script's first key without the run's prefix and the parts naming one item (ids,
    numbers): which script it was, for ``slowlog_time``'s breakdown."""
    parts = key.split(":")[1:]
    return ":".join(p for p in parts if not any(c.isdigit() for c in p)) or key


def redis_url() -> str:
    url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/14")
    redis.Redis.from_url(url).ping()
    return url


def fresh_settings(url: str, tag: str) -> Settings:
    return Settings(redis_url=url, prefix=f"bench-{tag}-{uuid.uuid4().hex[:6]}", log_level="WARNING")


def drop_prefix(url: str, prefix: str) -> None:
    client = redis.Redis.from_url(url)
    for pattern in (f"{prefix}:*", f"{prefix}.*"):
        batch = list(client.scan_iter(pattern, count=5000))
        for i in range(0, len(batch), 1000):
            client.delete(*batch[i : i + 1000])


class Workers:
    """N worker processes (one Celery worker with -c N), started and pinged before timing starts."""

    def __init__(self, settings: Settings, processes: int) -> None:
        self.settings = settings
        env_backup = dict(os.environ)
        os.environ["STORYLINE_LOG_LEVEL"] = "WARNING"
        self.proc = start_worker_process(settings, processes)
        os.environ.clear()
        os.environ.update(env_backup)
        app = create_app(settings)
        deadline = time.monotonic() + 60
        while not app.control.ping(timeout=0.5):
            if time.monotonic() > deadline:
                raise RuntimeError("worker did not start")
        self.peak_rss: dict[int, int] = {}
        self._stop = threading.Event()
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()

    def _sample(self) -> None:
        while not self._stop.is_set():
            try:
                for child in psutil.Process(self.proc.pid).children(recursive=True):
                    rss = child.memory_info().rss
                    self.peak_rss[child.pid] = max(self.peak_rss.get(child.pid, 0), rss)
            except psutil.Error:
                pass
            time.sleep(0.2)

    def stop(self) -> None:
        self._stop.set()
        stop_worker_process(self.proc)


def replay(folder: Path, settings: Settings) -> tuple[dict, float]:
    """Run `storyline replay` against already running workers; (summary, wall seconds)."""
    start = time.perf_counter()
    run = subprocess.run(
        [sys.executable, "-m", "worker.cli", "replay", str(folder), "--json", "--workers", "0",
         "--redis", settings.redis_url, "--prefix", settings.prefix],
        capture_output=True, text=True,
    )
    wall = time.perf_counter() - start
    if run.returncode != 0:
        raise RuntimeError(run.stderr[-2000:])
    return json.loads(run.stdout), wall


def drain(folder: Path, settings: Settings, workers: Workers,
          on_consume: Callable[[], object] | None = None) -> tuple[dict, float]:
    """Worker throughput: fill the queue with every file of ``folder`` (as `storyline replay`
    sends them) while the running ``workers`` are told not to consume, then let them consume
    and time until every input has an outcome (``on_consume`` is called just before "consume":
    bench/pipeline.py starts py-spy there). Submission (reading, encoding and sending 100+
    MiB from this process, which on two cores competes with the workers) and process start-up
    are kept out of the figure; (summary, seconds from "consume" to the last outcome)."""
    from worker.runtime.replay import send_files, summarise
    from worker.sources.files import expand_paths
    from worker.store.keys import Keys

    app = create_app(settings)
    keys = Keys(settings.prefix)
    client = redis.Redis.from_url(settings.redis_url)
    app.control.cancel_consumer(keys.queue, reply=True, timeout=10)
    run_id = uuid.uuid4().hex[:12]
    files = expand_paths([folder])
    send_files(app, client, settings, run_id, [(uuid.uuid4().hex[:16], path) for path in files])
    run_key = keys.run(run_id)
    if on_consume is not None:
        on_consume()
    start = time.perf_counter()
    app.control.add_consumer(keys.queue, reply=True, timeout=10)
    last, last_change = -1, time.monotonic()
    while (done := client.hlen(run_key)) < len(files):
        if done != last:
            last, last_change = done, time.monotonic()
        elif time.monotonic() - last_change > 300:
            raise RuntimeError(f"stalled at {done}/{len(files)} outcomes")
        time.sleep(0.05)
    wall = time.perf_counter() - start
    return summarise([json.loads(v) for v in client.hvals(run_key)]), wall
