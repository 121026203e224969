"""A worker whose consumer stops taking tasks while tasks wait exits, so that its supervisor starts
a fresh one, and what it held is not lost (worker/runtime/watchdog.py). The stall is made real:
the worker is told to cancel its consumer (Celery's own remote control), which leaves it alive,
idle and deaf to the queue, as a consumer that lost its broker connection and never came back."""

from __future__ import annotations

import socket
import uuid

import pytest

from tests.conftest import seed_paths
from tests.flow import submit, wait_outcomes
from tests.reliability.test_faults import _wait_for
from worker.runtime.app import create_app
from worker.runtime.processes import start_worker_process, stop_worker_process
from worker.runtime.watchdog import Stall
from worker.settings import Settings


def test_only_waiting_tasks_a_free_worker_does_not_take_count_as_a_stall():
    stall = Stall(limit_seconds=30)
    # idle with an empty queue, busy with every process taken, or taking tasks: never a stall
    assert not any(stall.observe(received=0, queued=0, held=0, capacity=2, elapsed=10) for _ in range(10))
    assert not any(stall.observe(received=0, queued=5, held=2, capacity=2, elapsed=10) for _ in range(10))
    assert not any(stall.observe(received=n, queued=5, held=0, capacity=2, elapsed=10) for n in range(1, 11))
    # tasks waiting, a free process, nothing taken: a stall once it lasts the limit
    assert [stall.observe(received=10, queued=5, held=0, capacity=2, elapsed=10) for _ in range(3)] == [False, False, True]
    # switched off
    off = Stall(limit_seconds=0)
    assert not any(off.observe(received=0, queued=5, held=0, capacity=2, elapsed=10) for _ in range(100))


@pytest.mark.fault
@pytest.mark.slow
@pytest.mark.timeout(240)
def test_a_worker_that_stopped_consuming_exits_and_its_input_is_not_lost(redis_url, prefix, client, keys, monkeypatch,
                                                                         tmp_path):
    monkeypatch.setenv("STORYLINE_CONSUMER_STALL_SECONDS", "20")
    settings = Settings(redis_url=redis_url, prefix=prefix)
    app = create_app(settings)
    node = f"watchdog-{uuid.uuid4().hex[:6]}@{socket.gethostname()}"
    log_path = tmp_path / "worker.log"
    with open(log_path, "wb") as log:
        stalled = start_worker_process(settings, concurrency=1, loglevel="INFO", output=log, name=node)
    fresh = None
    run_id = f"wd-{uuid.uuid4().hex[:6]}"
    try:
        _wait_for(lambda: bool(app.control.ping(destination=[node], timeout=1)), 60, "the worker to answer")
        replies = app.control.cancel_consumer(keys.queue, destination=[node], reply=True, timeout=5)
        assert replies, "the worker did not confirm that it cancelled its consumer"
        doc_id = submit(app, keys, run_id, seed_paths()[0].name, seed_paths()[0].read_bytes())
        # the worker holds nothing and takes nothing while the task waits: it must end itself
        # (without the watchdog it runs on, and this wait times out)
        _wait_for(lambda: stalled.poll() is not None, 150, "the stalled worker to exit")
        assert "consumer_stalled" in log_path.read_text(errors="replace")
        assert client.hlen(keys.run(run_id)) == 0
        # what a supervisor does next: a fresh worker, which finishes the waiting input
        fresh = start_worker_process(settings, concurrency=1)
        outcomes = wait_outcomes(client, keys, run_id, 1, timeout=90)
        assert outcomes[doc_id]["status"] == "article"
    finally:
        stop_worker_process(stalled)
        if fresh is not None:
            stop_worker_process(fresh)
