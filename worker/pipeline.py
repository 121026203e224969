"""The pipeline: extract -> dedup -> thread -> publish for one input, with no Celery in sight.

Stage logic lives in the stage packages as plain functions; this module chains them and holds
the per-process Redis-backed parts (dedup index, thread state, publisher). The Celery task
calls ``Pipeline.process`` and maps errors to retries or dead letters.
"""

from __future__ import annotations

import json
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from collections.abc import Iterator

import redis

from schemas import ArticleIngested, DeadLetter, DuplicateFound, Event, Source, ThreadEvent
from worker.dedup.index import DedupIndex
from worker.dedup.minhash import normalise, shingles, signature, text_hash
from worker.errors import NoContent, PermanentError, StorylineError
from worker.extract import ExtractedArticle, extract_document
from worker.extract.chrome import SiteChrome, site_of
from worker.publish.streams import Publisher, event_id
from worker.settings import Settings
from worker.store.keys import Keys
from worker.threads.cluster import features, lead
from worker.threads.state import ThreadState

#: how long a replay's per-input outcomes are kept for the CLI to count, in seconds
RUN_TTL_SECONDS = 24 * 3600

_WARM_UP_PAGE = b"""<!doctype html><html lang="en"><head><title>Council approves new bridge</title></head>
<body><article><h1>Council approves new bridge</h1><p>The city council voted on Tuesday to fund a
new bridge across the river, ending a debate that had lasted for more than two years.</p><p>Work
is expected to start next spring, and officials said the crossing should open to traffic within
three years, easing congestion on the two older bridges downtown.</p></article></body></html>"""


def warm_up() -> None:
    """Load in this process what the stages otherwise load on first use: py3langid's model
    (~110 MB, 0.6 s), wordfreq's English list (~40 MB, 0.2 s), the stemmer, trafilatura's and
    readability's first-call setup. Called in the Celery main process before the pool forks
    (worker/tasks.py), so that every pool process, and every one recycled after
    ``worker_max_tasks_per_child``, shares them instead of paying for its own: on a 1,200
    document run they were 10% of a fresh process's time (py-spy)."""
    article = extract_document(_WARM_UP_PAGE, uri="warm-up.html", content_type="text/html; charset=utf-8",
                               max_bytes=len(_WARM_UP_PAGE), min_words=1)
    features(article.title, lead(article.text), "en")


@dataclass(frozen=True)
class InputDocument:
    """One accepted input. ``doc_id`` is fixed when the input is accepted and drives every
    derived id, so redelivering the same input repeats the same decisions and event ids."""

    doc_id: str
    source_kind: str  # file | url | feed | request
    uri: str
    body: bytes
    url: str | None = None
    content_type: str | None = None
    run_id: str | None = None

    @property
    def source(self) -> Source:
        return Source(kind=self.source_kind, uri=self.uri)


@dataclass
class Outcome:
    doc_id: str
    status: str  # article | duplicate | dead_letter
    article_id: str | None = None
    duplicate_of: str | None = None
    thread_id: str | None = None
    story_id: str | None = None
    error_type: str | None = None
    timings_ms: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self))


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
    def _stage(self, name: str, timings: dict[str, float]) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        except Exception as exc:
            if isinstance(exc, StorylineError) and not hasattr(exc, "stage"):
                exc.stage = name  # type: ignore[attr-defined]
            # the stages that ran before the failure, for metrics (filled in by `finally`)
            if not hasattr(exc, "timings_ms"):
                exc.timings_ms = timings  # type: ignore[attr-defined]
            if not hasattr(exc, "failed_stage"):
                exc.failed_stage = name  # type: ignore[attr-defined]
            raise
        finally:
            timings[name] = (time.perf_counter() - start) * 1000.0

    def process(self, doc: InputDocument) -> Outcome:
        """Run every stage on one input. Raises TransientError (retry) or PermanentError
        (dead-letter); safe to call again for the same input after any failure."""
        timings: dict[str, float] = {}
        limits = self.settings.limits
        with self._stage("extract", timings):
            # chrome learned per site needs to know the site: from the input's URL when it has one
            site = site_of(doc.url)
            article = extract_document(
                doc.body, uri=doc.uri, url=doc.url, content_type=doc.content_type,
                max_bytes=limits.max_bytes, min_words=limits.min_words, max_words=limits.max_words,
                learned_chrome=(lambda lines: self.site_chrome.check_and_record(site, doc.doc_id, lines)) if site else None,
                second_opinion=self.settings.extract.second_opinion,
            )
        with self._stage("dedup", timings):
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
            with self._stage("publish", timings):
                self._publish_and_record(doc, [event], Outcome(
                    doc.doc_id, "duplicate", article_id=doc.doc_id, duplicate_of=decision.canonical_id,
                ))
            return Outcome(doc.doc_id, "duplicate", doc.doc_id, decision.canonical_id, timings_ms=timings)

        with self._stage("thread", timings):
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
        outcome = Outcome(doc.doc_id, "article", article_id=doc.doc_id, thread_id=a.thread.cluster_id,
                          story_id=a.story.cluster_id)
        with self._stage("publish", timings):
            self._publish_and_record(doc, events, outcome)
        outcome.timings_ms = timings
        return outcome

    def dead_letter(self, doc: InputDocument, error: Exception, attempts: int, stage: str | None = None) -> Outcome:
        """Publish a dead-letter event for an input and record its outcome."""
        stage = stage or getattr(error, "stage", None) or "extract"
        error_type = error.code if isinstance(error, StorylineError) else f"internal:{type(error).__name__}"
        message = str(error) or type(error).__name__
        if not isinstance(error, PermanentError):
            message = f"gave up after {attempts} attempts: {message}"
        event = DeadLetter(
            event_id=event_id(doc.doc_id, "dead_letter"), source=doc.source, stage=stage,
            error_type=error_type, message=message[:2000], attempts=max(1, attempts),
        )
        outcome = Outcome(doc.doc_id, "dead_letter", error_type=error_type)
        self._publish_and_record(doc, [event], outcome)
        return outcome

    def _publish_and_record(self, doc: InputDocument, events: list[Event], outcome: Outcome) -> None:
        pipe = self.client.pipeline(transaction=True)
        self.publisher.publish(events, client=pipe)
        if doc.run_id:
            pipe.hsetnx(self.keys.run(doc.run_id), doc.doc_id, outcome.to_json())
            pipe.expire(self.keys.run(doc.run_id), RUN_TTL_SECONDS)
        pipe.execute()
