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
