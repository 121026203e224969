"""Subscribed feeds: their state in Redis, and one poll of one feed.

A poll is a conditional GET (ETag / Last-Modified); a 304 ends it. New entries, told apart by
guid (per feed) and normalised link (across feeds) before anything is fetched, go on as ingest
tasks (full-content entries) or fetch tasks (everything else). Failures count up ``error_count``
and push ``backoff_until`` out exponentially; the beat schedule keeps firing, and polls inside a
back-off return at once.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from enum import StrEnum
from typing import Protocol

import redis

from worker.errors import BadFeed, EmptyFeed, FeedTruncated, PermanentError, StorylineError, TransientError
from worker.model import InputDocument, Stage
from worker.settings import FeedSettings
from worker.sources import telemetry as metrics
from worker.sources.rss import FeedEntry, Fetcher, entry_document, normalise_link, poll_feed
from worker.store import runs
from worker.store.keys import Keys
from worker.store.locks import TokenLock

#: publishes a dead letter for an input: (input, error, attempts, stage); the pipeline's in production
DeadLetterer = Callable[[InputDocument, BaseException, int, Stage], object]

#: entries read from one feed body; a 10 MiB body (fetch.max_body_bytes) holds at most some
#: tens of thousands, all already parsed by feedparser, so this only bounds the bookkeeping
_MAX_PARSED_ENTRIES = 100_000


def feed_id_for(url: str) -> str:
    """Stable id of a feed: a digest of its normalised URL (the same feed added twice is one)."""
    return hashlib.blake2b((normalise_link(url) or url).encode(), digest_size=8).hexdigest()


def _digest(*parts: str) -> str:
    return hashlib.blake2b("\x1f".join(parts).encode(), digest_size=8).hexdigest()


def backoff_seconds(every_seconds: int, error_count: int, max_seconds: int) -> int:
    """Pause after ``error_count`` failures in a row: the interval doubled per failure, capped."""
    if error_count <= 0:
        return 0
    return int(min(max_seconds, every_seconds * 2 ** (error_count - 1)))


class FeedStatus(StrEnum):
    """A feed's state after its last poll (``FeedState.status``; ``feeds list`` shows it)."""

    NEW = "new"
    OK = "ok"
    NOT_MODIFIED = "not_modified"
    EMPTY = "empty"
    TRUNCATED = "truncated"  # more new entries than one poll takes: the rest wait for the next
    ERROR = "error"


class PollStatus(StrEnum):
    """What one poll did (``PollOutcome.status``, the ``status`` label of storyline_feed_polls_total)."""

    POLLED = "polled"
    NOT_MODIFIED = "not_modified"
    DEAD_LETTER = "dead_letter"
    BACKOFF = "backoff"
    BUSY = "busy"
    PAUSED = "paused"
    UNKNOWN = "unknown"
    ERROR = "error"


@dataclass
class FeedState:
    feed_id: str
    url: str
    every_seconds: int
    added_at: float = 0.0
    etag: str = ""
    last_modified: str = ""
    last_poll: float = 0.0
    #: a FeedStatus (read back from Redis as its plain string)
    status: str = FeedStatus.NEW
    last_error: str = ""
    error_count: int = 0
    backoff_until: float = 0.0
    #: entries taken from this feed so far (ingested or sent to fetch)
    item_count: int = 0
    #: entries in the feed at the last poll that returned a body
    entries_last: int = 0
    #: new entries at the last poll
    new_last: int = 0
    #: 1 while paused (`storyline feeds pause`): off the beat schedule, and a poll already
    #: queued does nothing
    paused: int = 0

    @classmethod
    def from_hash(cls, raw: dict[bytes, bytes]) -> "FeedState":
        values = {k.decode(): v.decode() for k, v in raw.items()}
        kwargs: dict[str, object] = {}
        for f in fields(cls):
            if f.name in values:
                kind = f.type if isinstance(f.type, str) else f.type.__name__
                kwargs[f.name] = {"int": int, "float": float}.get(kind, str)(values[f.name])
        return cls(**kwargs)  # type: ignore[arg-type]

    def to_hash(self) -> dict[str, str]:
        return {k: str(v) for k, v in asdict(self).items()}


