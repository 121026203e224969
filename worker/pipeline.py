"""The pipeline: extract -> dedup -> thread -> publish for one input, with no Celery in sight.

Stage logic lives in the stage packages as plain functions; this module chains them and holds
the per-process Redis-backed parts (dedup index, thread state, publisher). The Celery task
calls ``Pipeline.process`` and maps errors to retries or dead letters.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timezone

import redis

from schemas import ArticleIngested, DeadLetter, DuplicateFound, Event, ThreadEvent
from worker.dedup.index import DedupIndex
from worker.dedup.minhash import normalise, shingles, signature, text_hash
from worker.errors import NoContent, PermanentError, StageFailure, StorylineError
from worker.extract import ExtractedArticle, extract_document
from worker.extract.chrome import SiteChrome, site_of
from worker.publish.streams import Publisher, event_id
from worker.model import InputDocument, Outcome, Stage, Status
from worker.settings import Settings
from worker.store import runs
from worker.store.keys import Keys
from worker.threads.cluster import features, lead
from worker.threads.state import ThreadState

__all__ = ["DeadLetterWriter", "InputDocument", "Outcome", "Pipeline", "warm_up"]  # the model's two, re-exported for callers

_WARM_UP_PAGE = b"""<!doctype html><html lang="en"><head><title>Council approves new bridge</title></head>
<body><article><h1>Council approves new bridge</h1><p>The city council voted on Tuesday to fund a
new bridge across the river, ending a debate that had lasted for more than two years.</p><p>Work
is expected to start next spring, and officials said the crossing should open to traffic within
three years, easing congestion on the two older bridges downtown.</p></article></body></html>"""


def warm_up() -> None:
    """Load in this process what the stages otherwise load on first use: py3langid's model
    (~110 MB, 0.6 s), wordfreq's English list (~40 MB, 0.2 s), the stemmer, trafilatura's and
    readability's first-call setup. Called in the Celery main process before the pool forks
    (worker/runtime/signals.py), so that every pool process, and every one recycled after
    ``worker_max_tasks_per_child``, shares them instead of paying for its own: on a 1,200
    document run they were 10% of a fresh process's time (py-spy)."""
    article = extract_document(_WARM_UP_PAGE, uri="warm-up.html", content_type="text/html; charset=utf-8",
                               max_bytes=len(_WARM_UP_PAGE), min_words=1)
    features(article.title, lead(article.text), "en")


def _hinted(article: ExtractedArticle, hint: str | None, now: float) -> ExtractedArticle:
    """The article with the source's date (``InputDocument.published_hint``: a feed entry's)
    when the page gives none and the hint is an ISO 8601 time not after tomorrow (a JSON
    feed's date is whatever string the feed wrote)."""
    if article.published or not hint:
        return article
    try:
        when = datetime.fromisoformat(hint)
    except ValueError:
        return article
    if (when if when.tzinfo else when.replace(tzinfo=timezone.utc)).timestamp() > now + 86400:
        return article
    return replace(article, published=hint)


def _when(article: ExtractedArticle, fallback: float) -> float:
    """The article's time for decay: its publication date when plausible, else now."""
    if article.published:
        try:
            dt = datetime.fromisoformat(article.published)
            if dt.tzinfo is None:
                dt = dt.replace(tzinfo=timezone.utc)
            ts = dt.timestamp()
            if ts <= fallback + 86400:
                return ts
        except ValueError:
            pass
    return fallback


