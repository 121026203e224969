"""Issue 19, item 6: no printed Redis URL shows its password (replay and doctor printed it in
clear on a connection or auth failure), the metrics endpoint listens where its setting says
(127.0.0.1 by default, not every interface), and the embedded Redis asks for a password."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys

import pytest
import redis

from tests.conftest import SEEDS
from worker.ops.embedded import EmbeddedRedis
from worker.store.client import masked

SECRET = "s3cret-Pa55word"


@pytest.mark.slow
@pytest.mark.parametrize("failure", ["unreachable", "auth-failure"])
@pytest.mark.parametrize("command", [["replay", str(SEEDS), "--workers", "0"], ["doctor"], ["tail", "-n", "1"]],
                         ids=["replay", "doctor", "tail"])
def test_a_failing_command_never_prints_the_redis_password(command, failure, prefix, redis_url):
    from urllib.parse import urlsplit

    where = urlsplit(redis_url)
    url = {"unreachable": f"redis://:{SECRET}@127.0.0.1:1/0",  # nothing listens: connection refused
           # the test Redis with a user it does not have: an authentication failure
           "auth-failure": f"redis://storyline:{SECRET}@{where.hostname}:{where.port}{where.path}"}[failure]
    run = subprocess.run([sys.executable, "-m", "worker.cli", *command, "--redis", url, "--prefix", prefix],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2
    printed = run.stdout + run.stderr
    assert SECRET not in printed  # on the old code: twice, in the error and in its cause
    assert ":**@" in printed


def test_masking_keeps_everything_but_the_password():
    assert masked(f"rediss://user:{SECRET}@redis.internal:6380/2") == "rediss://user:**@redis.internal:6380/2"
    assert masked("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"
    assert masked(None) == ""


def test_the_metrics_endpoint_listens_on_loopback_by_default(redis_url, keys):
    from worker.ops import metrics
    from worker.settings import Settings

    assert Settings().metrics_addr == "127.0.0.1"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server, thread = metrics.serve(port, redis.Redis.from_url(redis_url), keys)
    try:
        # on the old code the endpoint was bound to 0.0.0.0, every interface of the machine
        assert server.server_address[0] == "127.0.0.1"
    finally:
        server.shutdown()
        server.server_close()


def test_the_embedded_redis_asks_for_a_password(tmp_path):
    server = EmbeddedRedis(tmp_path / "data")
    url = server.start()
    try:
        port = int((tmp_path / "data" / "redis.port").read_text())
        with pytest.raises(redis.AuthenticationError):
            redis.Redis(port=port).set("k", "v")  # on the old code anyone on the machine could write
        assert redis.Redis.from_url(url).ping()
        assert stat.S_IMODE(os.stat(tmp_path / "data" / "redis.password").st_mode) == 0o600
        # another command on the same data directory joins it with the password kept there
        assert EmbeddedRedis(tmp_path / "data").start() == url
    finally:
        server.stop()
