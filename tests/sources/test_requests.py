"""The ingest request stream: poison entries, repeated failures, and a consumer killed while
holding requests, on a real Redis with a real Celery worker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from tests.flow import events, wait_outcomes
from tests.sources.conftest import seed_paths
from worker.runtime.sinks import build_consumer
from worker.sources.requests import RequestConsumer, file_request, parse_request, submit, url_request


def _consumer(client, keys, settings, handled, name="c1", fail=False, **overrides):
    def handle(request):
        if fail:
            raise RuntimeError("the broker is unreachable")
        handled.append(request)

    from worker.pipeline import Pipeline

    pipeline = Pipeline(client, settings)
    consumer = RequestConsumer(client, keys, settings.requests.model_copy(update=overrides), handle,
                               lambda doc, exc, n: pipeline.dead_letter(doc, exc, n, stage="request"), name=name)
    consumer.ensure_group()
    return consumer


def test_valid_requests_are_handed_on_and_acked(client, keys, settings):
    submit(client, keys, [url_request("https://news.example.org/a", "r"), file_request("a.txt", b"body", "text/plain", "r")])
    handled: list = []
    consumer = _consumer(client, keys, settings, handled)
    assert consumer.run_once() == {"handed_on": 2}
    assert [(r.kind, r.uri) for r in handled] == [("url", "https://news.example.org/a"), ("file", "a.txt")]
    assert handled[1].body == b"body" and handled[0].run_id == "r"
    assert client.xpending(keys.requests, settings.requests.group)["pending"] == 0


def test_poison_entries_are_dead_lettered_with_a_reason_and_acked(client, keys, settings):
    garbage = [
        {"data": "{not json"},
        {"something": "else"},
        {"data": '["a", "list"]'},
        {"data": '{"kind": "url", "url": "file:///etc/passwd"}'},
        {"data": '{"kind": "file", "uri": "x.txt", "body_b64": "***"}'},
        {"data": '{"kind": "carrier-pigeon"}'},
    ]
    submit(client, keys, garbage)
    handled: list = []
    assert _consumer(client, keys, settings, handled).run_once() == {"poison": len(garbage)}
    assert handled == []
    assert client.xpending(keys.requests, settings.requests.group)["pending"] == 0
    letters = events(client, keys.dead_letter)
    assert len(letters) == len(garbage)
    assert all(d["stage"] == "request" and d["error_type"] == "bad_request" for d in letters)
    messages = " | ".join(d["message"] for d in letters)
    for reason in ("not JSON", "no 'data' field", "JSON object", "http(s) URL", "not base64", "'kind' must be"):
        assert reason in messages


def test_a_request_failing_n_times_is_dead_lettered_and_acked(client, keys, settings):
    submit(client, keys, [url_request("https://news.example.org/stuck")])
    consumer = _consumer(client, keys, settings, [], fail=True, claim_idle_ms=0, max_attempts=3)
    outcomes = [consumer.run_once() for _ in range(3)]
    assert outcomes == [{"failed": 1}, {"failed": 1}, {"dead_letter": 1}]
    assert client.xpending(keys.requests, settings.requests.group)["pending"] == 0
    letter = events(client, keys.dead_letter)[0]
    assert (letter["stage"], letter["attempts"], letter["source"]["uri"]) == ("request", 3, "https://news.example.org/stuck")
    assert "broker is unreachable" in letter["message"]
    assert consumer.run_once() == {}  # nothing left


_HOLDER = textwrap.dedent("""
    import sys, time, redis
    from worker.settings import Settings
    from worker.store.keys import Keys
    from worker.sources.requests import RequestConsumer
    url, prefix = sys.argv[1], sys.argv[2]
    settings = Settings(redis_url=url, prefix=prefix)
    consumer = RequestConsumer(redis.Redis.from_url(url), Keys(prefix), settings.requests,
                               handle=None, dead_letter=None, name="doomed")
    consumer.ensure_group()
    held = consumer.read_new(count=100)
    print(len(held), flush=True)
    time.sleep(600)  # holding the requests, unacked, until killed
""")


@pytest.mark.fault
@pytest.mark.timeout(120)
def test_requests_held_by_a_killed_consumer_are_taken_over_and_none_is_lost(celery_worker, redis_url, client, keys, settings):
    paths = seed_paths()
    ids = submit(client, keys, [file_request(str(p), p.read_bytes(), "text/plain", "killed") for p in paths])
    holder = subprocess.Popen([sys.executable, "-c", _HOLDER, redis_url, keys.prefix], stdout=subprocess.PIPE,
                              text=True, env=dict(os.environ))
    try:
        assert holder.stdout.readline().strip() == str(len(paths))
        pending = client.xpending(keys.requests, settings.requests.group)
        assert pending["pending"] == len(paths) and pending["consumers"][0]["name"] == b"doomed"
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        holder.stdout.close()  # an unclosed pipe is a ResourceWarning, an error under filterwarnings

    # another consumer, configured to take over entries idle for any time at all
    survivor = build_consumer(settings.model_copy(update={"requests": settings.requests.model_copy(
        update={"claim_idle_ms": 0})}), client, name="survivor")
    assert survivor.read_new(block_ms=None) == []  # nothing new: they were all delivered to the dead one
    assert survivor.run_once() == {"handed_on": len(paths)}
    assert client.xpending(keys.requests, settings.requests.group)["pending"] == 0

    outcomes = wait_outcomes(client, keys, "killed", len(paths))
    assert sorted(o["status"] for o in outcomes.values()) == ["article"] * len(paths)
    assert client.xlen(keys.articles) == len(paths)
    assert {a["source"]["uri"] for a in events(client, keys.articles)} == {str(p) for p in paths}
    assert len(ids) == len(paths)


def test_parse_request_round_trips_the_producers_format():
    r = parse_request("1-0", {k.encode(): v.encode() for k, v in file_request("p.html", b"<p>x</p>", "text/html", "run").items()})
    assert (r.kind, r.uri, r.body, r.content_type, r.run_id) == ("file", "p.html", b"<p>x</p>", "text/html", "run")
    assert r.doc_id == parse_request("1-0", {b"data": b'{"kind": "url", "url": "http://a/"}'}).doc_id
