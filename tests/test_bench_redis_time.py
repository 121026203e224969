"""The benches' Redis server time (bench/_harness.py ``slowlog_time``): each command counted once,
the commands a script runs apart from the top-level ones, and a full log refused rather than
summed short. On a redis-server of the test's own, since SLOWLOG and its settings are global."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from bench._harness import slowlog_start, slowlog_time, start_private_redis


@pytest.fixture()
def private_redis(tmp_path: Path) -> Iterator[redis.Redis]:
    proc, url = start_private_redis(str(tmp_path))
    try:
        yield redis.Redis.from_url(url)
    finally:
        proc.terminate()
        proc.wait()


def test_a_scripts_commands_and_a_multis_are_counted_once(private_redis: redis.Redis) -> None:
    r = private_redis
    script = r.register_script("redis.call('SET', KEYS[1], 'a') redis.call('SET', KEYS[2], 'b') return 1")
    script(keys=["p:th:a:1", "p:th:a:2"])  # loaded before the log starts (NOSCRIPT, SCRIPT LOAD)
    slowlog_start(r, 1000)
    script(keys=["p:th:a:1", "p:th:a:2"])
    r.set("plain", "x")
    with r.pipeline(transaction=True) as pipe:
        pipe.set("m1", "1").set("m2", "2").execute()
    total, by_kind, n, inner = slowlog_time(r)
    # top level: the script (named by its first key, ids left out), the plain SET, MULTI and
    # the two SETs EXEC ran (EXEC itself is not logged); the script's two SETs only as its own
    assert n == 5
    assert set(by_kind) == {"EVALSHA th:a", "SET", "MULTI"}
    assert set(inner) == {"SET"}  # (a SET can take under 1 µs: its duration may be 0)
    assert total == pytest.approx(sum(by_kind.values()))
    # SLOWLOG is back to Redis's defaults afterwards
    assert r.config_get("slowlog-log-slower-than")["slowlog-log-slower-than"] == "10000"


def test_a_full_log_is_refused_not_summed_short(private_redis: redis.Redis) -> None:
    r = private_redis
    slowlog_start(r, 3)
    for i in range(5):
        r.set(f"k{i}", i)
    with pytest.raises(RuntimeError, match="maximum"):
        slowlog_time(r)
