"""The sources' Prometheus metrics, scraped over real HTTP after real fetches and feed polls
through a real worker: status codes (and so the 304 ratio), robots.txt refusals, politeness
waits, per-feed poll outcomes and latency, the request stream's lag, and build_info."""

from __future__ import annotations

import socket

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from pytest_httpserver import HTTPServer

from tests.flow import wait_outcomes
from tests.sources.test_feed_flow import FeedServer, _poll
from worker import __version__
from worker.ops import metrics
from worker.errors import FetchRefused
from worker.sources.feeds import FeedRegistry
from worker.sources.pages import PageFetcher


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scrape(port: int) -> dict:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.mark.timeout(120)
def test_source_metrics_count_codes_304s_robots_refusals_waits_and_feed_polls(
        celery_worker, httpserver: HTTPServer, client, keys, fetch_settings):
    port = _free_port()
    server_, _ = metrics.serve(port, client, keys, addr="127.0.0.1")
    try:
        before = scrape(port)  # counters are process-wide: other tests may have moved them
        feeds = FeedServer(httpserver)
        registry = FeedRegistry(client, keys)
        feed = registry.add(httpserver.url_for("/feed.xml"), 600)
        feeds.publish(2)
        _poll(celery_worker, keys, feed.feed_id, "m1")
        wait_outcomes(client, keys, "m1", 1 + 2)
        _poll(celery_worker, keys, feed.feed_id, "m2")  # 304
        wait_outcomes(client, keys, "m2", 1)
        httpserver.expect_request("/gone.xml").respond_with_data("gone", status=410)
        gone = registry.add(httpserver.url_for("/gone.xml"), 600)
        _poll(celery_worker, keys, gone.feed_id, "m3")
        wait_outcomes(client, keys, "m3", 1)
        # robots.txt of the feed's server allows all; a second server's disallows /private/
        robots_refusing = HTTPServer(host="localhost")
        robots_refusing.start()
        try:
            robots_refusing.expect_request("/robots.txt").respond_with_data("User-agent: *\nDisallow: /private/\n")
            with pytest.raises(FetchRefused):
                PageFetcher(client, keys, fetch_settings).fetch_page(robots_refusing.url_for("/private/1"))
        finally:
            robots_refusing.stop()
        # a consumer group on the request stream that has not read its two entries
        client.xadd(keys.requests, {"x": "1"})
        client.xadd(keys.requests, {"x": "2"})
        client.xgroup_create(keys.requests, "consume", id="0")
        after = scrape(port)
    finally:
        server_.shutdown()
        server_.server_close()  # shutdown() only stops serving; the unclosed socket is a ResourceWarning

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("storyline_fetch_responses_total", kind="feed", code="200") == 1
    assert delta("storyline_fetch_responses_total", kind="feed", code="304") == 1
    assert delta("storyline_fetch_responses_total", kind="feed", code="410") == 1
    assert delta("storyline_fetch_responses_total", kind="page", code="200") == 2
    assert delta("storyline_robots_refusals_total") == 1
    assert delta("storyline_politeness_wait_seconds_count") >= 3  # every page and feed fetch took a slot
    assert delta("storyline_feed_polls_total", feed=feed.feed_id, status="polled") == 1
    assert delta("storyline_feed_polls_total", feed=feed.feed_id, status="not_modified") == 1
    assert delta("storyline_feed_polls_total", feed=gone.feed_id, status="dead_letter") == 1
    assert delta("storyline_feed_poll_seconds_count") == 3
    assert value(after, "storyline_consumer_group_lag", stream="requests", group="consume") == 2
    assert value(after, "storyline_stream_length", stream="requests") == 2
    build = [labels for (name, labels), v in after.items() if name == "storyline_build_info" and v == 1]
    assert len(build) == 1 and dict(build[0])["version"] == __version__