class FeedRegistry:
    """The set of subscribed feeds and each one's state hash."""

    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self.client = client
        self.keys = keys

    def add(self, url: str, every_seconds: int) -> FeedState:
        """Subscribe (or change the interval of an existing subscription; its state is kept)."""
        if not normalise_link(url):
            raise BadFeed(f"a feed URL must be an absolute http(s) URL, not {url!r}")
        feed_id = feed_id_for(url)
        existing = self.get(feed_id)
        state = existing or FeedState(feed_id, url, every_seconds, added_at=time.time())
        state.every_seconds = every_seconds
        pipe = self.client.pipeline()
        pipe.hset(self.keys.feed(feed_id), mapping=state.to_hash())
        pipe.sadd(self.keys.feeds, feed_id)
        pipe.execute()
        return state

    def get(self, feed_id: str) -> FeedState | None:
        raw = self.client.hgetall(self.keys.feed(feed_id))
        return FeedState.from_hash(raw) if raw else None

    def find(self, url_or_id: str) -> FeedState | None:
        return self.get(url_or_id) or self.get(feed_id_for(url_or_id))

    def remove(self, feed_id: str) -> bool:
        pipe = self.client.pipeline()
        pipe.srem(self.keys.feeds, feed_id)
        pipe.delete(self.keys.feed(feed_id))
        removed, _ = pipe.execute()
        return bool(removed)

    def all(self) -> list[FeedState]:
        states = [self.get(i.decode()) for i in self.client.smembers(self.keys.feeds)]
        return sorted((s for s in states if s), key=lambda s: s.url)

    def update(self, feed_id: str, **changes: object) -> None:
        self.client.hset(self.keys.feed(feed_id), mapping={k: str(v) for k, v in changes.items()})


class EntrySink(Protocol):
    """Where new entries go (the task layer sends Celery tasks)."""

    def ingest(self, doc: InputDocument) -> None: ...

    def fetch(self, doc_id: str, url: str, *, source_kind: str, run_id: str | None,
              published: str | None = None) -> None: ...


@dataclass
class PollOutcome:
    feed_id: str
    status: PollStatus
    entries: int = 0
    new: int = 0
    error_type: str | None = None
    message: str | None = None

    def to_json(self) -> str:
        return json.dumps({"doc_id": f"feed:{self.feed_id}", **asdict(self)})


def claim_new_entries(client: redis.Redis, keys: Keys, feed_id: str, entries: list[FeedEntry],
                      ttl_seconds: int, limit: int | None = None) -> tuple[list[FeedEntry], int]:
    """(the first ``limit`` entries not seen before, marked seen now; how many more new entries
    were left for a later poll). An entry is new only when none of its keys (guid per feed, link
    across feeds) was set already: a known guid, or a link another entry or feed already brought,
    means it is not fetched again. Entries left over are not marked, so the next poll takes them."""
    per_entry = [entry.dedup_keys(feed_id) for entry in entries]
    pipe = client.pipeline(transaction=False)
    for entry_keys in per_entry:
        pipe.exists(*[keys.seen_entry(k) for k in entry_keys])
    unseen = [(e, ks) for (e, ks), known in zip(zip(entries, per_entry), pipe.execute()) if not known]
    taken = unseen if limit is None else unseen[:limit]
    # SET NX decides: of two entries of this poll with the same link, only the first is new
    for _, entry_keys in taken:
        for k in entry_keys:
            pipe.set(keys.seen_entry(k), 1, nx=True, ex=ttl_seconds)
    results = iter(pipe.execute())
    new = [entry for entry, entry_keys in taken if all([next(results) for _ in entry_keys])]
    return new, len(unseen) - len(taken)


