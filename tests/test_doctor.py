from __future__ import annotations

import os
import subprocess
import sys

from worker.store.doctor import assess, inspect


def test_assess_warns_on_eviction_and_missing_persistence():
    findings = {f.check: f for f in assess({"redis_version": "7.0.15", "used_memory": 10},
                                           {"maxmemory-policy": "allkeys-lru", "appendonly": "no"})}
    assert findings["maxmemory-policy"].level == "warn" and "noeviction" in findings["maxmemory-policy"].detail
    assert findings["appendonly"].level == "warn"
    good = {f.check: f.level for f in assess({"redis_version": "7.2.0", "used_memory": 10},
                                             {"maxmemory-policy": "noeviction", "appendonly": "yes", "appendfsync": "everysec"})}
    assert set(good.values()) == {"ok"}


def test_inspect_reads_the_real_server(client):
    checks = {f.check for f in inspect(client)}
    assert {"version", "maxmemory-policy", "appendonly", "memory"} <= checks


def test_doctor_command_runs(redis_url, prefix):
    run = subprocess.run([sys.executable, "-m", "worker.cli", "doctor", "--redis", redis_url, "--prefix", prefix],
                         capture_output=True, text=True, timeout=60, env=dict(os.environ))
    assert run.returncode == 0, run.stderr
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
