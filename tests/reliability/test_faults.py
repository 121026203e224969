"""Fault tests: workers killed mid-task, Redis restarted mid-replay, publishing failing after the
dedup state was written. Every accepted input must end as exactly one outcome and one event."""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import redis

from tests.conftest import seed_paths
from tests.flow import events, submit, wait_outcomes
from tests.reliability.servers import restartable_port
from worker.runtime.app import create_app
from worker.runtime.processes import start_worker_process, stop_worker_process
from worker.ops.embedded import redis_server_binary
from worker.errors import StageFailure
from worker.pipeline import InputDocument, Pipeline
from worker.publish.streams import Publisher
from worker.settings import Settings
from worker.store.keys import Keys

pytestmark = pytest.mark.fault


def slow_article(seed: int) -> bytes:
    """A valid article of ~45k words: about a second of extraction, a window to kill in."""
    from wordfreq import top_n_list

    words = top_n_list("en", 5000)
    rnd = random.Random(seed)
    paras = "".join("<p>" + " ".join(rnd.choice(words) for _ in range(120)) + ".</p>" for _ in range(370))
    return f"<html><head><title>Long report {seed}</title></head><body><article>{paras}</article></body></html>".encode()


def _wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.005)


def unacked_age(client: redis.Redis, keys: Keys) -> float:
    """Seconds since the oldest delivery still unacknowledged (0 when none): kombu's Redis
    transport scores its unacked index by the delivery's time."""
    oldest = client.zrange(f"{keys.broker_unacked}_index", 0, 0, withscores=True)
    return time.time() - oldest[0][1] if oldest else 0.0


def _children(proc: subprocess.Popen) -> list[psutil.Process]:
    return psutil.Process(proc.pid).children(recursive=True)


def test_a_pool_process_killed_mid_task_is_redelivered_and_completes_once(settings, client, keys):
    worker = start_worker_process(settings, concurrency=1)
    try:
        app = create_app(settings)
        doc_id = submit(app, keys, "kill", "slow.html", slow_article(1))
        _wait_for(lambda: client.get(keys.attempts(doc_id)) == b"1", 60, "the task to start")
        _wait_for(lambda: bool(_children(worker)), 10, "the pool process")
        for child in _children(worker):
            child.send_signal(signal.SIGKILL)
        outcome = wait_outcomes(client, keys, "kill", 1, timeout=120)[doc_id]
    finally:
        stop_worker_process(worker)
    assert outcome["status"] == "article"
    assert int(client.get(keys.attempts(doc_id))) == 2, "the killed delivery was redelivered once"
    assert [e["article_id"] for e in events(client, keys.articles)] == [doc_id]


def test_a_whole_worker_killed_mid_task_leaves_the_task_to_the_next_worker(redis_url, prefix, client, keys):
    # a short visibility timeout, so the test waits ~10 s for the redelivery, not 20 minutes
    settings = Settings(redis_url=redis_url, prefix=prefix, visibility_timeout=8)
    env_settings = settings
    os.environ["STORYLINE_VISIBILITY_TIMEOUT"] = "8"
    try:
        worker = start_worker_process(env_settings, concurrency=1)
        app = create_app(settings)
        doc_id = submit(app, keys, "killall", "slow.html", slow_article(2))
        _wait_for(lambda: client.get(keys.attempts(doc_id)) == b"1", 60, "the task to start")
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()
        assert client.hlen(keys.run("killall")) == 0
        # kombu scans for unacked messages older than the visibility timeout on a new worker's
        # first restore tick, then only every ~100 s: start the replacement once the killed
        # delivery is older than the timeout (it must be in the unacked index, or this times out)
        _wait_for(lambda: unacked_age(client, keys) > settings.visibility_timeout + 0.5, 60,
                  "the killed delivery to pass the visibility timeout")
        second = start_worker_process(env_settings, concurrency=1)
        try:
            outcome = wait_outcomes(client, keys, "killall", 1, timeout=120)[doc_id]
        finally:
            stop_worker_process(second)
    finally:
        del os.environ["STORYLINE_VISIBILITY_TIMEOUT"]
    assert outcome["status"] == "article"
    assert [e["article_id"] for e in events(client, keys.articles)] == [doc_id]


class _FailingOncePublisher(Publisher):
    """Fault injection: the first publish raises as if Redis dropped the connection."""

    failed = False

    def publish(self, events_, client=None):
        if not self.failed:
            self.failed = True
            raise redis.ConnectionError("injected: connection lost during publish")
        return super().publish(events_, client)


