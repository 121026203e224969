"""The whole flow through a real Celery worker and a real Redis."""

from __future__ import annotations

from tests.conftest import seed_paths
from tests.flow import events, submit, submit_files, wait_outcomes


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