class FeedPoller:
    """Runs polls; one per worker process, holding the Redis-backed parts."""

    def __init__(self, registry: FeedRegistry, fetcher: Fetcher, dead_letter: DeadLetterer, settings: FeedSettings,
                 *, max_attempts: int, run_ttl_seconds: int, lock_seconds: int = 120) -> None:
        self.registry = registry
        self.fetcher = fetcher
        self._dead_letter = dead_letter
        self.settings = settings
        #: failed polls in a row of a transient kind before the feed is dead-lettered (limits.max_attempts)
        self.max_attempts = max_attempts
        #: how long a run's outcomes are kept (Settings.run_ttl_seconds)
        self.run_ttl_seconds = run_ttl_seconds
        self.keys = registry.keys
        self.client = registry.client
        #: a poll lock outlives the longest poll (fetch total timeout plus dispatch), in seconds
        self.lock_seconds = lock_seconds

    def poll(self, feed_id: str, sink: EntrySink, *, run_id: str | None = None, force: bool = False) -> PollOutcome:
        started = time.monotonic()
        outcome = self._poll(feed_id, sink, run_id=run_id, force=force)
        metrics.record_feed_poll(feed_id, outcome.status, time.monotonic() - started)
        if run_id:
            pipe = self.client.pipeline()
            runs.record_outcome(pipe, self.keys, run_id, f"feed:{feed_id}", outcome.to_json(), self.run_ttl_seconds)
            pipe.execute()
        return outcome

    def _poll(self, feed_id: str, sink: EntrySink, *, run_id: str | None, force: bool) -> PollOutcome:
        state = self.registry.get(feed_id)
        if state is None:
            return PollOutcome(feed_id, PollStatus.UNKNOWN, message="no such feed (removed?)")
        if state.paused and not force:
            return PollOutcome(feed_id, PollStatus.PAUSED, message="paused (storyline feeds resume)")
        now = time.time()
        if not force and state.backoff_until > now:
            return PollOutcome(feed_id, PollStatus.BACKOFF, message=f"backing off until {state.backoff_until:.0f}")
        lock = TokenLock(self.client, self.keys.feed_lock(feed_id), self.lock_seconds)
        if not lock.acquire():
            return PollOutcome(feed_id, PollStatus.BUSY, message="another worker is polling this feed")
        try:
            return self._poll_locked(state, sink, run_id=run_id)
        finally:
            lock.release()  # atomic: a lock that expired and was taken by another poll is left alone

    def _poll_locked(self, state: FeedState, sink: EntrySink, *, run_id: str | None) -> PollOutcome:
        feed_id = state.feed_id
        try:
            result = poll_feed(self.fetcher, state.url, etag=state.etag or None,
                               last_modified=state.last_modified or None, max_entries=_MAX_PARSED_ENTRIES)
        except StorylineError as exc:
            return self._failed(state, exc)
        except Exception as exc:  # a parser bug must not kill the worker; count and report it
            return self._failed(state, exc)
        now = time.time()
        validators = {"etag": result.etag or "", "last_modified": result.last_modified or ""}
        if result.not_modified:
            self.registry.update(feed_id, last_poll=now, status=FeedStatus.NOT_MODIFIED, error_count=0, backoff_until=0,
                                 new_last=0, last_error="", **validators)
            return PollOutcome(feed_id, PollStatus.NOT_MODIFIED)
        feed = result.feed
        assert feed is not None
        if not feed.entries:
            # one dead letter per distinct empty body (deterministic id: the publisher writes it once)
            doc = InputDocument(_digest(feed_id, "empty", result.body_digest or ""), "feed", state.url, b"")
            error = EmptyFeed(f"the feed ({feed.version}) parsed but holds no entries: nothing to ingest"
                              + (f"; parser warning: {feed.warning}" if feed.warning else ""))
            self._dead_letter(doc, error, 1, Stage.FEED)
            self.registry.update(feed_id, last_poll=now, status=FeedStatus.EMPTY, error_count=0, backoff_until=0,
                                 entries_last=0, new_last=0, last_error=str(error)[:500], **validators)
            return PollOutcome(feed_id, PollStatus.DEAD_LETTER, error_type=error.code, message=str(error))
        new, left = claim_new_entries(self.client, self.keys, feed_id, feed.entries, self.settings.seen_ttl_seconds,
                                      limit=self.settings.max_entries)
        if left:
            # a feed of thousands of new entries is drained max_entries a poll; until it is, the
            # next poll fetches it in full (no validators), or a 304 would strand the rest. Said
            # once per distinct body on the dead-letter stream, so the operator sees the odd feed
            doc = InputDocument(_digest(feed_id, "truncated", result.body_digest or ""), "feed", state.url, b"")
            note = FeedTruncated(
                f"the feed lists {len(new) + left:,} new entries, more than STORYLINE_FEEDS__MAX_ENTRIES "
                f"({self.settings.max_entries:,}) a poll: took {len(new):,}; the other {left:,} are taken by the "
                f"next polls (nothing is lost), which fetch the feed without conditional headers until it is drained")
            self._dead_letter(doc, note, 1, Stage.FEED)
            validators = {"etag": "", "last_modified": ""}
        for i, entry in enumerate(new):
            try:
                self._dispatch(state, entry, sink, run_id)
            except Exception as exc:
                # the broker failed: forget the entries not handed on, so the next poll takes them
                undelivered = [self.keys.seen_entry(k) for e in new[i:] for k in e.dedup_keys(feed_id)]
                self.client.delete(*undelivered)
                self.client.hincrby(self.keys.feed(feed_id), "item_count", i)
                return self._failed(state, TransientError(f"handing on entry {i + 1} of {len(new)} failed: {exc}"))
        self.client.hincrby(self.keys.feed(feed_id), "item_count", len(new))
        self.registry.update(feed_id, last_poll=now, status=FeedStatus.TRUNCATED if left else FeedStatus.OK, error_count=0, backoff_until=0,
                             entries_last=len(feed.entries), new_last=len(new),
                             last_error=(f"parser warning: {feed.warning}"[:500] if feed.warning else ""), **validators)
        return PollOutcome(feed_id, PollStatus.POLLED, entries=len(feed.entries), new=len(new))

    def _dispatch(self, state: FeedState, entry: FeedEntry, sink: EntrySink, run_id: str | None) -> None:
        # the same entry always gets the same doc id, so a re-sent task repeats the same decisions
        doc_id = _digest(state.feed_id, *entry.dedup_keys(state.feed_id))
        uri = entry.link or f"{state.url}#{entry.guid or doc_id}"
        if entry.content_html and (entry.content_words >= self.settings.full_content_min_words or not entry.link):
            # a full-text entry (or one with nothing to fetch): its own content is the article
            sink.ingest(InputDocument(doc_id, "feed", uri, entry_document(entry), url=entry.link,
                                      content_type="text/html; charset=utf-8", run_id=run_id))
        elif entry.link:
            # the entry's date goes along: the page fetched from its link may have none
            sink.fetch(doc_id, entry.link, source_kind="url", run_id=run_id, published=entry.published)
        else:
            doc = InputDocument(doc_id, "feed", uri, b"", run_id=run_id)
            self._dead_letter(doc, BadFeed("the feed entry has neither a link nor any content"), 1, Stage.FEED)

    def _failed(self, state: FeedState, exc: Exception) -> PollOutcome:
        errors = state.error_count + 1
        pause = backoff_seconds(state.every_seconds, errors, self.settings.max_backoff_seconds)
        code = exc.code if isinstance(exc, StorylineError) else f"internal:{type(exc).__name__}"
        message = str(exc) or type(exc).__name__
        self.registry.update(state.feed_id, last_poll=time.time(), status=FeedStatus.ERROR, error_count=errors,
                             backoff_until=time.time() + pause, last_error=f"{code}: {message}"[:500])
        # permanent failures are dead-lettered at once, transient ones when they keep happening;
        # the id is derived from the error, so a feed failing the same way every poll gives one
        # dead letter, not one per poll
        if isinstance(exc, PermanentError) or errors >= self.max_attempts \
                or not isinstance(exc, TransientError):
            doc = InputDocument(_digest(state.feed_id, "error", code, message), "feed", state.url, b"")
            self._dead_letter(doc, exc, errors, Stage.FEED)
            return PollOutcome(state.feed_id, PollStatus.DEAD_LETTER, error_type=code, message=message)
        return PollOutcome(state.feed_id, PollStatus.ERROR, error_type=code, message=message)
