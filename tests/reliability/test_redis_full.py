"""Fault tests: a Redis that refuses writes (maxmemory reached under noeviction, or a node turned
replica by a failover) while a real worker holds inputs. Nothing may be lost: while Redis refuses,
every input is still in the queue or in the broker's unacknowledged hash; once it accepts writes
again, every input ends as exactly one outcome, and none is dead-lettered as a bug (`internal:`).

Each test runs its own redis-server, whose limits are its own to change (never the shared one).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Iterator

import pytest
import redis

from tests.flow import events, submit, wait_outcomes
from tests.reliability.test_faults import _free_port, _ping, _shutdown, _wait_for, redis_server_cmd, slow_article, unacked_age
from worker.runtime.app import create_app
from worker.runtime.processes import start_worker_process, stop_worker_process
from worker.settings import Settings
from worker.store.keys import Keys

pytestmark = pytest.mark.fault

#: the run's inputs: two articles, an exact copy of the first (a duplicate) and an empty file (a
#: dead letter); the first is slow (about a second of extraction), so it is in flight when Redis
#: starts refusing writes, and the others wait in the queue
INPUTS = {
    "first.html": slow_article(31),
    "second.html": slow_article(32),
    "copy-of-first.html": slow_article(31),
    "empty.txt": b"",
}


@pytest.fixture
def private_redis(tmp_path) -> Iterator[redis.Redis]:
    """A redis-server of this test's own: random free port, AOF, noeviction."""
    port = _free_port()
    data = tmp_path / "redis"
    data.mkdir()
    server = subprocess.Popen(redis_server_cmd(port, data), stdout=subprocess.DEVNULL)
    client = redis.Redis.from_url(f"redis://127.0.0.1:{port}/0")
    try:
        _wait_for(lambda: _ping(client), 10, "redis")
        yield client
    finally:
        if server.poll() is None:
            try:
                client.config_set("maxmemory", 0)
                client.replicaof("NO", "ONE")
            except redis.RedisError:
                pass
            _shutdown(client)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        client.close()


def _fill(client: redis.Redis) -> None:
    """Redis full: 2 MB more data, then maxmemory 1 MB below what it uses, so every later write
    is refused with OOM (nothing a worker frees, a popped task or an ack, brings it back under).

    Not "maxmemory just above, then one big write": the big write's own 2 MB query buffer counts
    against maxmemory, so it is refused and Redis is back under the limit at once; that version
    only worked when a worker's write (the dedup index's first table) took it over next."""
    client.set("filler", b"x" * (2 * 1024 * 1024))
    used = int(client.info("memory")["used_memory"])
    client.config_set("maxmemory", used - 1024 * 1024)


def _make_replica(client: redis.Redis) -> None:
    """Redis read-only, as a node demoted by a failover: a replica of a master that is not there
    (so it keeps its data, serves reads and refuses every write with READONLY)."""
    client.replicaof("127.0.0.1", str(_free_port()))


REFUSALS = {
    "oom": (_fill, lambda c: c.config_set("maxmemory", 0), redis.exceptions.OutOfMemoryError),
    "readonly": (_make_replica, lambda c: c.replicaof("NO", "ONE"), redis.exceptions.ReadOnlyError),
}


def _refuses_writes(client: redis.Redis, error: type[Exception]) -> bool:
    try:
        client.set("probe", b"x" * 1024)
    except error:
        return True
    return False


def _held_by_broker(client: redis.Redis, prefix: str, keys: Keys) -> Counter[str]:
    """Task ids Redis still holds, by count: queued (the queue's lists) or delivered and not yet
    acknowledged (kombu's unacked hash). Key layout of kombu's Redis transport, under our
    global_keyprefix."""
    held: Counter[str] = Counter()
    for key in client.scan_iter(f"{prefix}:celery:{keys.queue}*"):
        if client.type(key) == b"list":
            held.update(json.loads(raw)["headers"]["id"] for raw in client.lrange(key, 0, -1))
    held.update(json.loads(raw)[0]["headers"]["id"] for raw in client.hvals(f"{prefix}:celery:unacked"))
    return held


def _unaccounted(client: redis.Redis, prefix: str, keys: Keys, run_id: str, ids: list[str]) -> set[str]:
    """Inputs neither finished (an outcome) nor held by the broker: lost."""
    return set(ids) - set(_held_by_broker(client, prefix, keys)) - {k.decode() for k in client.hkeys(keys.run(run_id))}


def _submit_and_refuse(client: redis.Redis, settings: Settings, keys: Keys, run_id: str, refuse) -> list[str]:
    app = create_app(settings)
    ids = [submit(app, keys, run_id, name, body) for name, body in INPUTS.items()]
    _wait_for(lambda: client.get(keys.attempts(ids[0])) == b"1", 120, "the first input to start")
    refuse(client)
    return ids


