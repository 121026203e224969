"""Worker and beat processes started by the CLI (``storyline worker``, ``beat``, ``replay``) and
by the benches and fault tests: their command lines, environment and shutdown."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any

from worker.ops.logs import celery_env
from worker.runtime.app import create_app
from worker.settings import Settings
from worker.store.keys import Keys


#: seconds a warm shutdown may take before the process group is killed (Kubernetes' default
#: grace period is 30 s; what a killed worker held comes back through its lease, ~35 s)
STOP_TIMEOUT_SECONDS = 25.0


def _die_with_parent() -> None:
    """In the child, before exec: ask Linux to send SIGTERM when the parent dies, so a Celery
    worker or beat started by ``storyline worker``/``beat``/``replay`` never outlives its wrapper,
    even one killed with SIGKILL (the child runs in its own session, out of reach of the
    terminal's signals, which the wrapper forwards). SIGTERM, not SIGKILL: Celery shuts down
    warm. Elsewhere than Linux nothing is done (no prctl)."""
    parent = os.getppid()
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        PR_SET_PDEATHSIG = 1
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent died before prctl took effect
        os.kill(os.getpid(), signal.SIGTERM)


def worker_env(settings: Settings) -> dict[str, str]:
    """The environment of a worker or beat subprocess: this settings' Redis, prefix and metrics port."""
    env = dict(os.environ)
    env["REDIS_URL"] = settings.redis_url or ""
    env["STORYLINE_PREFIX"] = settings.prefix
    env["STORYLINE_METRICS_PORT"] = str(settings.metrics_port)
    env["STORYLINE_METRICS_ADDR"] = settings.metrics_addr
    if settings.broker_url:
        env["STORYLINE_BROKER_URL"] = settings.broker_url
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
                                    start_new_session=True, preexec_fn=_die_with_parent)
    # the worker's output goes to stderr, so `replay --json` keeps stdout for the summary
    return subprocess.Popen(cmd, env=env, stdout=output or sys.stderr, stderr=output, start_new_session=True,
                            preexec_fn=_die_with_parent)


def start_beat_process(settings: Settings, loglevel: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Celery beat with the Redis schedule (celery-redbeat) in a subprocess."""
    # beat's state is all in Redis; the schedule file celery would write is not used, so it
    # goes to the null device rather than littering the working directory
    cmd = [sys.executable, "-m", "celery", "-A", "worker.app", "beat", "-S", "redbeat.RedBeatScheduler",
           "-l", loglevel, "--max-interval", "5", "-s", os.devnull]
    return subprocess.Popen(cmd, env=env if env is not None else worker_env(settings), stdout=sys.stderr,
                            start_new_session=True, preexec_fn=_die_with_parent)


def stop_worker_process(proc: subprocess.Popen[bytes], timeout: float = STOP_TIMEOUT_SECONDS) -> None:
    """Warm shutdown: SIGTERM to Celery's main process only, which stops taking tasks, lets the
    pool finish the running ones and exits; after ``timeout`` s the whole process group is
    killed. Never SIGTERM to the group: the pool processes would die mid-task (WorkerLostError)."""
    if proc.poll() is None:
        try:
            os.kill(proc.pid, signal.SIGTERM)
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass
        except ProcessLookupError:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # what is left of the group: pool processes, none normally
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


def forward_sigterm(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM (systemd, Kubernetes, docker stop) and SIGINT (Ctrl-C) reach the wrapper only, the
    child being in its own session: each is passed on as SIGTERM to the child's main process, a
    warm shutdown (see ``stop_worker_process``) bounded by ``STOP_TIMEOUT_SECONDS``, after which
    the group is killed; the wrapper's ``proc.wait()`` then returns."""

    deadline: list[threading.Timer] = []

    def kill_group() -> None:
        if proc.poll() is None:  # the warm shutdown ran past its time: what was running comes back by its lease
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def forward(*_: object) -> None:
        if proc.poll() is None:
            try:
                os.kill(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                return
            if not deadline:  # the first signal starts the clock; a second one does not reset it
                deadline.append(threading.Timer(STOP_TIMEOUT_SECONDS, kill_group))
                deadline[0].daemon = True
                deadline[0].start()

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)


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
