"""The whole flow through a real Celery worker and a real Redis."""

from __future__ import annotations

import pytest
import redis
from celery.canvas import Signature
from celery.exceptions import Reject, Retry, SoftTimeLimitExceeded
from kombu.exceptions import OperationalError

import worker.runtime.retry
import worker.runtime.tasks
from tests.conftest import seed_paths
from tests.flow import events, submit, submit_files, wait_outcomes
from worker.errors import StageFailure
from worker.model import Stage
from worker.pipeline import InputDocument, Pipeline
from worker.publish.streams import Publisher
from worker.store.keys import Keys
from worker.runtime.messages import decode_document, encode_document


def test_seeds_become_five_articles_in_one_thread_then_duplicates(celery_worker, client, keys):
    first = submit_files(celery_worker, keys, "run1", seed_paths())
    outcomes = wait_outcomes(client, keys, "run1", 5)
    assert [outcomes[d]["status"] for d in first] == ["article"] * 5
    articles = events(client, keys.articles)
    assert len(articles) == 5
    assert len({a["thread_id"] for a in articles}) == 1
    assert {a["article_id"] for a in articles} == set(first)
    for a in articles:
        assert a["title"] and a["word_count"] > 300 and a["language"] == "en"
        assert a["source"]["kind"] == "file" and a["source"]["uri"].endswith(".txt")
    assert client.xlen(keys.threads_stream) == 5
    thread_events = events(client, keys.threads_stream)
    assert [t["kind"] for t in thread_events].count("thread.created") == 1
    assert thread_events[-1]["size"] == 5 if len({t["thread_id"] for t in thread_events}) == 1 else True

    second = submit_files(celery_worker, keys, "run2", seed_paths())
    outcomes2 = wait_outcomes(client, keys, "run2", 5)
    assert [outcomes2[d]["status"] for d in second] == ["duplicate"] * 5
    dups = events(client, keys.duplicates)
    assert {d["article_id"]: d["duplicate_of"] for d in dups} == dict(zip(second, first))
    assert all(d["method"] == "exact" and d["similarity"] == 1.0 for d in dups)
    assert client.xlen(keys.articles) == 5


def test_unusable_inputs_are_dead_lettered_and_the_replay_carries_on(celery_worker, client, keys):
    bad = {
        "binary.txt": bytes(range(256)) * 40,
        "empty.txt": b"",
        "chrome-only.txt": b"Related Posts\n\nLEAVE A REPLY\n",
        "broken.html": b"<html><body><div><p>unclosed <b>tags " + b"<div>" * 50,
    }
    ids = {name: submit(celery_worker, keys, "bad", name, body) for name, body in bad.items()}
    good = submit(celery_worker, keys, "bad", str(seed_paths()[0]), seed_paths()[0].read_bytes())
    outcomes = wait_outcomes(client, keys, "bad", len(bad) + 1)
    assert outcomes[good]["status"] == "article"
    assert all(outcomes[i]["status"] == "dead_letter" for i in ids.values())
    letters = {d["source"]["uri"]: d for d in events(client, keys.dead_letter)}
    assert letters["binary.txt"]["error_type"] == "not_text"
    assert letters["empty.txt"]["error_type"] == "empty_input"
    assert letters["chrome-only.txt"]["error_type"] == "no_content"
    assert all(d["message"] and d["attempts"] == 1 and d["stage"] == "extract" for d in letters.values())


# -- a Redis that refuses writes (full under noeviction, or a replica after a failover) is an
# -- outage: the input is retried, never dead-lettered as a bug, never dropped

REFUSALS = {
    "oom": lambda: redis.exceptions.OutOfMemoryError("command not allowed when used memory > 'maxmemory'."),
    "readonly": lambda: redis.exceptions.ReadOnlyError("You can't write against a read only replica."),
}


