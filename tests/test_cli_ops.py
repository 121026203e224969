"""The `storyline` command as an operator meets it: --version and completion, wrong arguments
refused with an exit code (and no stray keys), feeds checked when added, 80-column tables,
`runs show`, the worker's node name, and replay keeping its workers' output out of the terminal.
Real subprocesses, a real Redis and a real local HTTP server."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid

import pytest
from pytest_httpserver import HTTPServer

from tests.conftest import SEEDS, seed_paths
from worker import __version__
from worker.pipeline import InputDocument, Pipeline
from worker.store.client import connect


def storyline(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("STORYLINE_")}
    return subprocess.run([sys.executable, "-m", "worker.cli", *args], capture_output=True, text=True, timeout=timeout,
                          env={**base, "COLUMNS": "80", "TERM": "dumb", **(env or {})}, stdin=subprocess.DEVNULL)


def test_version_and_shell_completion():
    run = storyline("--version")
    assert run.returncode == 0 and run.stdout.strip() == f"storyline {__version__}"
    completion = storyline("--show-completion", "bash", env={"_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"})
    assert completion.returncode == 0 and "complete" in completion.stdout and "storyline" in completion.stdout.lower()


def test_tail_of_a_stream_that_does_not_exist_fails_at_once_and_creates_nothing(redis_url, prefix, client):
    run = storyline("tail", "bogus", "--redis", redis_url, "--prefix", prefix, timeout=30)
    assert run.returncode == 2 and "articles" in run.stderr
    assert list(client.scan_iter(f"{prefix}:*")) == []


def test_threads_at_an_unknown_level_fails(redis_url, prefix):
    run = storyline("threads", "--level", "galaxy", "--redis", redis_url, "--prefix", prefix)
    assert run.returncode == 2 and "thread or story" in run.stderr


def _feed_xml(link: str) -> bytes:
    return (f"<?xml version='1.0'?><rss version='2.0'><channel><title>t</title><link>{link}</link><description>d</description>"
            f"<item><guid>g1</guid><link>{link}a</link><title>A story of the day</title></item></channel></rss>").encode()


def test_feeds_add_checks_the_feed_now_and_refuses_a_404_or_a_private_address(redis_url, prefix, client, httpserver: HTTPServer):
    httpserver.expect_request("/feed.xml").respond_with_data(_feed_xml(httpserver.url_for("/")), content_type="application/rss+xml")
    httpserver.expect_request("/missing.xml").respond_with_data("gone", status=404)
    common = ["--redis", redis_url, "--prefix", prefix, "--no-poll-now"]
    allow = {"STORYLINE_FETCH__ALLOW_PRIVATE_NETWORKS": "true", "STORYLINE_FETCH__PER_HOST_DELAY_SECONDS": "0"}

    private = storyline("feeds", "add", httpserver.url_for("/feed.xml"), *common)  # 127.0.0.1: the SSRF guard says no
    assert private.returncode == 1 and "not a feed Storyline can poll" in private.stderr, private.stderr
    missing = storyline("feeds", "add", httpserver.url_for("/missing.xml"), *common, env=allow)
    assert missing.returncode == 1 and "404" in missing.stderr, missing.stderr
    assert json.loads(storyline("feeds", "list", "--json", *common[:4]).stdout) == [], "nothing was added"

    good = storyline("feeds", "add", httpserver.url_for("/feed.xml"), *common, env=allow)
    assert good.returncode == 0 and "1 entry" in good.stderr, good.stderr
    forced = storyline("feeds", "add", httpserver.url_for("/missing.xml"), *common, "--no-check")
    assert forced.returncode == 0


def _lines_fit(text: str, width: int = 80) -> None:
    too_wide = [line for line in text.splitlines() if len(line) > width]
    assert not too_wide, "\n".join(too_wide)


def test_feeds_list_and_dead_letters_list_fit_80_columns_and_keep_the_ids_whole(redis_url, prefix, settings):
    from worker.errors import FetchRefused
    from worker.sources.feeds import FeedRegistry

    client = connect(redis_url)
    from worker.store.keys import Keys

    registry = FeedRegistry(client, Keys(prefix))
    feed = registry.add("https://news.example.org/world/europe/politics/feeds/rss/all-the-latest-stories.xml?format=rss2", 600)
    registry.update(feed.feed_id, status="error", error_count=3,
                    last_error="fetch_refused: HTTP 404 from https://news.example.org/world/europe/politics/feeds/rss/all")
    pipeline = Pipeline(client, settings)
    doc = InputDocument(uuid.uuid4().hex[:16], "url", "https://news.example.org/2026/12/01/a-very-long-path/of-an-article.html", b"")
    pipeline.dead_letter(doc, FetchRefused("robots.txt of https://news.example.org disallows this page for Storyline"), 1,
                         stage="fetch")
    (letter,) = [json.loads(f[b"data"]) for _, f in client.xrange(Keys(prefix).dead_letter)]

    feeds = storyline("feeds", "list", "--redis", redis_url, "--prefix", prefix)
    assert feeds.returncode == 0
    _lines_fit(feeds.stdout)
    assert feed.feed_id in feeds.stdout and "404" in feeds.stdout
    letters = storyline("dead-letters", "list", "--redis", redis_url, "--prefix", prefix)
    assert letters.returncode == 0
    _lines_fit(letters.stdout)
    assert letter["event_id"] in letters.stdout and "robots.txt" in letters.stdout


def test_runs_show_says_what_became_of_each_input(redis_url, prefix, settings):
    client = connect(redis_url)
    pipeline = Pipeline(client, settings)
    run_id = uuid.uuid4().hex[:12]
    seed = seed_paths()[0]
    for name, body in ((str(seed), seed.read_bytes()), ("copy.txt", seed.read_bytes())):
        pipeline.process(InputDocument(uuid.uuid4().hex[:16], "file", name, body, run_id=run_id))
    run = storyline("runs", "show", run_id, "--json", "--redis", redis_url, "--prefix", prefix)
    assert run.returncode == 0, run.stderr
    assert sorted(json.loads(line)["status"] for line in run.stdout.splitlines()) == ["article", "duplicate"]
    table = storyline("runs", "show", run_id, "--redis", redis_url, "--prefix", prefix)
    assert table.returncode == 0 and "duplicate_of" in table.stdout
    _lines_fit(table.stdout)
    assert storyline("runs", "show", "no-such-run", "--redis", redis_url, "--prefix", prefix).returncode == 1


@pytest.mark.slow
def test_a_worker_is_named_after_its_host_and_the_name_can_be_overridden(redis_url, settings):
    from worker.runtime.app import create_app

    proc = subprocess.Popen([sys.executable, "-m", "worker.cli", "worker", "-c", "1", "--metrics-port", "0",
                             "--redis", redis_url, "--prefix", settings.prefix], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    try:
        app = create_app(settings)
        deadline, names = time.monotonic() + 90, []
        while not names and time.monotonic() < deadline:
            names = [name for reply in app.control.ping(timeout=1.0) or [] for name in reply]
        assert names == [f"storyline@{socket.gethostname()}"]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    help_text = storyline("worker", "--help", env={"COLUMNS": "200"}).stdout
    assert "--name" in help_text


@pytest.mark.slow
def test_replay_keeps_its_workers_output_in_a_log_file_it_names(redis_url, prefix):
    run = storyline("replay", str(SEEDS), "--workers", "1", "-c", "1", "--redis", redis_url, "--prefix", prefix,
                    timeout=240)
    assert run.returncode == 0, run.stderr
    assert not re.search(r"Warm shutdown|celery@|ready\.|SecurityWarning", run.stderr + run.stdout), run.stderr
    (log_path,) = re.findall(r"worker log: (\S+)", run.stderr.replace("\n", " "))
    assert os.path.getsize(log_path) > 0
    os.unlink(log_path)
    assert "5" in run.stdout  # the summary table: five articles
