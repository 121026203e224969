"""The events Storyline publishes. Each maps to one stream under the prefix:

    ArticleIngested -> <prefix>:articles       one per unique article
    DuplicateFound  -> <prefix>:duplicates     one per copy of an already-seen article
    ThreadEvent     -> <prefix>:threads        thread.created / thread.updated
    DeadLetter      -> <prefix>:dead-letter    an input that could not be processed
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, ClassVar, Literal
from urllib.parse import quote, urlsplit

from pydantic import BeforeValidator, ConfigDict, Field, WithJsonSchema

from schemas.envelope import Event, NonEmpty, Scrubbed


def _uri_or_none(value: object) -> object:
    """An absolute URI, or None: a relative link (a page's ``<link rel=canonical href=/a>``)
    names no article on its own. Non-ASCII characters are percent-encoded as UTF-8 and an
    internationalised host is IDNA-encoded, so the URL is an RFC 3986 URI (``format: uri``)."""
    if not isinstance(value, str):
        return value
    parts = urlsplit(value.strip())
    if not parts.scheme or not parts.netloc:
        return None
    host = parts.netloc
    if not host.isascii():
        userinfo, _, hostport = host.rpartition("@")
        name, colon, port = hostport.partition(":") if hostport.count(":") == 1 else (hostport, "", "")
        try:
            name = name.encode("idna").decode("ascii")
        except UnicodeError:
            name = quote(name, safe="")
        host = (f"{quote(userinfo, safe=':')}@" if userinfo else "") + name + colon + port
    keep = "!#$&'()*+,/:;=?@[]~%"  # reserved characters and existing escapes stay as they are
    return parts._replace(netloc=host, path=quote(parts.path, safe=keep), query=quote(parts.query, safe=keep),
                          fragment=quote(parts.fragment, safe=keep)).geturl()


def _iso_date_or_none(value: object) -> object:
    """An ISO 8601 date (YYYY-MM-DD) or a date-time with its offset, or None: what JSON Schema's
    ``date`` and ``date-time`` formats accept; anything else ("yesterday", a date-time without
    an offset) is not a date a consumer could compare, so it is not published."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    try:
        if len(text) == 10:
            return date.fromisoformat(text).isoformat()
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.isoformat() if parsed.tzinfo is not None else None


#: an absolute URL (``format: uri``); anything else becomes None
Url = Annotated[str | None, BeforeValidator(_uri_or_none),
                WithJsonSchema({"anyOf": [{"type": "string", "format": "uri", "minLength": 1}, {"type": "null"}]},
                               mode="serialization")]
#: a publication date: ISO 8601 date or date-time (``format: date`` / ``date-time``)
PublishedDate = Annotated[str | None, BeforeValidator(_iso_date_or_none),
                          WithJsonSchema({"anyOf": [{"type": "string", "format": "date"},
                                                    {"type": "string", "format": "date-time"},
                                                    {"type": "null"}]}, mode="serialization")]


class Source(Scrubbed):
    """Where an input came from."""

    model_config = ConfigDict(extra="forbid", json_schema_serialization_defaults_required=True)

    kind: Literal["file", "url", "feed", "request"] = Field(description="How the input arrived.")
    uri: NonEmpty = Field(description="File path or URL of the input.")


class ArticleIngested(Event):
    TYPE: ClassVar[str] = "article.ingested"
    STREAM: ClassVar[str] = "articles"

    article_id: NonEmpty = Field(description="Stable id of this article (the canonical copy).")
    source: Source
    url: Url = Field(None, description="Canonical URL of the article (absolute), when known.")
    site: str | None = Field(None, description="Site or publisher name.")
    title: str | None = None
    authors: list[str] = Field(default_factory=list)
    published: PublishedDate = Field(None, description="Publication date, ISO 8601 (date, or date-time with offset).")
    language: str | None = Field(None, description="ISO 639-1 code.")
    text: NonEmpty = Field(description="Clean article body, paragraphs separated by blank lines.")
    word_count: int = Field(ge=0, description=(
        "Length of `text` in the units its readers count (worker/words.py): words in scripts "
        "written with spaces (Latin, Cyrillic, Greek, Arabic, Hebrew, Devanagari and the other "
        "Indic scripts, Hangul, ...), a word being a run of letters, digits and combining marks "
        "with inner apostrophes or hyphens; one per character in scripts written without spaces "
        "(Han, Hiragana, Katakana, Thai, Lao, Khmer, Myanmar, Tibetan), so a Chinese or Japanese "
        "article's word_count is its character count (punctuation and spaces excluded)."))
    story_id: NonEmpty = Field(description="The news event this article reports (days).")
    story_label: str
    thread_id: NonEmpty = Field(description="The ongoing story this article belongs to (weeks).")
    thread_label: str
    ingested_at: datetime


class DuplicateFound(Event):
    TYPE: ClassVar[str] = "duplicate.found"
    STREAM: ClassVar[str] = "duplicates"

    article_id: NonEmpty = Field(description="Id of this copy (it is not published as an article).")
    source: Source
    url: Url = Field(None, description="Canonical URL of this copy (absolute), when known.")
    title: str | None = None
    duplicate_of: NonEmpty = Field(description="article_id of the canonical article.")
    similarity: float = Field(ge=0.0, le=1.0, description="1.0 for exact copies; estimated Jaccard or containment for near ones.")
    method: Literal["exact", "url", "near"] = Field(description="exact: same normalised text; url: same canonical URL; near: MinHash LSH.")


class ThreadEvent(Event):
    TYPE: ClassVar[str] = "thread"  # the entry's type is the event's ``kind``
    STREAM: ClassVar[str] = "threads"

    kind: Literal["thread.created", "thread.updated"]
    thread_id: NonEmpty
    label: str = Field(description="Representative headline of the thread (the member headline closest to its centroid), then up to three key entities it lacks, after \" · \"; a watched thread's configured name.")
    key_terms: list[str] = Field(default_factory=list, description="Highest-weighted terms and entities.")
    size: int = Field(ge=1, description="Articles in the thread so far.")
    first_seen: datetime
    last_seen: datetime
    article_id: NonEmpty = Field(description="The article whose arrival produced this event.")


class DeadLetter(Event):
    TYPE: ClassVar[str] = "dead_letter"
    STREAM: ClassVar[str] = "dead-letter"

    source: Source
    stage: Literal["read", "fetch", "feed", "request", "extract", "dedup", "thread", "publish"]
    error_type: NonEmpty = Field(description="Machine-readable reason, e.g. not_text, too_large, no_content.")
    message: NonEmpty = Field(description="What went wrong and what to do about it.")
    attempts: int = Field(ge=1)


ALL_EVENTS: tuple[type[Event], ...] = (ArticleIngested, DuplicateFound, ThreadEvent, DeadLetter)


def entry_type(event: Event) -> str:
    """The ``type`` field of the stream entry for an event."""
    return event.kind if isinstance(event, ThreadEvent) else event.TYPE