class _RefusingOncePublisher(Publisher):
    """The first publish is refused as by a full or read-only Redis (after dedup state was written)."""

    def __init__(self, *args, error: Exception, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.error: Exception | None = error

    def publish(self, events_, client=None):
        if self.error is not None:
            error, self.error = self.error, None
            raise error
        return super().publish(events_, client)


class _RefusesFirstCount:
    """A Redis client whose first delivery count (a non-transactional pipeline) is refused."""

    def __init__(self, client: redis.Redis, error: Exception) -> None:
        self._client = client
        self.error: Exception | None = error

    def __getattr__(self, name):
        return getattr(self._client, name)

    def pipeline(self, transaction: bool = True, shard_hint=None):
        pipe = self._client.pipeline(transaction=transaction, shard_hint=shard_hint)
        if not transaction and self.error is not None:
            error, self.error = self.error, None

            def refuse(*_args, **_kwargs):
                pipe.reset()
                raise error

            pipe.execute = refuse
        return pipe


@pytest.mark.parametrize("refusal", sorted(REFUSALS))
def test_a_refused_write_in_a_stage_is_retried_not_dead_lettered(refusal, celery_worker, client, keys, settings):
    pipeline = Pipeline(client, settings)
    pipeline.publisher = _RefusingOncePublisher(client, keys, settings.streams, error=REFUSALS[refusal]())
    celery_worker._storyline_pipeline = pipeline
    doc_id = submit(celery_worker, keys, "refused", str(seed_paths()[0]), seed_paths()[0].read_bytes())
    outcome = wait_outcomes(client, keys, "refused", 1)[doc_id]
    assert outcome["status"] == "article"
    assert int(client.get(keys.attempts(doc_id))) == 2, "refused once, retried once"
    assert client.xlen(keys.dead_letter) == 0
    assert [a["article_id"] for a in events(client, keys.articles)] == [doc_id]


@pytest.mark.parametrize("refusal", sorted(REFUSALS))
def test_a_refused_delivery_count_is_retried_not_dropped(refusal, celery_worker, client, keys, settings):
    refusing = _RefusesFirstCount(client, REFUSALS[refusal]())
    celery_worker._storyline_pipeline = Pipeline(refusing, settings)
    doc_id = submit(celery_worker, keys, "uncounted", str(seed_paths()[1]), seed_paths()[1].read_bytes())
    outcome = wait_outcomes(client, keys, "uncounted", 1)[doc_id]
    assert refusing.error is None, "the first delivery's count was refused"
    assert outcome["status"] == "article"
    assert int(client.get(keys.attempts(doc_id))) == 1, "the refused delivery was not counted"
    assert client.xlen(keys.dead_letter) == 0


# -- the retry message itself cannot be queued (the same outage): the task holds its message and
# -- then rejects it for requeueing; Celery's own Task.retry would reject it without requeue

class _Clock:
    """Stands in for the ``time`` module of the task and its retry policy: sleeping advances a virtual clock."""

    def __init__(self, on_sleep=None) -> None:
        self.now = 1000.0
        self.slept: list[float] = []
        self.on_sleep = on_sleep

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
        if self.on_sleep:
            self.on_sleep(len(self.slept))


def _use_clock(monkeypatch, clock: _Clock) -> None:
    """The task's start and the retry policy's hold deadline on the same virtual clock."""
    monkeypatch.setattr(worker.runtime.tasks, "time", clock)
    monkeypatch.setattr(worker.runtime.retry, "time", clock)


def _run_ingest(app, keys: Keys, doc_id: str, body: bytes):
    """Run the ingest task's body as a worker would (a delivered request, not a direct call)."""
    return _run_message(app, keys, doc_id, encode_document(InputDocument(doc_id, "file", "x.txt", body, run_id="held")))


@pytest.fixture
def refusing_app(settings, client, monkeypatch):
    """An app whose pipeline's stages are refused by Redis (OOM), and whose retries can be failed."""
    from worker.runtime.app import create_app

    app = create_app(settings)
    pipeline = Pipeline(client, settings)

    def refused(doc):
        raise StageFailure(Stage.PUBLISH, {}, REFUSALS["oom"]())

    monkeypatch.setattr(pipeline, "process", refused)
    app._storyline_pipeline = pipeline
    sent: list[object] = []
    app.retry_outcomes = []  # per call: an exception to raise, or None to "queue" the retry

    def apply_async(signature, *args, **kwargs):
        sent.append(signature)
        outcome = app.retry_outcomes.pop(0) if app.retry_outcomes else OperationalError("OOM command not allowed")
        if outcome is not None:
            raise outcome
        return None

    monkeypatch.setattr(Signature, "apply_async", apply_async)
    app.retries_sent = sent
    return app


def test_a_retry_refused_for_a_while_is_queued_once_redis_takes_it(refusing_app, keys, monkeypatch):
    clock = _Clock()
    _use_clock(monkeypatch, clock)
    refusing_app.retry_outcomes = [OperationalError("OOM"), OperationalError("OOM"), None]
    with pytest.raises(Retry):
        _run_ingest(refusing_app, keys, "heldthenqueued1", b"x")
    assert len(refusing_app.retries_sent) == 3
    assert clock.slept == [0.5, 1.0], "backed off between tries"


def test_a_retry_that_cannot_be_queued_rejects_for_requeue_before_the_time_limit(refusing_app, keys, monkeypatch):
    clock = _Clock()
    start = clock.now
    _use_clock(monkeypatch, clock)
    with pytest.raises(Reject) as rejected:
        _run_ingest(refusing_app, keys, "neverqueued0001", b"x")
    assert rejected.value.requeue is True, "requeue=False would delete the message (kombu QoS.reject)"
    soft = refusing_app.conf.task_soft_time_limit
    assert soft - worker.runtime.retry.HOLD_MARGIN_SECONDS - 5.0 <= clock.now - start <= soft - worker.runtime.retry.HOLD_MARGIN_SECONDS
    assert max(clock.slept) == 5.0


def test_a_soft_time_limit_while_holding_rejects_for_requeue(refusing_app, keys, monkeypatch):
    def limit(n: int) -> None:
        if n == 3:
            raise SoftTimeLimitExceeded()

    _use_clock(monkeypatch, _Clock(on_sleep=limit))
    with pytest.raises(Reject) as rejected:
        _run_ingest(refusing_app, keys, "softlimitheld01", b"x")
    assert rejected.value.requeue is True


def test_out_of_attempts_while_redis_refuses_is_not_an_internal_error(refusing_app, client, keys, settings):
    client.set(keys.attempts("outofattempts01"), settings.limits.max_attempts - 1)
    assert _run_ingest(refusing_app, keys, "outofattempts01", b"x") == {"doc_id": "outofattempts01",
                                                                         "status": "dead_letter"}
    [letter] = events(client, keys.dead_letter)
    assert letter["error_type"] == "redis_refused_write"
    assert letter["stage"] == "publish"
    assert "OutOfMemoryError" in letter["message"]


def test_the_main_process_loads_the_models_its_pool_processes_share():
    # a fresh interpreter, as a worker's main process is before the pool forks
    import subprocess
    import sys

    code = (
        "import py3langid.langid as L, wordfreq\n"
        "assert L.IDENTIFIER is None and wordfreq.get_frequency_dict.cache_info().currsize == 0\n"
        "from worker.pipeline import warm_up\n"
        "warm_up()\n"
        "assert L.IDENTIFIER is not None, 'py3langid model not loaded'\n"
        "assert wordfreq.get_frequency_dict.cache_info().currsize >= 1, 'wordfreq list not loaded'\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr


# -- the task layer's mapping: what a failed or broken delivery becomes

def _run_message(app, keys: Keys, task_id: str, message):
    """Run the ingest task on a raw message, as a worker would after delivering it."""
    task = app.tasks["storyline.ingest"]
    task.push_request(id=task_id, called_directly=False, is_eager=False, retries=0, args=[message], kwargs={},
                      delivery_info={"exchange": "", "routing_key": keys.queue}, timelimit=(None, None))
    try:
        return task.run(message)
    finally:
        task.pop_request()


@pytest.fixture
def plain_app(settings, client):
    from worker.runtime.app import create_app

    app = create_app(settings)
    app._storyline_pipeline = Pipeline(client, settings)
    return app


@pytest.mark.parametrize("message", [
    {"doc_id": "malformed000001", "source_kind": "file", "uri": "x.txt"},  # no body
    {"doc_id": "malformed000002", "source_kind": "file", "uri": "x.txt", "body": "not base64!"},
    ["not", "an", "object"],
])
def test_a_malformed_message_is_published_as_a_dead_letter(plain_app, client, keys, message):
    result = _run_message(plain_app, keys, "malformed", message)
    assert result["status"] == "dead_letter"
    [letter] = events(client, keys.dead_letter)
    assert (letter["stage"], letter["error_type"]) == ("request", "bad_request")
    assert "malformed task message" in letter["message"]
    if isinstance(message, dict):
        assert result["doc_id"] == message["doc_id"]
    # a redelivery of the same broken message publishes nothing more
    _run_message(plain_app, keys, "malformed", message)
    assert client.xlen(keys.dead_letter) == 1


def test_a_soft_time_limit_records_the_stage_that_was_running(plain_app, client, keys, monkeypatch):
    pipeline = plain_app._storyline_pipeline

    def too_slow(*_args, **_kwargs):
        raise SoftTimeLimitExceeded()

    monkeypatch.setattr(pipeline.dedup, "check_and_insert", too_slow)
    message = encode_document(InputDocument("softindedup0001", "file", "s.txt", seed_paths()[0].read_bytes()))
    assert _run_message(plain_app, keys, "softindedup0001", message)["status"] == "dead_letter"
    [letter] = events(client, keys.dead_letter)
    assert letter["stage"] == "dedup", "the time ran out in dedup, not in extract"
    assert "time limit" in letter["message"]


def test_an_input_out_of_attempts_is_dead_lettered_without_running(plain_app, client, keys, settings, monkeypatch):
    pipeline = plain_app._storyline_pipeline
    monkeypatch.setattr(pipeline, "process", lambda doc: pytest.fail("an exhausted input must not run again"))
    client.set(keys.attempts("exhausted000001"), settings.limits.max_attempts)
    message = encode_document(InputDocument("exhausted000001", "file", "e.txt", b"some text"))
    assert _run_message(plain_app, keys, "exhausted000001", message)["status"] == "dead_letter"
    [letter] = events(client, keys.dead_letter)
    assert letter["error_type"] == "transient" and "without finishing" in letter["message"]
    assert letter["attempts"] == settings.limits.max_attempts + 1


def test_task_messages_travel_as_plain_json_and_base64_ones_from_older_senders_still_run(
        celery_worker, client, keys, settings):
    """The broker holds our JSON as it is (kombu body_encoding utf-8, not base64: a third
    smaller in the queue, in the unacked copy and on the wire); a message an older sender
    queued base64-encoded is still decoded and processed."""
    import base64
    import json

    from worker.runtime.app import create_app

    probe_queue = f"{keys.queue}-probe"  # nobody consumes it: the message stays to be looked at
    doc = InputDocument("a" * 16, "file", "probe.txt", seed_paths()[0].read_bytes(), run_id="fmt")
    create_app(settings).send_task("storyline.ingest", args=[encode_document(doc)], queue=probe_queue,
                                   task_id=doc.doc_id)
    probe_key = f"{settings.prefix}:celery:{probe_queue}"
    [raw] = client.lrange(probe_key, 0, -1)
    client.delete(probe_key)
    payload = json.loads(raw)
    assert payload["properties"]["body_encoding"] == "utf-8"
    assert json.loads(payload["body"])[0][0]["doc_id"] == doc.doc_id  # plain JSON, no base64 layer
    # the same message as kombu's default wrote it, onto the consumed queue
    payload["body"] = base64.b64encode(payload["body"].encode()).decode()
    payload["properties"]["body_encoding"] = "base64"
    client.lpush(f"{settings.prefix}:celery:{keys.queue}", json.dumps(payload))
    assert wait_outcomes(client, keys, "fmt", 1)[doc.doc_id]["status"] == "article"


def test_a_body_travels_zstd_compressed_and_an_uncompressed_one_still_runs(plain_app, client, keys):
    """The body is sent zstd-compressed, so Redis stores and moves a fifth of the bytes; a
    message without ``body_codec`` (an older sender's) is read as it is, to the same article."""
    import base64

    body = seed_paths()[0].read_bytes()
    message = encode_document(InputDocument("zstdbody0000001", "file", "s.txt", body, run_id="zst"))
    assert message["body_codec"] == "zstd"
    assert len(message["body"]) < len(base64.b64encode(body)) / 2
    assert decode_document(message).body == body
    plain = dict(message, doc_id="zstdbody0000002", body=base64.b64encode(body).decode())
    del plain["body_codec"]
    first = _run_message(plain_app, keys, "zstdbody0000001", message)
    second = _run_message(plain_app, keys, "zstdbody0000002", plain)
    assert first["status"] == "article"
    assert second["status"] == "duplicate", "the uncompressed copy is the same text, found by dedup"


def test_a_sources_date_travels_with_the_message_and_one_of_another_type_is_refused():
    doc = InputDocument("hinted000000001", "url", "http://127.0.0.1/a", b"<p>x</p>", published_hint="2025-02-18T09:30:00+00:00")
    message = encode_document(doc)
    assert decode_document(message).published_hint == "2025-02-18T09:30:00+00:00"
    assert "published_hint" not in encode_document(InputDocument("plain0000000001", "file", "t.txt", b"x"))
    with pytest.raises(TypeError):
        decode_document({**message, "published_hint": 20250218})


@pytest.mark.parametrize(("hint", "taken"), [
    ("2025-02-18T09:30:00+00:00", True), ("2025-02-18", True),
    ("Tue, 18 Feb 2025", False),  # a JSON feed's date is whatever the feed wrote
    ("2999-01-01T00:00:00+00:00", False),  # after tomorrow
])
def test_a_sources_date_is_taken_only_when_the_page_has_none_and_it_is_a_date(hint, taken):
    import time

    from worker.extract import ExtractedArticle
    from worker.pipeline import _hinted

    undated = ExtractedArticle(text="x")
    assert _hinted(undated, hint, time.time()).published == (hint if taken else None)
    dated = ExtractedArticle(text="x", published="2025-05-20")
    assert _hinted(dated, hint, time.time()).published == "2025-05-20"


def test_tiny_bodies_travel_as_they_are():
    message = encode_document(InputDocument("tinybody0000001", "file", "t.txt", b"short"))
    assert "body_codec" not in message and decode_document(message).body == b"short"


def test_a_compression_bomb_is_dead_lettered_as_too_large(plain_app, client, keys, settings):
    """A request whose body inflates past the size limit stops inflating just past it and is
    dead-lettered like any body over the limit, not held in memory whole."""
    import base64

    import zstandard

    bomb = zstandard.ZstdCompressor().compress(b"<p>" + b"a" * (settings.limits.max_bytes * 4))
    assert len(bomb) < 100_000
    assert len(decode_document({"doc_id": "x", "source_kind": "request", "uri": "u", "body_codec": "zstd",
                                "body": base64.b64encode(bomb).decode()}, 1000).body) == 1001
    message = {"doc_id": "zstdbomb0000001", "source_kind": "request", "uri": "bomb", "body_codec": "zstd",
               "body": base64.b64encode(bomb).decode()}
    assert _run_message(plain_app, keys, "zstdbomb0000001", message)["status"] == "dead_letter"
    [letter] = events(client, keys.dead_letter)
    assert letter["error_type"] == "too_large" and "STORYLINE_LIMITS__MAX_BYTES" in letter["message"]


@pytest.mark.parametrize("message", [
    {"doc_id": "zstdbad00000001", "source_kind": "file", "uri": "x", "body_codec": "zstd", "body": "bm90IHpzdGQ="},
    {"doc_id": "zstdbad00000002", "source_kind": "file", "uri": "x", "body_codec": "brotli", "body": "eA=="},
])
def test_a_body_that_is_not_what_its_codec_says_is_a_malformed_message(plain_app, client, keys, message):
    assert _run_message(plain_app, keys, message["doc_id"], message)["status"] == "dead_letter"
    [letter] = events(client, keys.dead_letter)
    assert letter["error_type"] == "bad_request" and "malformed task message" in letter["message"]