def _stop(worker: subprocess.Popen) -> None:
    """Stop a worker started here, and whatever is left of its process group."""
    stop_worker_process(worker)
    try:
        os.killpg(worker.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _assert_one_outcome_each(client: redis.Redis, keys: Keys, run_id: str, ids: list[str]) -> None:
    outcomes = wait_outcomes(client, keys, run_id, len(ids), timeout=240)
    assert set(outcomes) == set(ids)
    assert Counter(o["status"] for o in outcomes.values()) == {"article": 2, "duplicate": 1, "dead_letter": 1}
    # exactly one event per input, and no input dead-lettered as a bug
    assert len(events(client, keys.articles)) == 2
    assert len(events(client, keys.duplicates)) == 1
    [letter] = events(client, keys.dead_letter)
    assert letter["error_type"] == "empty_input" and letter["source"]["uri"] == "empty.txt"
    assert not [o for o in outcomes.values() if (o.get("error_type") or "").startswith("internal:")]


@pytest.mark.parametrize("refusal", sorted(REFUSALS))
def test_inputs_in_flight_and_queued_survive_a_redis_that_refuses_writes(refusal, private_redis, monkeypatch, tmp_path):
    refuse, restore, error = REFUSALS[refusal]
    client = private_redis
    prefix = f"test-{uuid.uuid4().hex[:10]}"
    keys = Keys(prefix)
    url = f"redis://127.0.0.1:{client.connection_pool.connection_kwargs['port']}/0"
    # a message left unacknowledged comes back after 15 s, not 20 minutes (see test_faults.py)
    monkeypatch.setenv("STORYLINE_VISIBILITY_TIMEOUT", "15")
    settings = Settings(redis_url=url, prefix=prefix, visibility_timeout=15)
    log = tmp_path / "worker.log"
    with log.open("wb") as output:
        worker = start_worker_process(settings, concurrency=1, output=output)
    try:
        ids = _submit_and_refuse(client, settings, keys, "full", refuse)
        # the first input fails in a stage, and its retry cannot be queued either: it is held
        _wait_for(lambda: b"retry_not_queued" in log.read_bytes(), 60, "the worker to hold the input's message")
        assert _refuses_writes(client, error), "Redis took writes again: the test did not test the outage"
        assert _unaccounted(client, prefix, keys, "full", ids) == set(), "an input was lost during the outage"
        assert client.xlen(keys.dead_letter) == 0
        assert worker.poll() is None, "the worker rides out an outage shorter than its time limit"
        restore(client)
        _assert_one_outcome_each(client, keys, "full", ids)
    finally:
        _stop(worker)


@pytest.mark.timeout(420)
def test_a_task_that_cannot_queue_its_retry_before_its_time_limit_leaves_its_message(private_redis, monkeypatch):
    """The outage outlasts the task's time: the task rejects its message for requeueing, which a
    full Redis refuses too, so the message stays unacknowledged; a worker brings it back after
    the visibility timeout."""
    client = private_redis
    prefix = f"test-{uuid.uuid4().hex[:10]}"
    keys = Keys(prefix)
    url = f"redis://127.0.0.1:{client.connection_pool.connection_kwargs['port']}/0"
    monkeypatch.setenv("STORYLINE_VISIBILITY_TIMEOUT", "15")
    # soft limit 24 s: a task holding its message gives up 10 s before it
    monkeypatch.setenv("STORYLINE_TASK_TIME_LIMIT", "30")
    settings = Settings(redis_url=url, prefix=prefix, visibility_timeout=15, task_time_limit=30)
    worker = start_worker_process(settings, concurrency=1)
    try:
        ids = _submit_and_refuse(client, settings, keys, "gaveup", _fill)
        filled = time.monotonic()
        # past the hold (14 s after the task started): kombu's requeue is refused too, which
        # stops a prefork worker ("Unrecoverable error"); wait for that, or for long enough
        while worker.poll() is None and time.monotonic() < filled + 40:
            time.sleep(0.2)
        assert _refuses_writes(client, redis.exceptions.OutOfMemoryError)
        assert _unaccounted(client, prefix, keys, "gaveup", ids) == set(), "an input was lost during the outage"
        assert client.xlen(keys.dead_letter) == 0
        client.config_set("maxmemory", 0)
        if worker.poll() is not None:
            # as its supervisor would; once the held message is older than the visibility
            # timeout, so the new worker's first restore scan requeues it (the next is ~100 s on)
            _wait_for(lambda: unacked_age(client, keys) > settings.visibility_timeout + 0.5, 60,
                      "the held delivery to pass the visibility timeout")
            _stop(worker)
            worker = start_worker_process(settings, concurrency=1)
        _assert_one_outcome_each(client, keys, "gaveup", ids)
    finally:
        _stop(worker)
