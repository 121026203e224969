"""The CLI as a user runs it: a subprocess that starts its own Celery worker subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import SEEDS


def _storyline(*args: str, env: dict[str, str] | None = None, cwd=None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "worker.cli", *args], capture_output=True, text=True, timeout=240,
                          env=env or dict(os.environ), cwd=cwd)


@pytest.mark.slow  # two replays, each starting a worker process: ~40 s on two cores
def test_replay_seeds_twice_against_an_external_redis(redis_url, prefix, client):
    args = ("replay", str(SEEDS), "--json", "--redis", redis_url, "--prefix", prefix, "-c", "2", "--workers", "1")
    first = _storyline(*args)
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout) == {"inputs": 5, "articles": 5, "duplicates": 0, "dead_letters": 0, "threads": 1,
                                        "stories": json.loads(first.stdout)["stories"]}
    second = _storyline(*args)
    assert second.returncode == 0, second.stderr
    summary = json.loads(second.stdout)
    assert (summary["articles"], summary["duplicates"], summary["dead_letters"]) == (0, 5, 0)
    assert client.xlen(f"{prefix}:articles") == 5

    listed = _storyline("threads", "--json", "--redis", redis_url, "--prefix", prefix)
    rows = json.loads(listed.stdout)
    assert len(rows) == 1 and rows[0]["size"] == 5

    tailed = _storyline("tail", "articles", "-n", "5", "--block", "500", "--redis", redis_url, "--prefix", prefix)
    assert len(tailed.stdout.splitlines()) == 5
    assert client.xinfo_groups(f"{prefix}:articles")[0]["pending"] == 0


@pytest.mark.slow  # an embedded Redis and two replays, each starting a worker process
def test_replay_without_redis_url_runs_on_an_embedded_redis(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "STORYLINE_REDIS_URL")}
    run = _storyline("replay", str(SEEDS), "--json", "--data-dir", str(tmp_path / "data"), "-c", "1", env=env, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["articles"] == 5
    assert (tmp_path / "data" / "appendonlydir").exists() or any((tmp_path / "data").glob("*.aof"))
    again = _storyline("replay", str(SEEDS), "--json", "--data-dir", str(tmp_path / "data"), "-c", "1", env=env, cwd=tmp_path)
    assert json.loads(again.stdout)["duplicates"] == 5, "state persists between runs"


def test_missing_path_says_what_is_wrong(redis_url, prefix):
    run = _storyline("replay", "/no/such/folder", "--redis", redis_url, "--prefix", prefix)
    assert run.returncode == 2 and "no such file or folder" in run.stderr
