"""Reprocessing from the dead-letter stream: `storyline dead-letters list / requeue`, as a user
runs them, against a real worker."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

from tests.conftest import seed_paths
from tests.flow import events, submit, wait_outcomes
from worker.errors import FetchRefused
from worker.pipeline import InputDocument, Pipeline
from worker.store.client import connect


def _storyline(redis_url: str, prefix: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "worker.cli", *args, "--redis", redis_url, "--prefix", prefix],
                          capture_output=True, text=True, timeout=120, env=dict(os.environ))


def test_a_fixed_file_is_requeued_from_its_dead_letter_once(celery_worker, redis_url, prefix, client, keys, tmp_path):
    page = tmp_path / "page.txt"
    page.write_text("Too short to be news.\n")
    run_id = uuid.uuid4().hex
    submit(celery_worker, keys, run_id, str(page), page.read_bytes())
    assert list(wait_outcomes(client, keys, run_id, 1).values())[0]["status"] == "dead_letter"

    listed = _storyline(redis_url, prefix, "dead-letters", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    (dead,) = [json.loads(line) for line in listed.stdout.splitlines()]
    assert (dead["source"]["uri"], dead["error_type"], dead["requeued_as"]) == (str(page), "no_content", None)

    page.write_bytes(seed_paths()[0].read_bytes())  # the operator fixes the input
    requeued = _storyline(redis_url, prefix, "dead-letters", "requeue", dead["event_id"])
    assert requeued.returncode == 0, requeued.stderr
    (result,) = [json.loads(line) for line in requeued.stdout.splitlines()]
    assert result["status"] == "requeued"
    outcome = wait_outcomes(client, keys, result["run_id"], 1)[result["doc_id"]]
    assert outcome["status"] == "article"
    assert [e["source"]["uri"] for e in events(client, keys.articles)] == [str(page)]

    again = _storyline(redis_url, prefix, "dead-letters", "requeue", dead["event_id"])
    assert again.returncode == 1 and "already requeued" in again.stdout
    relisted = [json.loads(line) for line in _storyline(redis_url, prefix, "dead-letters", "list", "--json").stdout.splitlines()]
    assert relisted[0]["requeued_as"] == result["doc_id"]


def test_inputs_whose_body_is_gone_are_not_requeued_but_explained(settings, redis_url, prefix, client, keys):
    pipeline = Pipeline(connect(redis_url), settings)
    url_doc = InputDocument(uuid.uuid4().hex[:16], "url", "https://example.org/a", b"")
    pipeline.dead_letter(url_doc, FetchRefused("robots.txt disallows it"), attempts=1, stage="fetch")
    (url_dead,) = events(client, keys.dead_letter)

    run = _storyline(redis_url, prefix, "dead-letters", "requeue", url_dead["event_id"], "no-such-event")
    assert run.returncode == 1
    results = {r["event_id"]: r for r in map(json.loads, run.stdout.splitlines())}
    assert "storyline submit https://example.org/a" in results[url_dead["event_id"]]["reason"]
    assert results["no-such-event"]["reason"] == "no such dead letter"
    assert client.llen(f"{prefix}:celery:{keys.queue}") == 0, "nothing was sent to the workers"