class Pipeline:
    """Per-process pipeline over one Redis. Build once (worker_process_init), reuse per task."""

    def __init__(self, client: redis.Redis, settings: Settings) -> None:
        self.client = client
        self.settings = settings
        self.keys = Keys(settings.prefix)
        self.dedup = DedupIndex(client, self.keys, settings.dedup)
        self.threads = ThreadState(client, self.keys, settings.threads)
        self.publisher = Publisher(client, self.keys, settings.streams)
        self.site_chrome = SiteChrome(client, self.keys, settings.chrome)

    @contextmanager
    def _stage(self, name: Stage, timings: dict[str, float]) -> Iterator[None]:
        """Time stage ``name``; an error inside it leaves as StageFailure(name, timings, error)."""
        start = time.perf_counter()
        try:
            yield
        except Exception as exc:
            timings[name] = (time.perf_counter() - start) * 1000.0
            raise StageFailure(name, timings, exc) from exc
        timings[name] = (time.perf_counter() - start) * 1000.0

    def process(self, doc: InputDocument) -> Outcome:
        """Run every stage on one input. A failure raises StageFailure, whose ``error`` is a
        TransientError or an outage (retry), a PermanentError (dead-letter) or a bug; safe to
        call again for the same input after any failure."""
        timings: dict[str, float] = {}
        limits = self.settings.limits
        with self._stage(Stage.EXTRACT, timings):
            # chrome learned per site needs to know the site: from the input's URL when it has one
            site = site_of(doc.url)
            article = extract_document(
                doc.body, uri=doc.uri, url=doc.url, content_type=doc.content_type,
                max_bytes=limits.max_bytes, min_words=limits.min_words, max_words=limits.max_words,
                learned_chrome=(lambda lines: self.site_chrome.check_and_record(site, doc.doc_id, lines)) if site else None,
                second_opinion=self.settings.extract.second_opinion,
            )
            article = _hinted(article, doc.published_hint, time.time())
        with self._stage(Stage.DEDUP, timings):
            norm = normalise(article.text)
            if not norm:
                raise NoContent("the article text has no words")
            sig = signature(shingles(norm, self.settings.dedup.shingle_size), self.settings.dedup.num_perm)
            decision = self.dedup.check_and_insert(doc.doc_id, text_hash(norm), sig, article.url)
        ingested = datetime.now(timezone.utc)
        if decision.is_duplicate:
            event: Event = DuplicateFound(
                event_id=event_id(doc.doc_id, "duplicate"), article_id=doc.doc_id, source=doc.source,
                url=article.url, title=article.title, duplicate_of=decision.canonical_id,
                similarity=min(1.0, decision.similarity), method=decision.method,
            )
            with self._stage(Stage.PUBLISH, timings):
                self._publish_and_record(doc, [event], Outcome(
                    doc.doc_id, Status.DUPLICATE, article_id=doc.doc_id, duplicate_of=decision.canonical_id,
                ))
            return Outcome(doc.doc_id, Status.DUPLICATE, doc.doc_id, decision.canonical_id, timings_ms=timings)

        with self._stage(Stage.THREAD, timings):
            when = _when(article, ingested.timestamp())
            a = self.threads.assign(doc.doc_id, article.title, article.text, article.language,
                                    when, dated=when != ingested.timestamp())
        events: list[Event] = [
            ArticleIngested(
                event_id=event_id(doc.doc_id, "article"), article_id=doc.doc_id, source=doc.source,
                url=article.url, site=article.site, title=article.title, authors=article.authors,
                published=article.published, language=article.language, text=article.text,
                word_count=article.word_count, story_id=a.story.cluster_id, story_label=a.story.label,
                thread_id=a.thread.cluster_id, thread_label=a.thread.label, ingested_at=ingested,
            ),
            ThreadEvent(
                event_id=event_id(doc.doc_id, "thread"),
                kind="thread.created" if a.thread.created else "thread.updated",
                thread_id=a.thread.cluster_id, label=a.thread.label, key_terms=a.thread.key_terms,
                size=a.thread.size,
                first_seen=datetime.fromtimestamp(a.thread.first_seen, timezone.utc),
                last_seen=datetime.fromtimestamp(a.thread.last_seen, timezone.utc),
                article_id=doc.doc_id,
            ),
        ]
        outcome = Outcome(doc.doc_id, Status.ARTICLE, article_id=doc.doc_id, thread_id=a.thread.cluster_id,
                          story_id=a.story.cluster_id)
        with self._stage(Stage.PUBLISH, timings):
            self._publish_and_record(doc, events, outcome)
        outcome.timings_ms = timings
        return outcome

    def dead_letter(self, doc: InputDocument, error: BaseException, attempts: int, stage: Stage) -> Outcome:
        """Publish a dead-letter event for an input (``stage``: the one that gave up) and record
        its outcome."""
        # built per call (no I/O): a publisher swapped in after construction (tests do) is used
        return DeadLetterWriter(self.client, self.keys, self.publisher, self.settings.run_ttl_seconds).dead_letter(doc, error, attempts, stage)

    def _publish_and_record(self, doc: InputDocument, events: list[Event], outcome: Outcome) -> None:
        _publish_and_record(self.client, self.keys, self.publisher, doc, events, outcome, self.settings.run_ttl_seconds)


class DeadLetterWriter:
    """Publishes dead letters and records their outcome: what a sender of inputs (replay, the
    request consumer, a feed poll, a fetch) needs, without the pipeline's dedup index and thread
    state."""

    def __init__(self, client: redis.Redis, keys: Keys, publisher: Publisher, run_ttl_seconds: int) -> None:
        self.client = client
        self.keys = keys
        self.run_ttl_seconds = run_ttl_seconds
        self.publisher = publisher

    @classmethod
    def for_settings(cls, client: redis.Redis, settings: Settings) -> DeadLetterWriter:
        keys = Keys(settings.prefix)
        return cls(client, keys, Publisher(client, keys, settings.streams), settings.run_ttl_seconds)

    def dead_letter(self, doc: InputDocument, error: BaseException, attempts: int, stage: Stage) -> Outcome:
        """Publish a dead-letter event for an input (``stage``: the one that gave up) and record
        its outcome."""
        error_type = error.code if isinstance(error, StorylineError) else f"internal:{type(error).__name__}"
        message = str(error) or type(error).__name__
        if not isinstance(error, PermanentError):
            message = f"gave up after {attempts} attempts: {message}"
        event = DeadLetter(
            event_id=event_id(doc.doc_id, "dead_letter"), source=doc.source, stage=stage,
            error_type=error_type, message=message[:2000], attempts=max(1, attempts),
        )
        outcome = Outcome(doc.doc_id, Status.DEAD_LETTER, error_type=error_type)
        _publish_and_record(self.client, self.keys, self.publisher, doc, [event], outcome, self.run_ttl_seconds)
        return outcome


def _publish_and_record(client: redis.Redis, keys: Keys, publisher: Publisher, doc: InputDocument,
                        events: list[Event], outcome: Outcome, run_ttl_seconds: int) -> None:
    """Publish ``events`` and record the input's outcome in its run, in one MULTI/EXEC."""
    pipe = client.pipeline(transaction=True)
    publisher.publish(events, client=pipe)
    if doc.run_id:
        runs.record_outcome(pipe, keys, doc.run_id, doc.doc_id, outcome.to_json(), run_ttl_seconds)
    pipe.execute()
