"""The exported JSON Schemas under a strict validator of another language (Node's ajv, draft
2020-12, strict mode, ajv-formats): they compile, the real events of every stream (a replay of
the seeds, a copy and a broken file through a real worker) pass, and broken events fail."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import uuid

import pytest

from schemas.export import OUT
from tests.conftest import seed_paths
from tests.deploy import tools
from tests.flow import events, submit, submit_files, wait_outcomes

SCRIPT = tools.ROOT / "tests" / "deploy" / "tools" / "validate_events.mjs"
BINARY = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4


def ajv(items: list[tuple[str, dict]]) -> list[dict]:
    prefix = tools.ajv_prefix()
    stdin = "".join(json.dumps({"stream": s, "event": e}) + "\n" for s, e in items)
    run = subprocess.run(["node", str(SCRIPT), str(OUT)], input=stdin, capture_output=True, text=True, timeout=120,
                         env=dict(os.environ, AJV_PREFIX=str(prefix)))
    assert run.returncode == 0, run.stderr
    return [json.loads(line) for line in run.stdout.splitlines()]


@pytest.fixture(scope="module")
def real_events(request) -> dict[str, list[dict]]:
    """Events of every stream, produced by a real worker (module scope: one replay for all)."""
    from celery.contrib.testing.worker import start_worker

    import worker.runtime.tasks  # noqa: F401
    from worker.runtime.app import create_app
    from worker.settings import Settings
    from worker.store.client import connect
    from worker.store.keys import Keys

    redis_url = request.getfixturevalue("redis_url")
    prefix = f"test-{uuid.uuid4().hex[:10]}"
    settings = Settings(redis_url=redis_url, prefix=prefix)
    keys, client = Keys(prefix), connect(redis_url)
    app = create_app(settings)
    try:
        with start_worker(app, pool="threads", concurrency=2, perform_ping_check=False, shutdown_timeout=30):
            run_id = uuid.uuid4().hex
            paths = seed_paths()
            submit_files(app, keys, run_id, paths)
            wait_outcomes(client, keys, run_id, len(paths))
            submit(app, keys, run_id, "copy-of-" + paths[0].name, paths[0].read_bytes())  # a duplicate
            submit(app, keys, run_id, "broken.png", BINARY)  # a dead letter
            wait_outcomes(client, keys, run_id, len(paths) + 2)
        out = {stream.removeprefix(f"{prefix}:"): events(client, stream) for stream in keys.output_streams}
    finally:
        for key in client.scan_iter(f"{prefix}:*", count=1000):
            client.delete(key)
        for key in client.scan_iter(f"{prefix}.*", count=1000):
            client.delete(key)
    assert all(out.values()), {k: len(v) for k, v in out.items()}
    return out


def test_ajv_strict_accepts_every_real_event_of_every_stream(real_events):
    items = [(stream, e) for stream, evs in real_events.items() for e in evs]
    assert {s for s, _ in items} == {"articles", "duplicates", "threads", "dead-letter"}
    results = ajv(items)
    assert [r for r in results if not r["valid"]] == []


def _without(event: dict, field: str) -> dict:
    out = copy.deepcopy(event)
    del out[field]
    return out


def _with(event: dict, field: str, value) -> dict:
    out = copy.deepcopy(event)
    out[field] = value
    return out


def test_ajv_strict_rejects_events_that_break_the_contract(real_events):
    article, duplicate = real_events["articles"][0], real_events["duplicates"][0]
    thread, dead = real_events["threads"][0], real_events["dead-letter"][0]
    bad = {
        **{f"article without {f}": ("articles", _without(article, f))
           for f in ("schema_version", "occurred_at", "title", "url", "authors", "event_id", "text")},
        "schema_version 99": ("articles", _with(article, "schema_version", 99)),
        "published yesterday": ("articles", _with(article, "published", "yesterday")),
        "url not a url": ("articles", _with(article, "url", "not a url")),
        "word_count -5": ("articles", _with(article, "word_count", -5)),
        "empty article_id": ("articles", _with(article, "article_id", "")),
        "empty text": ("articles", _with(article, "text", "")),
        "occurred_at not a date-time": ("articles", _with(article, "occurred_at", "noon")),
        "an unknown field": ("articles", _with(article, "colour", "red")),
        "source without uri": ("articles", _with(article, "source", {"kind": "file"})),
        "similarity 1.5": ("duplicates", _with(duplicate, "similarity", 1.5)),
        "method guessed": ("duplicates", _with(duplicate, "method", "guessed")),
        "empty duplicate_of": ("duplicates", _with(duplicate, "duplicate_of", "")),
        "thread size 0": ("threads", _with(thread, "size", 0)),
        "thread kind": ("threads", _with(thread, "kind", "thread.deleted")),
        "thread without last_seen": ("threads", _without(thread, "last_seen")),
        "attempts 0": ("dead-letter", _with(dead, "attempts", 0)),
        "stage unknown": ("dead-letter", _with(dead, "stage", "somewhere")),
        "empty message": ("dead-letter", _with(dead, "message", "")),
    }
    results = ajv(list(bad.values()))
    accepted = [name for name, result in zip(bad, results) if result["valid"]]
    assert accepted == [], f"ajv accepted broken events: {accepted}"


def test_a_schema_with_an_unknown_keyword_fails_ajv_strict_mode(tmp_path):
    """The check itself bites: the old `x-stream` keyword makes strict mode refuse the schema."""
    schema = json.loads((OUT / "articles.json").read_text())
    schema["x-stream"] = "articles"
    (tmp_path / "articles.json").write_text(json.dumps(schema))
    prefix = tools.ajv_prefix()
    run = subprocess.run(["node", str(SCRIPT), str(tmp_path)], input="", capture_output=True, text=True, timeout=60,
                         env=dict(os.environ, AJV_PREFIX=str(prefix)))
    assert run.returncode == 2 and "x-stream" in run.stderr, run.stderr
