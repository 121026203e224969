"""Politeness across workers, robots.txt and conditional re-fetches, on a real Redis."""

from __future__ import annotations

import httpx
import pytest
import redis
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from worker.errors import FetchRefused, HostBusy
from worker.sources.pages import PageFetcher
from worker.sources.politeness import HostSlots
from worker.sources.robots import allows, origin_of


def test_a_host_slot_held_by_one_worker_is_not_given_to_another(redis_url, keys, fetch_settings):
    one = fetch_settings.model_copy(update={"per_host_concurrency": 1, "per_host_delay_seconds": 0.0,
                                            "host_wait_seconds": 0.0})
    # two "workers": separate clients, same Redis
    worker_a = HostSlots(redis.Redis.from_url(redis_url), keys, one)
    worker_b = HostSlots(redis.Redis.from_url(redis_url), keys, one)
    assert worker_a.try_acquire("news.example", "a") == 0
    assert worker_b.try_acquire("news.example", "b") > 0
    assert worker_b.try_acquire("other.example", "b") == 0  # other hosts are unaffected
    with pytest.raises(HostBusy):
        with worker_b.slot("news.example"):
            pass
    worker_a.release("news.example", "a")
    assert worker_b.try_acquire("news.example", "b") == 0


def test_the_delay_between_fetches_on_a_host_holds_across_workers(redis_url, keys, fetch_settings):
    spaced = fetch_settings.model_copy(update={"per_host_concurrency": 4, "per_host_delay_seconds": 30.0})
    worker_a = HostSlots(redis.Redis.from_url(redis_url), keys, spaced)
    worker_b = HostSlots(redis.Redis.from_url(redis_url), keys, spaced)
    assert worker_a.try_acquire("news.example", "a") == 0
    worker_a.release("news.example", "a")
    wait_ms = worker_b.try_acquire("news.example", "b")
    assert 25_000 < wait_ms <= 30_000


def test_robots_rules_are_read_with_the_standard_parser():
    rules = "User-agent: *\nDisallow: /private/\n\nUser-agent: Storyline\nDisallow: /no-bots\n"
    assert allows(rules, "http://h/news/1")
    assert not allows(rules, "http://h/no-bots")
    assert allows("", "http://h/anything")


def test_pages_disallowed_by_robots_are_refused_and_robots_is_cached(httpserver: HTTPServer, client, keys, fetch_settings):
    httpserver.expect_request("/robots.txt").respond_with_data("User-agent: *\nDisallow: /private/\n",
                                                               content_type="text/plain")
    httpserver.expect_request("/news/1").respond_with_data("<p>news</p>", content_type="text/html")
    httpserver.expect_request("/private/1").respond_with_data("<p>hidden</p>", content_type="text/html")
    fetcher = PageFetcher(client, keys, fetch_settings)
    assert fetcher.fetch_page(httpserver.url_for("/news/1")).body == b"<p>news</p>"
    with pytest.raises(FetchRefused, match="robots.txt"):
        fetcher.fetch_page(httpserver.url_for("/private/1"))
    paths = [req.path for req, _ in httpserver.log]
    assert paths.count("/robots.txt") == 1 and "/private/1" not in paths
    assert client.exists(keys.robots(origin_of(httpx.URL(httpserver.url_for("/")))))


def test_a_missing_robots_txt_allows_everything(httpserver: HTTPServer, client, keys, fetch_settings):
    httpserver.expect_request("/robots.txt").respond_with_data("not found", status=404)
    httpserver.expect_request("/page").respond_with_data("<p>ok</p>", content_type="text/html")
    assert PageFetcher(client, keys, fetch_settings).fetch_page(httpserver.url_for("/page")).status == 200


def test_a_refetch_is_conditional_and_an_unchanged_page_is_not_modified(httpserver: HTTPServer, client, keys, fetch_settings):
    httpserver.expect_request("/robots.txt").respond_with_data("", content_type="text/plain")

    def page(request: Request) -> Response:
        if request.headers.get("If-Modified-Since") == "Wed, 25 Jun 2025 10:00:00 GMT":
            return Response(status=304)
        return Response("<p>story</p>", content_type="text/html",
                        headers={"Last-Modified": "Wed, 25 Jun 2025 10:00:00 GMT"})

    httpserver.expect_request("/story").respond_with_handler(page)
    fetcher = PageFetcher(client, keys, fetch_settings)
    assert fetcher.fetch_page(httpserver.url_for("/story")).status == 200
    again = PageFetcher(client, keys, fetch_settings)  # another worker: validators come from Redis
    assert again.fetch_page(httpserver.url_for("/story")).not_modified


def test_robots_crawl_delay_spaces_the_hosts_fetches_beyond_the_configured_delay(httpserver: HTTPServer, client, keys, fetch_settings):
    httpserver.expect_request("/robots.txt").respond_with_data("User-agent: *\nCrawl-delay: 20\nDisallow: /private/\n",
                                                               content_type="text/plain")
    httpserver.expect_request("/news/1").respond_with_data("<p>one</p>", content_type="text/html")
    httpserver.expect_request("/news/2").respond_with_data("<p>two</p>", content_type="text/html")
    assert fetch_settings.per_host_delay_seconds == 0.0  # configured: no delay at all
    quick = fetch_settings.model_copy(update={"host_wait_seconds": 1.0})
    fetcher = PageFetcher(client, keys, quick)
    assert fetcher.robots.crawl_delay(httpserver.url_for("/news/1")) == 20.0
    fetcher.fetch_page(httpserver.url_for("/news/1"))
    # the next fetch on the host must wait about 20 s: more than host_wait_seconds, so it is
    # refused as busy (the task goes back on the queue) and the server never sees it
    with pytest.raises(HostBusy):
        fetcher.fetch_page(httpserver.url_for("/news/2"))
    assert "/news/2" not in [req.path for req, _ in httpserver.log]
    host = httpx.URL(httpserver.url_for("/")).host
    assert 15_000 < HostSlots(client, keys, quick).try_acquire(host, "other") <= 20_000
