"""The sources commands: feeds add/list/remove on the Redis schedule, submit, and a real beat
process sending a feed's polls to a real worker."""

from __future__ import annotations

import json
import os
import time

import pytest
from typer.testing import CliRunner

from worker.runtime.app import create_app
from worker.cli import app as storyline
from worker.cli.sources import parse_duration
from worker.runtime.processes import start_beat_process
from worker.sources.feeds import FeedRegistry, FeedState
from worker.runtime.schedule import schedule_feed, scheduled_feed_ids

runner = CliRunner()


def _run(*args: str):
    result = runner.invoke(storyline, list(args))
    assert result.exit_code == 0, result.output
    return result


@pytest.mark.parametrize("text, seconds", [("90", 90), ("90s", 90), ("10m", 600), ("1h30m", 5400), ("2d", 172800)])
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


def test_feeds_add_list_remove_keep_the_schedule_in_redis(redis_url, prefix, settings, client, keys):
    common = ("--redis", redis_url, "--prefix", prefix)
    # --no-check: these hosts do not exist (`feeds add` fetches the feed first by default)
    feed_id = _run("feeds", "add", "https://news.example.org/feed.xml", "--every", "15m", "--no-poll-now", "--no-check",
                   *common).stdout.strip()
    _run("feeds", "add", "https://other.example.org/atom", "--no-poll-now", "--no-check", *common)
    app = create_app(settings)
    assert feed_id in scheduled_feed_ids(app) and len(scheduled_feed_ids(app)) == 2
    listed = json.loads(_run("feeds", "list", "--json", *common).stdout)
    mine = next(f for f in listed if f["feed_id"] == feed_id)
    assert (mine["every_seconds"], mine["status"], mine["item_count"], mine["last_poll"]) == (900, "new", 0, 0.0)
    assert "never" in _run("feeds", "list", *common).stdout

    _run("feeds", "remove", "https://news.example.org/feed.xml", *common)
    assert scheduled_feed_ids(app) == {json.loads(_run("feeds", "list", "--json", *common).stdout)[0]["feed_id"]}
    assert runner.invoke(storyline, ["feeds", "remove", "https://news.example.org/feed.xml", *common]).exit_code == 1


def test_feeds_add_refuses_a_too_short_interval_and_a_non_url(redis_url, prefix):
    common = ("--redis", redis_url, "--prefix", prefix)
    assert runner.invoke(storyline, ["feeds", "add", "https://a.example/f", "--every", "5s", *common]).exit_code == 2
    assert runner.invoke(storyline, ["feeds", "add", "not a url", "--no-poll-now", *common]).exit_code == 2


def test_submit_writes_urls_and_files_to_the_request_stream(redis_url, prefix, client, keys, tmp_path):
    page = tmp_path / "story.html"
    page.write_text("<p>story</p>")
    out = json.loads(_run("submit", "https://news.example.org/a", str(page), "--run-id", "r1",
                          "--redis", redis_url, "--prefix", prefix).stdout)
    assert out["run_id"] == "r1" and len(out["requests"]) == 2
    entries = [json.loads(f[b"data"]) for _, f in client.xrange(keys.requests)]
    assert [e["kind"] for e in entries] == ["url", "file"] and entries[1]["uri"] == str(page)


@pytest.mark.timeout(90)
def test_a_beat_process_polls_a_feed_on_its_redis_schedule(celery_worker, httpserver, redis_url, client, keys, settings):
    httpserver.expect_request("/f.xml").respond_with_data(
        b"<?xml version='1.0'?><rss version='2.0'><channel><title>t</title></channel></rss>",
        content_type="application/rss+xml")
    feed = FeedRegistry(client, keys).add(httpserver.url_for("/f.xml"), 60)
    # every second, below the CLI's minimum, so the test does not wait a minute
    schedule_feed(create_app(settings), keys, FeedState(feed.feed_id, feed.url, every_seconds=1))
    env = dict(os.environ, REDIS_URL=redis_url, STORYLINE_PREFIX=keys.prefix)
    beat = start_beat_process(settings, "WARNING", env)
    try:
        deadline = time.monotonic() + 60
        while FeedRegistry(client, keys).get(feed.feed_id).last_poll == 0:
            assert beat.poll() is None, "beat exited"
            assert time.monotonic() < deadline, "beat never sent a poll"
            time.sleep(0.2)
    finally:
        beat.terminate()
        beat.wait(timeout=30)
    assert client.exists(f"{keys.redbeat_prefix}:schedule")
    assert FeedRegistry(client, keys).get(feed.feed_id).status == "empty"
