from __future__ import annotations

import os
import subprocess
import sys

from worker.store.doctor import assess, inspect


def test_assess_flags_eviction_and_missing_persistence():
    findings = {f.check: f for f in assess({"redis_version": "7.0.15", "used_memory": 10},
                                           {"maxmemory-policy": "allkeys-lru", "appendonly": "no"})}
    assert findings["maxmemory-policy"].level == "error" and "noeviction" in findings["maxmemory-policy"].detail
    assert findings["appendonly"].level == "warn"
    good = {f.check: f.level for f in assess({"redis_version": "7.2.0", "used_memory": 10},
                                             {"maxmemory-policy": "noeviction", "appendonly": "yes", "appendfsync": "everysec",
                                              "maxmemory": "1000000"})}
    assert set(good.values()) == {"ok"}


def test_inspect_reads_the_real_server(client):
    checks = {f.check for f in inspect(client)}
    assert {"version", "maxmemory-policy", "appendonly", "memory"} <= checks


def test_doctor_command_runs(redis_url, prefix, client):
    run = subprocess.run([sys.executable, "-m", "worker.cli", "doctor", "--redis", redis_url, "--prefix", prefix],
                         capture_output=True, text=True, timeout=60, env=dict(os.environ))
    # exit 1 exactly when a check is an error (the shared test Redis may have no maxmemory)
    errors = [f for f in inspect(client) if f.level == "error"]
    assert run.returncode == (1 if errors else 0), run.stdout + run.stderr
    assert "maxmemory-policy" in run.stdout and "workers" in run.stdout


def test_redis_older_than_6_2_is_an_error_since_xautoclaim_is_missing():
    def level(version: str) -> str:
        return {f.check: f.level for f in assess({"redis_version": version, "used_memory": 1}, {})}["version"]

    assert level("6.0.16") == "error" and level("6.1.9") == "error" and level("5.0.7") == "error"
    assert level("6.2.0") == "ok" and level("7.0.15") == "ok" and level("10.0.0") == "ok"


def test_doctor_is_an_error_when_the_dedup_index_has_another_layout(client, redis_url, prefix):
    # an index written by another release (another MinHash scheme or layout) would dead-letter
    # every input as incompatible_index: doctor says so, with what to do
    client.hset(f"{prefix}:dd:meta", mapping={"digest": "0123456789abcdef", "scheme": '{"record_layout": "2/32/256/8"}'})
    run = subprocess.run([sys.executable, "-m", "worker.cli", "doctor", "--redis", redis_url, "--prefix", prefix],
                         capture_output=True, text=True, timeout=60, env=dict(os.environ))
    assert run.returncode == 1, run.stdout
    assert "dedup index" in run.stdout and "new --prefix" in run.stdout.replace("\n", " ")


def _levels(config: dict[str, str]) -> dict[str, str]:
    return {f.check: f.level for f in assess({"redis_version": "7.2.4", "used_memory": 2**20}, config)}


GOOD = {"maxmemory-policy": "noeviction", "appendonly": "yes", "appendfsync": "everysec", "maxmemory": str(2**30)}


def test_eviction_policies_that_drop_state_are_errors_with_the_fix():
    for policy in ("allkeys-lru", "allkeys-lfu", "allkeys-random", "volatile-lru", "volatile-ttl", "volatile-lfu"):
        (finding,) = [f for f in assess({"redis_version": "7.2.4", "used_memory": 1}, {**GOOD, "maxmemory-policy": policy})
                      if f.check == "maxmemory-policy"]
        assert finding.level == "error", policy
        assert "CONFIG SET maxmemory-policy noeviction" in finding.detail


def test_no_maxmemory_limit_is_an_error_since_noeviction_never_applies():
    findings = {f.check: f for f in assess({"redis_version": "7.2.4", "used_memory": 2**20}, {**GOOD, "maxmemory": "0"})}
    assert findings["memory"].level == "error"
    assert "CONFIG SET maxmemory" in findings["memory"].detail and "OOM" in findings["memory"].detail
    assert set(_levels(GOOD).values()) == {"ok"}


def test_doctor_exits_1_on_a_real_redis_without_maxmemory_and_0_with_one(tmp_path):
    """A real redis-server of our own (the shared one's settings are not ours to change)."""
    from worker.ops.embedded import redis_server_binary

    import redis as redis_py
    import socket
    import time

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([redis_server_binary(), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                               "--appendonly", "yes", "--dir", str(tmp_path), "--maxmemory-policy", "noeviction"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        client = redis_py.Redis.from_url(url)
        for _ in range(100):
            try:
                client.ping()
                break
            except redis_py.ConnectionError:
                time.sleep(0.05)

        def doctor() -> subprocess.CompletedProcess[str]:
            return subprocess.run([sys.executable, "-m", "worker.cli", "doctor", "--redis", url, "--prefix", "doc"],
                                  capture_output=True, text=True, timeout=60, env=dict(os.environ, COLUMNS="200"))

        run = doctor()
        assert run.returncode == 1 and "no maxmemory limit" in run.stdout, run.stdout
        client.config_set("maxmemory", str(2**30))
        run = doctor()
        assert run.returncode == 0, run.stdout
        client.config_set("maxmemory-policy", "allkeys-lru")
        run = doctor()
        assert run.returncode == 1 and "allkeys-lru" in run.stdout, run.stdout
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_doctor_warns_of_a_document_frequency_hash_a_past_release_left(client, settings, keys):
    from worker.runtime.doctor import run_checks

    assert "thread counts" not in {f.check for f in run_checks(client, settings)}
    client.hset(keys.legacy_df, mapping={"ceasefire": 4, "election": 9})
    found = {f.check: f for f in run_checks(client, settings)}["thread counts"]
    assert found.level == "warn" and "2 features" in found.detail and f"UNLINK {keys.legacy_df}" in found.detail
