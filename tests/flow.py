"""Helpers for tests that push inputs through a real worker and wait for their outcomes."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import redis

from worker.pipeline import InputDocument
from worker.store.keys import Keys
from worker.runtime.messages import encode_document


def submit(app, keys: Keys, run_id: str, name: str, body: bytes, kind: str = "file") -> str:
    doc_id = uuid.uuid4().hex[:16]
    doc = InputDocument(doc_id, kind, name, body, content_type="text/html" if name.endswith((".html", ".htm")) else None,
                        run_id=run_id)
    app.send_task("storyline.ingest", args=[encode_document(doc)], queue=keys.queue, task_id=doc_id)
    return doc_id


def submit_files(app, keys: Keys, run_id: str, paths: list[Path]) -> list[str]:
    return [submit(app, keys, run_id, str(p), p.read_bytes()) for p in paths]


def wait_outcomes(client: redis.Redis, keys: Keys, run_id: str, n: int, timeout: float = 120) -> dict[str, dict]:
    """Outcomes by doc id once ``n`` inputs of the run have one (fails after ``timeout`` s)."""
    deadline = time.monotonic() + timeout
    while client.hlen(keys.run(run_id)) < n:
        assert time.monotonic() < deadline, f"only {client.hlen(keys.run(run_id))}/{n} inputs finished"
        time.sleep(0.05)
    return {k.decode(): json.loads(v) for k, v in client.hgetall(keys.run(run_id)).items()}


def events(client: redis.Redis, stream: str) -> list[dict]:
    return [json.loads(f[b"data"]) for _, f in client.xrange(stream)]
