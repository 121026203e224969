"""STORYLINE_JSON_LOGS=true: every line each process writes is one JSON object, Celery's own
lines, warnings and tracebacks included. Real `storyline worker`, `beat` and `consume`
subprocesses on a real Redis; each line of their stdout and stderr is parsed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid

import pytest

from tests.conftest import seed_paths
from tests.flow import submit, submit_files, wait_outcomes
from worker.runtime.app import create_app

#: real worker, beat and consume subprocesses: tens of seconds
pytestmark = pytest.mark.slow

BINARY = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "CELERY_QUIET"}
    return dict(env, STORYLINE_JSON_LOGS="true", STORYLINE_LOG_LEVEL="INFO", COLUMNS="200", **extra)


def _json_lines(text: str, where: str) -> list[dict]:
    out = []
    for number, line in enumerate(text.splitlines(), 1):
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            pytest.fail(f"{where} line {number} is not JSON: {line!r}\n--- all of it:\n{text[-4000:]}")
        assert isinstance(out[-1], dict), line
    return out


def _stop(proc: subprocess.Popen, timeout: float = 60) -> tuple[str, str]:
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.communicate()


def test_every_line_of_a_worker_is_json_including_celerys_and_tracebacks(redis_url, settings, client, keys, tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-m", "worker.cli", "worker", "-c", "2", "-l", "INFO", "--metrics-port", "0",
         "--redis", redis_url, "--prefix", settings.prefix],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(), stdin=subprocess.DEVNULL,
    )
    try:
        app = create_app(settings)
        run_id = uuid.uuid4().hex
        submit_files(app, keys, run_id, seed_paths()[:2])
        submit(app, keys, run_id, "broken.png", BINARY)
        # a message for a task no worker knows: Celery logs an error with a traceback
        app.send_task("storyline.no_such_task", args=[1], queue=keys.queue)
        wait_outcomes(client, keys, run_id, 3)
        time.sleep(1.0)
    finally:
        stdout, stderr = _stop(proc)
    assert proc.returncode == 0, stderr[-3000:]
    lines = _json_lines(stdout, "stdout") + _json_lines(stderr, "stderr")
    events = [str(line.get("event", "")) for line in lines]
    assert any("ready" in e for e in events), events  # Celery's own "celery@host ready."
    assert any("Warm shutdown" in e or "shutdown" in e.lower() for e in events), events
    unknown = [line for line in lines if "no_such_task" in str(line.get("event", ""))]
    assert unknown and all(line["level"] == "error" for line in unknown), unknown
    assert any("Traceback" in str(line.get("exception", "")) for line in unknown), unknown
    assert sum(1 for line in lines if line.get("event") == "article") == 2
    assert all("level" in line and "timestamp" in line for line in lines), [x for x in lines if "level" not in x]


def test_every_line_of_beat_and_consume_is_json(redis_url, settings, client, keys):
    common = ["--redis", redis_url, "--prefix", settings.prefix]
    procs = {
        name: subprocess.Popen([sys.executable, "-m", "worker.cli", *argv, *common], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=_env(), stdin=subprocess.DEVNULL)
        for name, argv in {"beat": ["beat", "-l", "INFO"], "consume": ["consume"]}.items()
    }
    # until beat has written its schedule and consume has created its group
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (client.exists(f"{keys.redbeat_prefix}:schedule")
                                               and client.exists(keys.requests)):
        time.sleep(0.2)
    time.sleep(1.0)
    results = {name: _stop(proc) for name, proc in procs.items()}
    for name, (stdout, stderr) in results.items():
        lines = _json_lines(stdout, f"{name} stdout") + _json_lines(stderr, f"{name} stderr")
        assert lines, f"{name} said nothing"
    beat_events = " ".join(str(line.get("event")) for line in _json_lines(results["beat"][1], "beat"))
    assert "beat" in beat_events.lower(), beat_events  # Celery's "beat: Starting..."
    assert any(line.get("event") == "consuming" for line in _json_lines(results["consume"][1], "consume"))


def test_a_crash_is_one_json_line_with_its_traceback():
    code = ("from worker.ops.logs import configure_logging; configure_logging('INFO', True)\n"
            "import warnings; warnings.warn('careful')\n"
            "def f():\n    raise ValueError('boom')\nf()\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert run.returncode == 1
    lines = _json_lines(run.stderr, "stderr")
    assert any("careful" in line["event"] for line in lines)
    (crash,) = [line for line in lines if line["event"] == "uncaught_exception"]
    assert crash["level"] == "critical" and "ValueError: boom" in crash["exception"]
