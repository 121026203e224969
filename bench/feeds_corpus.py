"""Every feed of feedparser's test corpus through the feed path, and the counts.

Serves bench/data/feedparser-tests/tests/ from a local HTTP server (with the response headers
each test file asks for in its ``Header:`` lines), subscribes to every file as a feed, sends
one ``storyline.poll_feed`` per feed to a real Celery worker subprocess, and waits until each
feed and each entry it yielded has an outcome: ingested (article or duplicate) or a dead letter
with a reason. A worker that crashes or a run that stops making progress is reported.

Nothing leaves 127.0.0.1: fetches are limited to that host (STORYLINE_FETCH__ALLOWED_HOSTS), so
entry links to example.org and the like are refused before any DNS lookup, as dead letters.

    .venv/bin/python bench/feeds_corpus.py                # all 2,106 feeds
    .venv/bin/python bench/feeds_corpus.py --limit 200    # a quick look
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import threading
import time
import uuid
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CORPUS = ROOT / "bench" / "data" / "feedparser-tests" / "tests"
_HEADER = re.compile(rb"^Header:\s*([A-Za-z-]+):\s*(.*?)\s*$", re.M)


def corpus_files(limit: int | None) -> list[Path]:
    files = sorted(p for p in CORPUS.rglob("*") if p.is_file())
    return files[:limit] if limit else files


def headers_for(path: Path, body: bytes) -> list[tuple[str, str]]:
    """The headers the test file asks for (feedparser's own test server honours these lines)."""
    asked = [(k.decode(), v.decode("latin-1")) for k, v in _HEADER.findall(body[:4096])]
    if not any(k.lower() == "content-type" for k, _ in asked):
        asked.append(("Content-Type", "application/feed+json" if path.suffix == ".json" else "application/xml"))
    return asked


class CorpusHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        path = (CORPUS / self.path.lstrip("/").split("?", 1)[0]).resolve()
        if not path.is_file() or CORPUS.resolve() not in path.parents:
            self.send_error(404)
            return
        body = path.read_bytes()
        self.send_response(200)
        for name, value in headers_for(path, body):
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=None, help="only the first N feeds")
    parser.add_argument("--concurrency", "-c", type=int, default=2, help="worker processes")
    parser.add_argument("--redis", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    parser.add_argument("--stall-seconds", type=float, default=120, help="report a stall after this long without progress")
    args = parser.parse_args()

    server = ThreadingHTTPServer(("127.0.0.1", 0), CorpusHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"

    prefix = f"bench-feeds-{uuid.uuid4().hex[:6]}"
    os.environ.update({
        "REDIS_URL": args.redis, "STORYLINE_PREFIX": prefix,
        "STORYLINE_FETCH__ALLOW_PRIVATE_NETWORKS": "true",  # the corpus server is on 127.0.0.1
        "STORYLINE_FETCH__ALLOWED_HOSTS": '["127.0.0.1"]',  # ... and nothing else is reached
        "STORYLINE_FETCH__PER_HOST_DELAY_SECONDS": "0", "STORYLINE_FETCH__PER_HOST_CONCURRENCY": "64",
        "STORYLINE_LOG_LEVEL": "WARNING",
    })
    from worker.runtime.app import create_app
    from worker.runtime.processes import start_worker_process, stop_worker_process
    from worker.settings import Settings
    from worker.sources.feeds import FeedRegistry
    from worker.runtime.messages import POLL_TASK
    from worker.store.client import connect
    from worker.store.keys import Keys

    settings = Settings()
    client, keys = connect(settings.redis_url), Keys(prefix)
    files = corpus_files(args.limit)
    registry = FeedRegistry(client, keys)
    app = create_app(settings)
    run_id = "corpus"
    worker = start_worker_process(settings, args.concurrency, "WARNING")
    start = time.monotonic()
    stalled = crashed = False
    try:
        feed_ids = {}
        with app.producer_or_acquire() as producer:
            for path in files:
                feed = registry.add(f"{base}/{path.relative_to(CORPUS).as_posix()}", 3600)
                feed_ids[feed.feed_id] = path
                app.send_task(POLL_TASK, args=[feed.feed_id, run_id], queue=keys.queue, producer=producer)
        last_done, last_change = -1, time.monotonic()
        while True:
            outcomes = {k.decode(): json.loads(v) for k, v in client.hgetall(keys.run(run_id)).items()}
            feeds = {k: o for k, o in outcomes.items() if k.startswith("feed:")}
            expected = len(files) + sum(o.get("new", 0) for o in feeds.values())
            if len(feeds) >= len(files) and len(outcomes) >= expected:
                break
            if len(outcomes) != last_done:
                last_done, last_change = len(outcomes), time.monotonic()
            if worker.poll() is not None:
                crashed = True
                break
            if time.monotonic() - last_change > args.stall_seconds:
                stalled = True
                break
            time.sleep(0.5)
        elapsed = time.monotonic() - start
        worker_alive = worker.poll() is None
    finally:
        stop_worker_process(worker)
        server.shutdown()

    feeds = {k: o for k, o in outcomes.items() if k.startswith("feed:")}
    entries = {k: o for k, o in outcomes.items() if not k.startswith("feed:")}
    feed_status = Counter(o["status"] for o in feeds.values())
    feed_letters = Counter(o.get("error_type") for o in feeds.values() if o["status"] == "dead_letter")
    entry_status = Counter(o["status"] for o in entries.values())
    letters = [json.loads(f[b"data"]) for _, f in client.xrange(keys.dead_letter)]
    # a feed's own dead letter has stage feed and the feed's URL; an entry's has anything else
    entry_letters = Counter(f"{d['stage']}:{d['error_type']}" for d in letters
                            if not (d["stage"] == "feed" and "#" not in d["source"]["uri"]))
    no_reason = sum(1 for d in letters if not d["message"].strip())
    polled = [o for o in feeds.values() if o["status"] == "polled"]
    report = {
        "feeds": len(files),
        "feeds_with_outcome": len(feeds),
        "feeds_ingested": len(polled),
        "feeds_ingested_with_new_entries": sum(1 for o in polled if o["new"]),
        "feeds_ingested_all_entries_seen_before": sum(1 for o in polled if not o["new"]),
        "feeds_dead_lettered": feed_status.get("dead_letter", 0),
        "feed_dead_letters_by_reason": dict(feed_letters.most_common()),
        "feeds_other": {k: v for k, v in feed_status.items() if k not in ("polled", "dead_letter")},
        "entries_in_feeds": sum(o["entries"] for o in polled),
        "entries_new": sum(o["new"] for o in polled),
        "entry_outcomes": dict(entry_status.most_common()),
        "entry_dead_letters_by_stage_and_reason": dict(entry_letters.most_common()),
        "dead_letters_without_a_message": no_reason,
        "seconds": round(elapsed, 1),
        "feeds_per_second": round(len(files) / elapsed, 1),
        "worker_crashed": crashed, "stalled": stalled, "worker_alive_at_end": worker_alive,
        "missing_feeds": sorted(str(feed_ids[k[5:]].relative_to(CORPUS)) for k in
                                set(f"feed:{i}" for i in feed_ids) - set(feeds))[:20],
    }
    print(json.dumps(report, indent=2))
    for key in client.scan_iter(f"{prefix}:*", count=1000):
        client.delete(key)
    for key in client.scan_iter(f"{prefix}.*", count=1000):
        client.delete(key)
    ok = not crashed and not stalled and len(feeds) == len(files) and len(outcomes) >= len(files) + report["entries_new"]
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
