"""Feeds end to end: a local server serves a feed of pages made from seeds/, a real Celery
worker polls it, fetches the pages and ingests them into the streams on a real Redis."""

from __future__ import annotations

import json

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tests.flow import events, wait_outcomes
from tests.sources.conftest import rss, seed_page, seed_paths
from worker.sources.feeds import FeedRegistry
from worker.runtime.messages import POLL_TASK


class FeedServer:
    """Serves one feed whose content the test changes, honouring If-None-Match like a real server."""

    def __init__(self, httpserver: HTTPServer) -> None:
        self.httpserver = httpserver
        self.version = 0
        self.body = b""
        self.conditional_hits = 0
        httpserver.expect_request("/robots.txt").respond_with_data("User-agent: *\nAllow: /\n", content_type="text/plain")
        self.pages = seed_paths()
        for i, path in enumerate(self.pages):
            httpserver.expect_request(f"/news/{i}.html").respond_with_data(seed_page(path), content_type="text/html; charset=utf-8")
        httpserver.expect_request("/feed.xml").respond_with_handler(self._feed)

    def publish(self, count: int) -> None:
        """The feed now lists the first ``count`` seed pages, newest first."""
        self.version += 1
        items = [(f"seed-{i}", self.httpserver.url_for(f"/news/{i}.html"), f"Seed story {i}") for i in range(count)]
        self.body = rss(list(reversed(items)))

    def _feed(self, request: Request) -> Response:
        etag = f'"v{self.version}"'
        if request.headers.get("If-None-Match") == etag:
            self.conditional_hits += 1
            return Response(status=304, headers={"ETag": etag})
        return Response(self.body, content_type="application/rss+xml", headers={"ETag": etag})

    def page_fetches(self) -> int:
        return sum(1 for req, _ in self.httpserver.log if req.path.startswith("/news/"))


def _poll(app, keys, feed_id: str, run_id: str) -> None:
    app.send_task(POLL_TASK, args=[feed_id, run_id], queue=keys.queue)


@pytest.mark.timeout(120)
def test_poll_ingests_then_304_ingests_nothing_then_only_new_entries(celery_worker, httpserver, client, keys):
    server = FeedServer(httpserver)
    registry = FeedRegistry(client, keys)
    feed = registry.add(httpserver.url_for("/feed.xml"), 600)

    server.publish(3)
    _poll(celery_worker, keys, feed.feed_id, "poll1")
    outcomes = wait_outcomes(client, keys, "poll1", 1 + 3)  # the poll, then its three entries
    poll = json.loads(json.dumps(outcomes.pop(f"feed:{feed.feed_id}")))
    assert (poll["status"], poll["entries"], poll["new"]) == ("polled", 3, 3)
    assert sorted(o["status"] for o in outcomes.values()) == ["article"] * 3
    articles = events(client, keys.articles)
    assert len(articles) == 3
    assert {a["source"]["kind"] for a in articles} == {"url"}
    assert {a["source"]["uri"] for a in articles} == {httpserver.url_for(f"/news/{i}.html") for i in range(3)}
    assert server.page_fetches() == 3

    _poll(celery_worker, keys, feed.feed_id, "poll2")
    second = wait_outcomes(client, keys, "poll2", 1)
    assert second[f"feed:{feed.feed_id}"]["status"] == "not_modified"
    assert server.conditional_hits == 1
    assert client.xlen(keys.articles) == 3 and server.page_fetches() == 3

    server.publish(5)  # two new stories on top of the three already taken
    _poll(celery_worker, keys, feed.feed_id, "poll3")
    third = wait_outcomes(client, keys, "poll3", 1 + 2)
    assert third.pop(f"feed:{feed.feed_id}")["new"] == 2
    assert sorted(o["status"] for o in third.values()) == ["article"] * 2
    assert client.xlen(keys.articles) == 5 and server.page_fetches() == 5  # old entries were not re-fetched
    assert client.xlen(keys.dead_letter) == 0

    state = registry.get(feed.feed_id)
    assert (state.status, state.item_count, state.error_count, state.etag) == ("ok", 5, 0, '"v2"')


