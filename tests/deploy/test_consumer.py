"""The example consumer (examples/consumer.py) against real streams written by the pipeline:
consumer groups, acks, reclaiming what a dead consumer left pending, schema validation."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import uuid

import pytest

from schemas.export import stream_of
from tests.conftest import ROOT, seed_paths
from worker.pipeline import InputDocument, Pipeline
from worker.store.client import connect

EXAMPLE = ROOT / "examples" / "consumer.py"


def _load_example():
    spec = importlib.util.spec_from_file_location("storyline_example_consumer", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def published(settings) -> list[str]:
    """The seeds through the pipeline (no Celery needed): 5 article events; their event ids."""
    pipeline = Pipeline(connect(settings.redis_url), settings)
    for path in seed_paths():
        pipeline.process(InputDocument(uuid.uuid4().hex[:16], "file", str(path), path.read_bytes()))
    return [json.loads(f[b"data"])["event_id"] for _, f in pipeline.client.xrange(pipeline.keys.articles)]


def test_example_consumer_reclaims_a_dead_consumers_entries_and_skips_invalid_ones(published, redis_url, prefix, client, keys):
    client.xgroup_create(keys.articles, "indexer", id="0")
    # a consumer that read two entries and died before acking them
    client.xreadgroup("indexer", "dead-consumer", {keys.articles: ">"}, count=2)
    # an entry that does not follow the contract
    client.xadd(keys.articles, {"type": "article.ingested", "id": "bogus", "data": json.dumps({"event_id": "bogus"})})

    # --count 6 is never reached (5 valid events): the consumer stops when a read finds nothing new
    run = subprocess.run(
        [sys.executable, str(EXAMPLE), "--redis", redis_url, "--prefix", prefix, "--stream", "articles",
         "--group", "indexer", "--consumer", "alive", "--count", "6", "--block-ms", "300", "--min-idle-ms", "0"],
        capture_output=True, text=True, timeout=60,
    )
    assert run.returncode == 0, run.stderr
    handled = [json.loads(line) for line in run.stdout.splitlines()]
    assert sorted(e["event_id"] for e in handled) == sorted(published)
    assert all(e["type"] == "article.ingested" and e["thread_id"] for e in handled)
    log = [json.loads(line) for line in run.stderr.splitlines()]
    assert [entry["event"] for entry in log if entry["event"] == "invalid_event"] == ["invalid_event"]
    assert log[-1] == {"event": "stopped", "handled": 5, "invalid": 1, "reclaimed": 2, "poison": 0}
    assert client.xpending(keys.articles, "indexer")["pending"] == 0


def test_a_handler_that_keeps_failing_leaves_the_entry_pending_until_max_deliveries(published, client, keys):
    example = _load_example()
    consumer = example.StreamConsumer(client, keys.articles, "fragile", "c1", example.load_validator("articles"),
                                      min_idle_ms=0, max_deliveries=2)
    first = published[0]

    def handler(entry_type, event):
        if event["event_id"] == first:
            raise RuntimeError("downstream index is down")

    consumer.ensure_group()
    consumer.read_new(handler, block_ms=100)
    assert consumer.stats.handled == 4 and consumer.stats.failed == 1
    assert client.xpending(keys.articles, "fragile")["pending"] == 1, "a failed entry stays pending"

    consumer.reclaim(handler)  # second delivery of the failing entry: max_deliveries reached
    assert consumer.stats.poison == 1
    assert client.xpending(keys.articles, "fragile")["pending"] == 0


def test_every_stream_has_a_schema_the_example_can_load():
    example = _load_example()
    for stream in example.STREAMS:
        assert stream_of(example.load_validator(stream).schema) == stream
