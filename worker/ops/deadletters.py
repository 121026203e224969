"""Dead letters: list them, and requeue the inputs that can be read again.

A dead-letter event keeps where an input came from (``source``), not its bytes, so an input can
be requeued when its source can be read again: a file path (read anew on the machine running the
command). URLs are re-submitted through the request stream (``storyline submit URL``). A feed
that failed is polled again on its schedule anyway, but an entry of it is not taken again while
its guid and link are remembered (``feeds.seen_ttl_seconds``), and a request that failed before it
became an input kept no body: for those this module only says what to do.
A requeued input gets a new doc id (a fresh attempt count) and the event id -> doc id pair is
recorded, so the same dead letter is not requeued twice by accident.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis

from worker.errors import PermanentError
from worker.model import InputDocument
from worker.sources.files import content_type_for, read_file
from worker.settings import Settings
from worker.store.keys import Keys

#: entries read per XRANGE page while looking for event ids
_PAGE = 500


@dataclass(frozen=True)
class DeadLetterEntry:
    entry_id: str
    event: dict[str, Any]
    requeued_as: str | None = None


def _entry(entry_id: bytes, fields: dict[bytes, bytes]) -> DeadLetterEntry:
    return DeadLetterEntry(entry_id.decode(), json.loads(fields[b"data"]))


def latest(client: redis.Redis, keys: Keys, count: int = 50) -> list[DeadLetterEntry]:
    """The newest ``count`` dead letters, newest first, with what they were requeued as."""
    entries = [_entry(i, f) for i, f in client.xrevrange(keys.dead_letter, count=count)]
    if not entries:
        return []
    requeued = client.hmget(keys.requeued, [e.event["event_id"] for e in entries])
    return [DeadLetterEntry(e.entry_id, e.event, r.decode() if r else None) for e, r in zip(entries, requeued)]


def find(client: redis.Redis, keys: Keys, event_ids: set[str] | None = None,
         error_type: str | None = None) -> list[DeadLetterEntry]:
    """Dead letters with the given event ids (None: all), optionally of one error type, oldest first."""
    found, start = [], "-"
    while True:
        page = client.xrange(keys.dead_letter, min=start, count=_PAGE)
        for entry_id, fields in page:
            entry = _entry(entry_id, fields)
            if (event_ids is None or entry.event["event_id"] in event_ids) and \
                    (error_type is None or entry.event["error_type"] == error_type):
                found.append(entry)
        if len(page) < _PAGE:
            return found
        start = "(" + page[-1][0].decode()


def requeue(client: redis.Redis, send: Callable[[InputDocument], None], settings: Settings,
            entries: list[DeadLetterEntry], *, run_id: str, force: bool = False) -> dict[str, dict[str, str]]:
    """Send each entry's input back to the workers (``send``: the runtime's ingest sink) when its
    source can be read again. Returns event id -> {"status": "requeued", "doc_id": ...} or
    {"status": "skipped", "reason": ...}."""
    keys = Keys(settings.prefix)
    results: dict[str, dict[str, str]] = {}
    for entry in entries:
        event_id, source = entry.event["event_id"], entry.event["source"]
        previous = client.hget(keys.requeued, event_id)
        if previous and not force:
            results[event_id] = {"status": "skipped", "reason": f"already requeued as {previous.decode()} (--force to repeat)"}
            continue
        if source["kind"] == "url":
            results[event_id] = {"status": "skipped", "reason": f"a URL: re-submit it with `storyline submit {source['uri']}`"}
            continue
        if source["kind"] == "feed":
            results[event_id] = {"status": "skipped", "reason": "a feed input: its body was not kept. A failed feed is "
                                 "polled again on its schedule; an entry is not taken again while its guid and link are "
                                 "remembered: `storyline submit` its link to fetch the page"}
            continue
        if source["kind"] != "file":
            results[event_id] = {"status": "skipped", "reason": f"a {source['kind']} input: its body was not kept; submit it again (`storyline submit`)"}
            continue
        try:
            body = read_file(Path(source["uri"]), max_bytes=settings.limits.max_bytes)
        except (OSError, PermanentError) as exc:
            results[event_id] = {"status": "skipped", "reason": f"cannot read {source['uri']}: {exc}"}
            continue
        doc = InputDocument(uuid.uuid4().hex[:16], "file", source["uri"], body,
                            content_type=content_type_for(Path(source["uri"])), run_id=run_id)
        send(doc)
        client.hset(keys.requeued, event_id, doc.doc_id)
        results[event_id] = {"status": "requeued", "doc_id": doc.doc_id}
    return results
