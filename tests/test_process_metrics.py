"""`storyline consume --metrics-port N` and `storyline beat --metrics-port N` serve /metrics of
their own (the Redis gauges, request-stream lag among them, and build info), from real processes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _scrape(port: int, seconds: float = 60) -> str:
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
                return str(answer.read().decode())
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


@pytest.mark.slow
@pytest.mark.timeout(180)
@pytest.mark.parametrize("command", ["consume", "beat"])
def test_consume_and_beat_serve_their_own_metrics(command, redis_url, settings):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("STORYLINE_")}
    env.update(REDIS_URL=redis_url, STORYLINE_PREFIX=settings.prefix)
    proc = subprocess.Popen([sys.executable, "-m", "worker.cli", command, "--metrics-port", str(port)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        text = _scrape(port)
        assert "storyline_build_info{" in text
        # the gauges read from Redis at scrape time, the request stream's among them
        assert 'storyline_stream_length{stream="requests"}' in text
        assert "storyline_redis_up 1.0" in text
        if command == "consume":  # its group exists once it runs, and nothing waits: no lag
            lags = [ln for ln in text.splitlines() if ln.startswith("storyline_consumer_group_lag{")]
            assert any('stream="requests"' in ln and ln.endswith(" 0.0") for ln in lags), lags
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
