"""Feed administration: pause and resume (off and back on the beat schedule, state kept), OPML
export and import between two prefixes, and the OPML reader's refusals. Real CLI, real Redis."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import pytest
import redis

from worker.runtime.app import create_app
from worker.runtime.schedule import scheduled_feed_ids
from worker.settings import Settings
from worker.sources.feeds import FeedPoller, FeedRegistry
from worker.sources.opml import parse_opml
from worker.store.keys import Keys


def storyline(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STORYLINE_")}
    return subprocess.run([sys.executable, "-m", "worker.cli", *args], capture_output=True, text=True, timeout=120,
                          env={**env, "COLUMNS": "80"}, input=stdin)


@pytest.fixture
def other_prefix(redis_url):
    p = f"test-{uuid.uuid4().hex[:10]}"
    yield p
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(f"{p}:*", count=1000):
        client.delete(key)


def test_pause_resume_export_and_import(redis_url, prefix, other_prefix, client):
    common = ["--redis", redis_url, "--prefix", prefix]
    urls = ["https://news.example.org/world.xml", "https://blog.example.net/atom.xml"]
    ids = [storyline("feeds", "add", u, "--every", "15m", "--no-check", "--no-poll-now", *common).stdout.strip() for u in urls]
    app = create_app(Settings(redis_url=redis_url, prefix=prefix))
    assert scheduled_feed_ids(app) == set(ids)

    assert storyline("feeds", "pause", urls[1], *common).returncode == 0
    assert scheduled_feed_ids(app) == {ids[0]}, "a paused feed is off the beat schedule"
    registry = FeedRegistry(client, Keys(prefix))
    assert registry.get(ids[1]).paused == 1
    # a poll already queued when the feed was paused does nothing
    poller = FeedPoller(registry, fetcher=None, dead_letter=None, settings=Settings().feeds, max_attempts=5,
                        run_ttl_seconds=3600)
    assert poller.poll(ids[1], sink=None).status == "paused"  # neither fetches nor hands anything on
    listed = storyline("feeds", "list", *common).stdout
    assert "paused" in listed
    # adding a paused feed again changes its interval; it stays paused until resumed
    again = storyline("feeds", "add", urls[1], "--every", "30m", "--no-check", *common)
    assert again.returncode == 0 and "paused" in again.stderr + again.stdout and "feeds resume" in again.stderr + again.stdout
    assert scheduled_feed_ids(app) == {ids[0]} and registry.get(ids[1]).paused == 1
    assert registry.get(ids[1]).every_seconds == 1800

    opml = storyline("feeds", "export", *common)
    assert opml.returncode == 0 and opml.stdout.startswith("<?xml")
    outlines = {o.url: o for o in parse_opml(opml.stdout.encode())}
    assert set(outlines) == set(urls)
    assert outlines[urls[1]].paused and not outlines[urls[0]].paused and outlines[urls[0]].every_seconds == 900

    imported = storyline("feeds", "import", "-", "--redis", redis_url, "--prefix", other_prefix, stdin=opml.stdout)
    assert imported.returncode == 0, imported.stderr
    results = [json.loads(line) for line in imported.stdout.splitlines()]
    assert sorted(r["status"] for r in results) == ["added", "added"]
    other_app = create_app(Settings(redis_url=redis_url, prefix=other_prefix))
    assert scheduled_feed_ids(other_app) == {ids[0]}, "the paused feed comes in paused"
    assert FeedRegistry(client, Keys(other_prefix)).get(ids[0]).every_seconds == 900

    assert storyline("feeds", "resume", ids[1], *common).returncode == 0
    assert scheduled_feed_ids(app) == set(ids) and registry.get(ids[1]).paused == 0
    assert storyline("feeds", "pause", "no-such-feed", *common).returncode == 1


def test_opml_reader_takes_nested_outlines_once_and_refuses_what_is_not_opml(tmp_path):
    doc = b"""<?xml version="1.0"?><opml version="1.0"><head/><body>
      <outline text="News"><outline text="A" xmlUrl="https://a.example/rss"/>
        <outline text="B" type="rss" xmlUrl="https://b.example/atom" storylineEvery="120"/></outline>
      <outline text="A again" xmlUrl="https://a.example/rss"/><outline text="folder only"/></body></opml>"""
    outlines = parse_opml(doc)
    assert [o.url for o in outlines] == ["https://a.example/rss", "https://b.example/atom"]
    assert outlines[1].every_seconds == 120
    with pytest.raises(ValueError):
        parse_opml(b"<html><body/></html>")
    with pytest.raises(ValueError):
        parse_opml(b"not xml at all")
    secret = tmp_path / "secret.txt"
    secret.write_text("do-not-read")
    xxe = (f'<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY x SYSTEM "file://{secret}">]>'
           '<opml version="2.0"><body><outline text="&x;" xmlUrl="https://c.example/rss"/></body></opml>').encode()
    try:
        titles = [o.title for o in parse_opml(xxe)]
    except ValueError:  # lxml refuses the reference outright
        titles = []
    assert not any("do-not-read" in t for t in titles), "no external entity is resolved"
