"""Issue 19, item 5: stream readers survive an idle stream and a Redis restart. redis-py's
default socket timeout (5 s) equals a 5 s XREADGROUP BLOCK, so an idle read timed out: the
example consumer died after ~6 s idle, `storyline tail` and `consume` after the client's retries
(~1 min). The example consumer also exited on a Redis restart instead of reconnecting."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid

import pytest

from tests.conftest import ROOT
from tests.reliability.servers import PrivateRedis
from worker.publish.streams import to_fields
from worker.store.client import connect

EXAMPLE = ROOT / "examples" / "consumer.py"


def _letter(n: int) -> dict[str, str]:
    from schemas import DeadLetter, Source

    return to_fields(DeadLetter(event_id=f"ev-{n}-{uuid.uuid4().hex[:6]}", source=Source(kind="file", uri=f"f{n}.txt"),
                                stage="read", error_type="empty_input", message="the file is empty (0 bytes)", attempts=1))


def test_the_example_consumer_outlives_an_idle_read(redis_url, prefix, client, keys):
    # one 6 s read on an empty stream (a BLOCK past redis-py's 5 s default socket timeout), then
    # --count stops it: it must exit cleanly, not time out
    run = subprocess.run(
        [sys.executable, str(EXAMPLE), "--redis", redis_url, "--prefix", prefix, "--stream", "dead-letter",
         "--group", "idle", "--count", "1", "--block-ms", "6000"],
        capture_output=True, text=True, timeout=60,
    )
    assert run.returncode == 0, run.stderr[-2000:]  # on the old code: redis.exceptions.TimeoutError
    assert json.loads(run.stderr.splitlines()[-1]) == {"event": "stopped", "handled": 0, "invalid": 0,
                                                       "reclaimed": 0, "poison": 0}


def test_tail_outlives_an_idle_read(redis_url, prefix):
    # a 6 s BLOCK on an empty stream, then -n stops it: on the old code the read timed out, the
    # client retried it 8 times and tail died with redis.TimeoutError (exit 1) after ~1 min
    run = subprocess.run([sys.executable, "-m", "worker.cli", "tail", "articles", "-n", "1", "--block", "6000",
                          "--redis", redis_url, "--prefix", prefix], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout == ""


def test_a_request_consumer_read_outlives_its_block_on_an_idle_stream(redis_url, keys, settings):
    from worker.sources.requests import RequestConsumer
    from worker.store.client import read_block_ms

    client = connect(redis_url)
    assert read_block_ms(client, 5000) < 5000 and read_block_ms(client, 100) == 100 and read_block_ms(client, None) is None
    consumer = RequestConsumer(client, keys, settings.requests, handle=lambda r: None,
                               dead_letter=lambda *a: None, name="idle")
    consumer.ensure_group()
    # BLOCK longer than the socket timeout: on the old code every try timed out, the client's
    # retry repeated it 8 times and then raised redis.TimeoutError
    assert consumer.read_new(block_ms=6000) == []


def _line(proc: subprocess.Popen, timeout: float) -> dict:
    import selectors

    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    assert sel.select(timeout), f"no event on stdout within {timeout:.0f}s"
    return json.loads(proc.stdout.readline())


@pytest.mark.slow
def test_the_example_consumer_reconnects_after_a_redis_restart(tmp_path):
    server = PrivateRedis(tmp_path)
    client = server.start()
    stream = "rs:dead-letter"
    first = _letter(1)
    client.xadd(stream, first)
    consumer = subprocess.Popen(
        [sys.executable, str(EXAMPLE), "--redis", f"redis://127.0.0.1:{server.port}/0", "--prefix", "rs",
         "--stream", "dead-letter", "--group", "g", "--block-ms", "1000"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert _line(consumer, 30)["event_id"] == first["id"]
        time.sleep(1.5)  # past appendfsync everysec, so the group's position is on disk
        server.kill()  # SIGKILL: the consumer's connection drops mid-read
        time.sleep(2.0)
        assert consumer.poll() is None, "the consumer exited while Redis was down"  # the old code did
        client = server.start()
        second = _letter(2)
        client.xadd(stream, second)
        assert _line(consumer, 30)["event_id"] == second["id"]  # nothing handled twice, nothing missed
        deadline = time.monotonic() + 10  # the entry is acked just after it is printed
        while client.xpending(stream, "g")["pending"] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert client.xpending(stream, "g")["pending"] == 0
    finally:
        consumer.terminate()
        _, err = consumer.communicate(timeout=20)
        server.kill()
    assert any(json.loads(line).get("event") == "redis_unavailable" for line in err.splitlines() if line.startswith("{"))
