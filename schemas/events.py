"""The events Storyline publishes. Each maps to one stream under the prefix:

    ArticleIngested -> <prefix>:articles       one per unique article
    DuplicateFound  -> <prefix>:duplicates     one per copy of an already-seen article
    ThreadEvent     -> <prefix>:threads        thread.created / thread.updated
    DeadLetter      -> <prefix>:dead-letter    an input that could not be processed
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from pydantic import ConfigDict, Field

from schemas.envelope import Event, Scrubbed


class Source(Scrubbed):
    """Where an input came from."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["file", "url", "feed", "request"] = Field(description="How the input arrived.")
    uri: str = Field(description="File path or URL of the input.")


class ArticleIngested(Event):
    TYPE: ClassVar[str] = "article.ingested"
    STREAM: ClassVar[str] = "articles"

    article_id: str = Field(description="Stable id of this article (the canonical copy).")
    source: Source
    url: str | None = Field(None, description="Canonical URL of the article, when known.")
    site: str | None = Field(None, description="Site or publisher name.")
    title: str | None = None
    authors: list[str] = Field(default_factory=list)
    published: str | None = Field(None, description="Publication date, ISO 8601 (date or date-time).")
    language: str | None = Field(None, description="ISO 639-1 code.")
    text: str = Field(description="Clean article body, paragraphs separated by blank lines.")
    word_count: int = Field(description=(
        "Length of `text` in the units its readers count (worker/words.py): words in scripts "
        "written with spaces (Latin, Cyrillic, Greek, Arabic, Hebrew, Devanagari and the other "
        "Indic scripts, Hangul, ...), a word being a run of letters, digits and combining marks "
        "with inner apostrophes or hyphens; one per character in scripts written without spaces "
        "(Han, Hiragana, Katakana, Thai, Lao, Khmer, Myanmar, Tibetan), so a Chinese or Japanese "
        "article's word_count is its character count (punctuation and spaces excluded)."))
    story_id: str = Field(description="The news event this article reports (days).")
    story_label: str
    thread_id: str = Field(description="The ongoing story this article belongs to (weeks).")
    thread_label: str
    ingested_at: datetime


class DuplicateFound(Event):
    TYPE: ClassVar[str] = "duplicate.found"
    STREAM: ClassVar[str] = "duplicates"

    article_id: str = Field(description="Id of this copy (it is not published as an article).")
    source: Source
    url: str | None = None
    title: str | None = None
    duplicate_of: str = Field(description="article_id of the canonical article.")
    similarity: float = Field(ge=0.0, le=1.0, description="1.0 for exact copies; estimated Jaccard or containment for near ones.")
    method: Literal["exact", "url", "near"] = Field(description="exact: same normalised text; url: same canonical URL; near: MinHash LSH.")


class ThreadEvent(Event):
    TYPE: ClassVar[str] = "thread"  # the entry's type is the event's ``kind``
    STREAM: ClassVar[str] = "threads"

    kind: Literal["thread.created", "thread.updated"]
    thread_id: str
    label: str = Field(description="Representative headline of the thread (the member headline closest to its centroid), then up to three key entities it lacks, after \" · \"; a watched thread's configured name.")
    key_terms: list[str] = Field(default_factory=list, description="Highest-weighted terms and entities.")
    size: int = Field(description="Articles in the thread so far.")
    first_seen: datetime
    last_seen: datetime
    article_id: str = Field(description="The article whose arrival produced this event.")


class DeadLetter(Event):
    TYPE: ClassVar[str] = "dead_letter"
    STREAM: ClassVar[str] = "dead-letter"

    source: Source
    stage: Literal["read", "fetch", "feed", "request", "extract", "dedup", "thread", "publish"]
    error_type: str = Field(description="Machine-readable reason, e.g. not_text, too_large, no_content.")
    message: str = Field(description="What went wrong and what to do about it.")
    attempts: int = Field(ge=1)


ALL_EVENTS: tuple[type[Event], ...] = (ArticleIngested, DuplicateFound, ThreadEvent, DeadLetter)


def entry_type(event: Event) -> str:
    """The ``type`` field of the stream entry for an event."""
    return event.kind if isinstance(event, ThreadEvent) else event.TYPE
