"""Issue 19, item 4: every long-running command stops cleanly and quickly on SIGTERM and
SIGINT, finishing or handing back its work, and none outlives its wrapper. Real commands
(``python -m worker.cli``), a real Celery worker and beat, a real Redis."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import typing
import uuid

import psutil
import pytest

from tests.flow import submit
from tests.reliability.test_faults import _wait_for, slow_article
from worker.runtime.app import create_app
from worker.settings import Settings

pytestmark = [pytest.mark.fault, pytest.mark.slow]


_LOGS: list[typing.IO[str]] = []


@pytest.fixture(autouse=True)
def _close_logs() -> typing.Iterator[None]:
    yield
    while _LOGS:
        _LOGS.pop().close()


def _storyline(*args: str, redis_url: str, prefix: str, **extra_env: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != "STORYLINE_VISIBILITY_TIMEOUT"} | extra_env
    # stderr to a file, never a pipe nobody reads while the command runs: a full pipe would
    # block Celery's logging, and with it the shutdown under test
    log = tempfile.TemporaryFile(mode="w+")
    _LOGS.append(log)
    proc = subprocess.Popen([sys.executable, "-m", "worker.cli", *args, "--redis", redis_url, "--prefix", prefix],
                            stdout=subprocess.DEVNULL, stderr=log, env=env)
    proc.log = log  # type: ignore[attr-defined]
    return proc


def _stderr(proc: subprocess.Popen) -> str:
    proc.log.seek(0)  # type: ignore[attr-defined]
    return proc.log.read()[-2000:]  # type: ignore[attr-defined]


def _descendants(proc: subprocess.Popen) -> list[psutil.Process]:
    return psutil.Process(proc.pid).children(recursive=True)


def _gone(procs: list[psutil.Process], timeout: float) -> bool:
    _, alive = psutil.wait_procs(procs, timeout=timeout)
    for p in alive:  # never leave one behind, whatever the test found
        p.kill()
    return not alive


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_the_worker_shuts_down_warm_finishing_its_running_task(redis_url, prefix, client, keys, sig):
    wrapper = _storyline("worker", "-c", "1", "-l", "WARNING", redis_url=redis_url, prefix=prefix)
    try:
        app = create_app(Settings(redis_url=redis_url, prefix=prefix))
        run_id = uuid.uuid4().hex[:8]
        doc_id = submit(app, keys, run_id, "slow.html", slow_article(7))
        _wait_for(lambda: client.get(keys.attempts(doc_id)) == b"1", 90, "the task to start")
        family = _descendants(wrapper)
        wrapper.send_signal(sig)
        # 25 s of warm shutdown at most, then the group is killed: inside Kubernetes' 30 s
        assert wrapper.wait(timeout=30) == 0, _stderr(wrapper)
    finally:
        if wrapper.poll() is None:
            wrapper.kill()
    assert _gone(family, 5), "a process of the worker outlived the command"
    # the running task was finished, not killed mid-way: on the old code SIGTERM went to the
    # whole group, the pool process died (WorkerLostError) and the input had no outcome
    assert client.hexists(keys.run(run_id), doc_id)
    assert client.get(keys.attempts(doc_id)) == b"1" and client.xlen(keys.articles) == 1


def test_a_worker_never_outlives_its_wrapper_killed_with_sigkill(redis_url, prefix):
    wrapper = _storyline("worker", "-c", "1", "-l", "WARNING", redis_url=redis_url, prefix=prefix)
    try:
        _wait_for(lambda: len(_descendants(wrapper)) >= 2, 60, "the Celery worker and its pool")
        family = _descendants(wrapper)
    finally:
        wrapper.kill()
        wrapper.wait()
    # on the old code Celery went on as an orphan, consuming the queue with nobody to stop it
    assert _gone(family, 30), "the Celery worker outlived its SIGKILLed wrapper"


def test_beat_stops_with_its_wrapper(redis_url, prefix, client, keys):
    wrapper = _storyline("beat", "-l", "WARNING", redis_url=redis_url, prefix=prefix)
    try:
        _wait_for(lambda: len(_descendants(wrapper)) >= 1, 60, "celery beat")
        family = _descendants(wrapper)
        time.sleep(3)  # beat takes the redbeat lock
        wrapper.send_signal(signal.SIGTERM)
        assert wrapper.wait(timeout=30) is not None
    finally:
        if wrapper.poll() is None:
            wrapper.kill()
            wrapper.wait()
    # on the old code the wrapper exited and beat went on, holding the lock and sending polls
    assert _gone(family, 10), "celery beat outlived its wrapper"


def test_consume_exits_well_inside_a_grace_period(redis_url, prefix):
    # a 6 s BLOCK, past redis-py's 5 s socket timeout: on the old code every idle read timed
    # out inside the client's retries (the default 5 s BLOCK only raced it)
    wrapper = _storyline("consume", redis_url=redis_url, prefix=prefix, STORYLINE_REQUESTS__BLOCK_MS="6000")
    try:
        time.sleep(8)  # past the first idle reads
        started = time.monotonic()
        wrapper.send_signal(signal.SIGTERM)
        # the old code took 50-80 s (idle reads timing out inside the client's retries)
        assert wrapper.wait(timeout=15) == 0, _stderr(wrapper)
        print(f"consume exited {time.monotonic() - started:.1f}s after SIGTERM")
    finally:
        if wrapper.poll() is None:
            wrapper.kill()
            wrapper.wait()
