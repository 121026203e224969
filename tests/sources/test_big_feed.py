"""A feed of 10,000 entries (hostile input): a poll takes at most ``feeds.max_entries`` new ones,
says so once on the dead-letter stream, and the next poll takes the next ones, fetching the feed
in full (a conditional GET would get a 304 and strand the rest). Real worker, real Redis."""

from __future__ import annotations

import html

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tests.flow import events, wait_outcomes
from worker.settings import FeedSettings, FetchSettings, Settings
from worker.sources.feeds import FeedRegistry
from worker.runtime.messages import POLL_TASK

ENTRIES = 10_000
PER_POLL = 40


@pytest.fixture
def settings(redis_url: str, prefix: str, fetch_settings: FetchSettings) -> Settings:
    return Settings(redis_url=redis_url, prefix=prefix, fetch=fetch_settings,
                    feeds=FeedSettings(max_entries=PER_POLL))


def _big_feed() -> bytes:
    # entries without a link carry their own (short) content: each is ingested from the feed
    # and ends as a no_content dead letter, so the test needs no page server
    items = "".join(
        f"<item><guid isPermaLink='false'>big-{i}</guid><title>Entry {i}</title>"
        f"<description>{html.escape(f'Short teaser number {i}.')}</description></item>"
        for i in range(ENTRIES)
    )
    return (f"<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>Big</title>"
            f"<link>http://example.invalid/</link><description>big</description>{items}</channel></rss>").encode()


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_a_feed_of_10000_entries_is_taken_a_slice_per_poll_and_said_once(celery_worker, httpserver: HTTPServer,
                                                                          client, keys):
    body = _big_feed()
    conditional: list[bool] = []

    def feed(request: Request) -> Response:
        conditional.append("If-None-Match" in request.headers or "If-Modified-Since" in request.headers)
        if request.headers.get("If-None-Match") == '"big"':
            return Response(status=304, headers={"ETag": '"big"'})
        return Response(body, content_type="application/rss+xml", headers={"ETag": '"big"'})

    httpserver.expect_request("/big.xml").respond_with_handler(feed)
    registry = FeedRegistry(client, keys)
    info = registry.add(httpserver.url_for("/big.xml"), 600)

    taken: set[str] = set()
    for n in (1, 2):
        celery_worker.send_task(POLL_TASK, args=[info.feed_id, f"big{n}"], queue=keys.queue)
        outcomes = wait_outcomes(client, keys, f"big{n}", 1 + PER_POLL, timeout=180)
        poll = outcomes.pop(f"feed:{info.feed_id}")
        assert (poll["status"], poll["entries"], poll["new"]) == ("polled", ENTRIES, PER_POLL)
        # every entry handed on ended as exactly one outcome (here: too short to be an article)
        assert {o["status"] for o in outcomes.values()} == {"dead_letter"}
        assert {o["error_type"] for o in outcomes.values()} == {"no_content"}
        assert not taken & set(outcomes), "a later poll must take entries the first did not"
        taken |= set(outcomes)
        state = registry.get(info.feed_id)
        assert state.status == "truncated" and state.etag == ""
    assert conditional == [False, False]  # never a 304 while entries are waiting

    notes = [d for d in events(client, keys.dead_letter) if d["error_type"] == "feed_truncated"]
    # once per distinct body, however many polls see it
    assert len(notes) == 1 and notes[0]["stage"] == "feed"
    assert f"{ENTRIES:,} new entries" in notes[0]["message"] and "nothing is lost" in notes[0]["message"]
    assert registry.get(info.feed_id).item_count == 2 * PER_POLL