def test_a_publish_that_fails_after_dedup_is_retried_without_a_second_event(settings, client, keys):
    pipeline = Pipeline(client, settings)
    pipeline.publisher = _FailingOncePublisher(client, keys, settings.streams)
    doc = InputDocument("pubfail0000001", "file", "seed.txt", seed_paths()[0].read_bytes(), run_id="pf")
    with pytest.raises(StageFailure) as failed:
        pipeline.process(doc)
    assert isinstance(failed.value.error, redis.ConnectionError) and failed.value.stage == "publish"
    assert client.xlen(keys.articles) == 0
    # the dedup state was written before the failure: a copy from another input is now a duplicate
    other = Pipeline(client, settings)
    probe = other.process(InputDocument("pubfailcopy001", "file", "copy.txt", seed_paths()[0].read_bytes(), run_id="pf2"))
    assert (probe.status, probe.duplicate_of) == ("duplicate", doc.doc_id)
    first = pipeline.process(doc)  # the retry
    assert first.status == "article"
    again = pipeline.process(doc)  # a redelivery after a crash between publish and ack
    assert again.status == "article" and again.thread_id == first.thread_id
    assert client.xlen(keys.articles) == 1
    assert client.xlen(keys.threads_stream) == 1
    assert client.xlen(keys.duplicates) == 1  # the probe's, and nothing else


@pytest.mark.timeout(420)
def test_redis_restarted_during_a_replay_loses_no_input(tmp_path, prefix):
    port_no = restartable_port()
    data = tmp_path / "redis"
    data.mkdir()
    server = subprocess.Popen(redis_server_cmd(port_no, data), stdout=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port_no}/0"
    client = redis.Redis.from_url(url)
    _wait_for(lambda: _ping(client), 10, "redis")
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    # 30 inputs: the seeds, straight-quoted copies of them (duplicates) and unique articles
    for i, p in enumerate(seed_paths()):
        (inputs / f"seed{i}.txt").write_bytes(p.read_bytes())
        (inputs / f"copy{i}.txt").write_text(p.read_text().replace("’", "'"))
    for i in range(20):
        (inputs / f"long{i:02d}.html").write_bytes(slow_article(100 + i)[:40_000] + b"</p></article></body></html>")
    # a task whose ack is lost while Redis is down stays unacknowledged and is redelivered after
    # the visibility timeout: 15 s here (at most ~2 minutes with kombu's restore scan), not 20 min.
    # TMPDIR: the replay's worker log lands here, to be shown if the replay does not finish
    logs = tmp_path / "logs"
    logs.mkdir()
    env = {**os.environ, "STORYLINE_VISIBILITY_TIMEOUT": "15", "TMPDIR": str(logs)}
    replay = subprocess.Popen(
        [sys.executable, "-m", "worker.cli", "replay", str(inputs), "--json", "--redis", url, "--prefix", prefix,
         "--workers", "1", "-c", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    try:
        _wait_for(lambda: _hlen_runs(client, prefix) >= 5, 120, "the replay to get going")
        _shutdown(client)
        server.wait(timeout=30)
        time.sleep(1.0)
        server = subprocess.Popen(redis_server_cmd(port_no, data) + ["--logfile", str(tmp_path / "redis2.log")],
                                  stdout=subprocess.DEVNULL)
        _wait_for(lambda: _ping(client) or server.poll() is not None, 60, "the restarted redis")
        assert server.poll() is None, f"redis did not restart: {_tail(tmp_path / 'redis2.log')}"
        try:
            out, err = replay.communicate(timeout=240)
        except subprocess.TimeoutExpired:
            replay.kill()
            out, err = replay.communicate()
            worker_logs = "\n".join(_tail(f) for f in logs.glob("storyline-replay-*.log"))
            pytest.fail(f"the replay did not finish within 240 s of the restart\n--- replay stderr:\n{err[-4000:]}"
                        f"\n--- worker log:\n{worker_logs}")
    finally:
        if replay.poll() is None:
            replay.kill()
            replay.communicate()
        _shutdown(redis.Redis.from_url(url))
        server.wait(timeout=30)
    assert replay.returncode == 0, err[-6000:]
    summary = json.loads(out)
    assert summary["inputs"] == 30
    assert summary["articles"] + summary["duplicates"] + summary["dead_letters"] == 30
    assert summary["duplicates"] >= 5


def _tail(path: Path, chars: int = 6000) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError as exc:
        return f"({path}: {exc})"


def redis_server_cmd(port: int, data: Path) -> list[str]:
    """A private redis-server as production should run it: AOF (fsync always, so a restart
    keeps every write of the test), noeviction."""
    return [redis_server_binary(), "--port", str(port), "--bind", "127.0.0.1", "--dir", str(data),
            "--appendonly", "yes", "--appendfsync", "always", "--save", "", "--maxmemory-policy", "noeviction"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ping(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.ConnectionError:
        return False


def _shutdown(client: redis.Redis) -> None:
    try:
        client.shutdown(nosave=False)
    except (redis.ConnectionError, redis.ResponseError):
        pass


def _hlen_runs(client: redis.Redis, prefix: str) -> int:
    try:
        return sum(client.hlen(k) for k in client.scan_iter(f"{prefix}:run:*"))
    except redis.ConnectionError:
        return 0
