"""`python -m worker.ops.health`: the probe of Docker's HEALTHCHECK and of the Kubernetes
liveness/readiness probes, against real `storyline worker`, `beat` and `consume` processes."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from worker.ops.health import kind_of


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _probe(kind: str, env: dict[str, str]) -> tuple[int, dict]:
    run = subprocess.run([sys.executable, "-m", "worker.ops.health", "--kind", kind, "--timeout", "2"],
                         capture_output=True, text=True, timeout=60, env=env)
    return run.returncode, json.loads(run.stdout)


def _until_healthy(kind: str, env: dict[str, str], seconds: float = 60) -> dict:
    deadline = time.monotonic() + seconds
    while True:
        rc, answer = _probe(kind, env)
        if rc == 0 or time.monotonic() > deadline:
            assert rc == 0, answer
            return answer
        time.sleep(0.5)


def test_kind_is_read_from_the_command_pid_1_runs():
    assert kind_of(["/usr/bin/tini", "--", "storyline", "worker", "--concurrency", "2"]) == "worker"
    assert kind_of(["/opt/storyline/venv/bin/storyline", "beat"]) == "beat"
    assert kind_of(["tini", "--", "storyline", "consume", "--name", "x"]) == "consume"
    assert kind_of(["tini", "--", "celery", "-A", "worker.app", "flower"]) == "redis"


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_each_process_kind_is_healthy_while_it_runs_and_not_once_it_stopped(redis_url, settings):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("STORYLINE_")}
    env.update(REDIS_URL=redis_url, STORYLINE_PREFIX=settings.prefix, STORYLINE_METRICS_PORT=str(port))
    # nothing runs yet: every probe but the plain Redis one fails, saying why
    for kind in ("worker", "beat", "consume"):
        rc, answer = _probe(kind, env)
        assert rc == 1 and answer["healthy"] is False and answer["reason"], answer
    assert _probe("redis", env)[0] == 0
    assert _probe("redis", {**env, "REDIS_URL": f"redis://127.0.0.1:{_free_port()}/0"})[0] == 1

    common = ["--redis", redis_url, "--prefix", settings.prefix]
    commands = {"worker": ["worker", "-c", "1", "--metrics-port", str(port)], "beat": ["beat"], "consume": ["consume"]}
    procs = {kind: subprocess.Popen([sys.executable, "-m", "worker.cli", *argv, *common], env=env,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
             for kind, argv in commands.items()}
    try:
        for kind in commands:
            assert _until_healthy(kind, env)["healthy"] is True
    finally:
        for proc in procs.values():
            proc.send_signal(signal.SIGTERM)
        for proc in procs.values():
            proc.wait(timeout=60)
    assert _probe("worker", env)[0] == 1, "the metrics endpoint is gone with the worker"