@pytest.mark.timeout(60)
def test_a_failing_feed_is_dead_lettered_once_and_backs_off(celery_worker, httpserver, client, keys):
    httpserver.expect_request("/gone.xml").respond_with_data("gone", status=410)
    registry = FeedRegistry(client, keys)
    feed = registry.add(httpserver.url_for("/gone.xml"), 600)
    _poll(celery_worker, keys, feed.feed_id, "bad1")
    outcome = wait_outcomes(client, keys, "bad1", 1)[f"feed:{feed.feed_id}"]
    assert (outcome["status"], outcome["error_type"]) == ("dead_letter", "fetch_refused")
    letters = events(client, keys.dead_letter)
    assert len(letters) == 1 and letters[0]["stage"] == "feed" and "HTTP 410" in letters[0]["message"]
    state = registry.get(feed.feed_id)
    assert state.status == "error" and state.error_count == 1 and state.backoff_until > state.last_poll
    # the next scheduled poll falls inside the back-off and does not touch the server
    _poll(celery_worker, keys, feed.feed_id, "bad2")
    assert wait_outcomes(client, keys, "bad2", 1)[f"feed:{feed.feed_id}"]["status"] == "backoff"
    assert len(httpserver.log) == 1


@pytest.mark.timeout(60)
def test_full_text_entries_are_ingested_from_the_feed_without_fetching(celery_worker, httpserver, client, keys):
    from html import escape

    page = seed_paths()[0].read_text(encoding="utf-8")
    content = "".join(f"<p>{escape(p)}</p>" for p in page.split("\n\n") if p.strip())
    body = (f"<?xml version='1.0'?><rss version='2.0' xmlns:content='http://purl.org/rss/1.0/modules/content/'>"
            f"<channel><title>t</title><item><guid>full-1</guid><link>{httpserver.url_for('/never')}</link>"
            f"<title>Full text story</title><content:encoded>{escape(content)}</content:encoded></item>"
            f"</channel></rss>").encode()
    httpserver.expect_request("/full.xml").respond_with_data(body, content_type="application/rss+xml")
    feed = FeedRegistry(client, keys).add(httpserver.url_for("/full.xml"), 600)
    _poll(celery_worker, keys, feed.feed_id, "full")
    outcomes = wait_outcomes(client, keys, "full", 2)
    assert [o["status"] for k, o in outcomes.items() if not k.startswith("feed:")] == ["article"]
    assert events(client, keys.articles)[0]["source"]["kind"] == "feed"
    assert [req.path for req, _ in httpserver.log] == ["/full.xml"]


@pytest.mark.timeout(90)
def test_a_summary_feeds_entry_date_dates_a_page_that_has_none(celery_worker, httpserver, client, keys):
    """A summary feed's entries are fetched from their links; a page whose markup has no date
    takes the entry's pubDate (so the story decision has a date), a page with its own keeps it."""
    from html import escape

    from tests.sources.conftest import seed_page

    pages = seed_paths()
    undated_page = seed_page(pages[1])  # no date in its markup
    dated_page = seed_page(pages[3]).replace(
        b"</head>", b"<meta property='article:published_time' content='2025-05-20T08:00:00Z'></head>")
    httpserver.expect_request("/robots.txt").respond_with_data("User-agent: *\nAllow: /\n", content_type="text/plain")
    httpserver.expect_request("/a.html").respond_with_data(undated_page, content_type="text/html; charset=utf-8")
    httpserver.expect_request("/b.html").respond_with_data(dated_page, content_type="text/html; charset=utf-8")
    items = "".join(
        f"<item><guid>{g}</guid><link>{escape(httpserver.url_for(path))}</link><title>{g}</title>"
        f"<description>a teaser</description><pubDate>{when}</pubDate></item>"
        for g, path, when in (("a", "/a.html", "Tue, 18 Feb 2025 09:30:00 GMT"),
                              ("b", "/b.html", "Thu, 22 May 2025 10:00:00 GMT"))
    )
    body = f"<?xml version='1.0'?><rss version='2.0'><channel><title>t</title>{items}</channel></rss>".encode()
    httpserver.expect_request("/summary.xml").respond_with_data(body, content_type="application/rss+xml")
    feed = FeedRegistry(client, keys).add(httpserver.url_for("/summary.xml"), 600)
    _poll(celery_worker, keys, feed.feed_id, "summary")
    outcomes = wait_outcomes(client, keys, "summary", 3)
    assert sorted(o["status"] for k, o in outcomes.items() if not k.startswith("feed:")) == ["article", "article"]
    published = {a["source"]["uri"].rsplit("/", 1)[1]: a["published"] for a in events(client, keys.articles)}
    assert published["a.html"].startswith("2025-02-18T09:30")  # the feed's date
    assert published["b.html"].startswith("2025-05-20")  # the page's own
