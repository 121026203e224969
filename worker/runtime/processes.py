"""Worker and beat processes started by the CLI (``storyline worker``, ``beat``, ``replay``) and
by the benches and fault tests: their command lines, environment and shutdown."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any

from worker.ops.logs import celery_env
from worker.runtime.app import create_app
from worker.settings import Settings
from worker.store.keys import Keys


def worker_env(settings: Settings) -> dict[str, str]:
    """The environment of a worker or beat subprocess: this settings' Redis, prefix and metrics port."""
    env = dict(os.environ)
    env["REDIS_URL"] = settings.redis_url or ""
    env["STORYLINE_PREFIX"] = settings.prefix
    env["STORYLINE_METRICS_PORT"] = str(settings.metrics_port)
    # no Celery banner when every line must be JSON (worker/ops/logs.py)
    return celery_env(env, settings.json_logs)


def start_worker_process(settings: Settings, concurrency: int, loglevel: str = "WARNING",
                         output: IO[Any] | None = None, *, name: str | None = None,
                         log_file: str | os.PathLike[str] | None = None) -> subprocess.Popen[bytes]:
    """A Celery worker in a subprocess, on this settings' queue, logging at ``loglevel`` to
    ``output`` (a file; default: this process's stderr).

    ``name`` is the Celery node name (``%h`` is the host name); by default a random one for the
    short-lived workers of `replay`, so they never clash with a standing worker on the host.
    ``log_file``: the worker's output (both streams) goes there instead of to our stderr."""
    cmd = [
        sys.executable, "-m", "celery", *(["-q"] if loglevel.upper() != "INFO" and loglevel.upper() != "DEBUG" else []),
        "-A", "worker.app", "worker", "-Q", Keys(settings.prefix).queue,
        "-c", str(concurrency), "-l", loglevel, "--without-gossip", "--without-mingle",
        "-n", name or f"storyline-replay-{uuid.uuid4().hex[:6]}@%h",
    ]
    env = worker_env(settings)
    env["STORYLINE_LOG_LEVEL"] = loglevel
    if log_file is not None:
        with open(log_file, "ab") as out:  # the child keeps its own copy of the descriptor
            return subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    start_new_session=True)
    # the worker's output goes to stderr, so `replay --json` keeps stdout for the summary
    return subprocess.Popen(cmd, env=env, stdout=output or sys.stderr, stderr=output, start_new_session=True)


def start_beat_process(settings: Settings, loglevel: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Celery beat with the Redis schedule (celery-redbeat) in a subprocess."""
    # beat's state is all in Redis; the schedule file celery would write is not used, so it
    # goes to the null device rather than littering the working directory
    cmd = [sys.executable, "-m", "celery", "-A", "worker.app", "beat", "-S", "redbeat.RedBeatScheduler",
           "-l", loglevel, "--max-interval", "5", "-s", os.devnull]
    return subprocess.Popen(cmd, env=env if env is not None else worker_env(settings), stdout=sys.stderr,
                            start_new_session=True)


def stop_worker_process(proc: subprocess.Popen[bytes]) -> None:
    """Warm shutdown (SIGTERM: finish the current task), then SIGKILL after 30 s."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def forward_sigterm(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM (systemd, Kubernetes, docker stop) reaches this process only: pass it on so the
    Celery worker shuts down warm (finishes its tasks) instead of being orphaned."""
    signal.signal(signal.SIGTERM, lambda *_: os.killpg(proc.pid, signal.SIGTERM) if proc.poll() is None else None)


def workers_alive(settings: Settings) -> bool:
    """Whether any worker answers a ping on this settings' Redis and prefix."""
    try:
        replies = create_app(settings).control.ping(timeout=1.0)
    except Exception:
        return False
    return bool(replies)


@contextmanager
def metrics_dir(metrics_port: int) -> Iterator[None]:
    """PROMETHEUS_MULTIPROC_DIR for the worker's pool processes (see worker/ops/metrics.py): the
    one given in the environment, else a fresh temporary directory removed afterwards."""
    if metrics_port <= 0 or os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        yield
        return
    path = tempfile.mkdtemp(prefix="storyline-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = path  # inherited by the worker subprocess only
    try:
        yield
    finally:
        os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
        shutil.rmtree(path, ignore_errors=True)
