"""Feeds: RSS 0.9x/1.0/2.0, Atom and CDF through feedparser; JSON Feed mapped here.

``parse_feed(bytes)`` is pure: bytes in, a ParsedFeed (or BadFeed) out. ``poll_feed`` at the
bottom is the only part that touches the network, through ``sources.http``.

An entry is ingested straight from the feed when it carries the article itself (at least
``full_content_min_words`` words of content, as full-text feeds do); otherwise its link is
fetched. Summaries and teasers are not articles.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urljoin, urlsplit, urlunsplit

import courlan
import feedparser

from worker.errors import BadFeed

if TYPE_CHECKING:
    from worker.sources.http import FetchResult

_TAG = re.compile(r"<[^>]+>")


@dataclass(frozen=True)
class FeedEntry:
    guid: str | None
    link: str | None  # absolute, normalised (courlan), no fragment; None if the entry has no http(s) link
    title: str | None
    content_html: str | None  # the richest content the entry carries (full content, else summary)
    published: str | None  # ISO 8601, UTC

    @property
    def content_words(self) -> int:
        return len(html.unescape(_TAG.sub(" ", self.content_html or "")).split())

    def dedup_keys(self, feed_id: str) -> list[str]:
        """Hashes under which this entry counts as seen: its guid (within its feed: guids are
        only unique per feed) and its normalised link (across feeds: one article, one fetch)."""
        out = []
        if self.guid:
            out.append(_digest("guid", feed_id, self.guid))
        if self.link:
            out.append(_digest("link", self.link))
        if not out:  # neither guid nor link: the content is all there is to tell entries apart
            out.append(_digest("content", feed_id, self.title or "", self.content_html or ""))
        return out


@dataclass(frozen=True)
class ParsedFeed:
    version: str  # feedparser's name: rss20, atom10, rss10 ... or json1 / json11
    title: str | None
    entries: list[FeedEntry] = field(default_factory=list)
    #: why the feed is not well-formed when it parsed anyway (feedparser's bozo exception)
    warning: str | None = None
    #: entries beyond max_entries that were dropped
    truncated: int = 0


def _digest(*parts: str) -> str:
    return hashlib.blake2b("\x1f".join(parts).encode("utf-8", "surrogatepass"), digest_size=12).hexdigest()


def normalise_link(link: str | None, base: str | None = None) -> str | None:
    """Absolute http(s) link, normalised with courlan (lower-case host, default port dropped,
    query sorted, tracking parameters removed) and without its fragment; None when not http(s)."""
    if not link or not isinstance(link, str):
        return None
    link = link.strip()
    if base:
        try:
            link = urljoin(base, link)
        except ValueError:
            return None
    try:
        parts = urlsplit(link)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    try:
        link = courlan.normalize_url(link)
    except Exception:  # courlan raises assorted errors on odd hosts; keep the URL as it was
        pass
    parts = urlsplit(link)
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", parts.query, ""))


def _iso(struct: time.struct_time | None) -> str | None:
    if not struct:
        return None
    try:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", struct)
    except (TypeError, ValueError):
        return None


def _text(value: object) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _entry_content(entry: feedparser.FeedParserDict) -> str | None:
    """The longest of the entry's content blocks, else its summary."""
    best = ""
    for block in entry.get("content") or []:
        value = block.get("value") if isinstance(block, dict) else None
        if isinstance(value, str) and len(value) > len(best):
            best = value if "html" in (block.get("type") or "html") else f"<p>{html.escape(value)}</p>"
    if not best:
        best = entry.get("summary") or entry.get("description") or ""
    return best.strip() or None if isinstance(best, str) else None


def _from_feedparser(body: bytes, content_type: str | None, base: str | None) -> tuple[str, str | None, list[FeedEntry], str | None]:
    headers = {"content-type": content_type} if content_type else {}
    if base:
        headers["content-location"] = base
    result = feedparser.parse(body, response_headers=headers, sanitize_html=True, resolve_relative_uris=True)
    warning = None
    if result.get("bozo"):
        exc = result.get("bozo_exception")
        warning = f"{type(exc).__name__}: {exc}" if exc else "not well-formed"
    version = result.get("version") or ""
    if not version and not result.get("entries"):
        raise BadFeed("not a feed: no RSS, Atom or JSON Feed structure found" + (f" ({warning})" if warning else ""))
    feed_link = _text(result.get("feed", {}).get("link"))
    entries = []
    for e in result.get("entries") or []:
        entries.append(FeedEntry(
            guid=_text(e.get("id")),
            link=normalise_link(_text(e.get("link")), base or feed_link),
            title=_text(e.get("title")),
            content_html=_entry_content(e),
            published=_iso(e.get("published_parsed") or e.get("updated_parsed")),
        ))
    return version or "unknown", _text(result.get("feed", {}).get("title")), entries, warning


def _from_json_feed(body: bytes, base: str | None) -> tuple[str, str | None, list[FeedEntry], str | None]:
    """JSON Feed 1.0/1.1 (jsonfeed.org). Mapped by hand: feedparser 6.0, the release on PyPI,
    has no JSON Feed parser (its development branch has one)."""
    try:
        doc = json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadFeed(f"not a feed: invalid JSON ({exc})") from exc
    if not isinstance(doc, dict) or "jsonfeed.org/version/" not in str(doc.get("version", "")) \
            or not isinstance(doc.get("items"), list):
        raise BadFeed("not a feed: JSON without a jsonfeed.org version and an items list")
    version = "json11" if str(doc["version"]).rstrip("/").endswith("1.1") else "json1"
    home = _text(doc.get("home_page_url")) or base
    entries = []
    for item in doc["items"]:
        if not isinstance(item, dict):
            continue
        content = _text(item.get("content_html"))
        if content is None and _text(item.get("content_text")):
            content = "".join(f"<p>{html.escape(p)}</p>" for p in str(item["content_text"]).split("\n\n"))
        content = content or _text(item.get("summary"))
        published = _text(item.get("date_published")) or _text(item.get("date_modified"))
        entries.append(FeedEntry(
            guid=_text(str(item["id"])) if item.get("id") is not None else None,
            link=normalise_link(_text(item.get("url")) or _text(item.get("external_url")), home),
            title=_text(item.get("title")),
            content_html=content,
            published=published,
        ))
    return version, _text(doc.get("title")), entries, None


def parse_feed(body: bytes, *, url: str | None = None, content_type: str | None = None,
               max_entries: int = 500) -> ParsedFeed:
    """Parse a feed body. Raises BadFeed (with the reason) when it is not a feed at all; a
    feed that is merely ill-formed but yields entries parses, with ``warning`` set."""
    if not body.strip():
        raise BadFeed("the feed body is empty")
    head = body.lstrip()[:1]
    if head in (b"{", b"[") or "json" in (content_type or "").lower():
        version, title, entries, warning = _from_json_feed(body, url)
    else:
        version, title, entries, warning = _from_feedparser(body, content_type, url)
    return ParsedFeed(version, title, entries[:max_entries], warning, truncated=max(0, len(entries) - max_entries))


def entry_document(entry: FeedEntry) -> bytes:
    """An HTML page made of an entry's own content, for the extract stage (trafilatura reads
    the title, canonical link and date from the head as it does on a real page)."""
    title = html.escape(entry.title or "")
    head = [f"<title>{title}</title>"]
    if entry.link:
        head.append(f'<link rel="canonical" href="{html.escape(entry.link)}">')
    if entry.published:
        head.append(f'<meta property="article:published_time" content="{html.escape(entry.published)}">')
    return (f"<!DOCTYPE html><html><head><meta charset=\"utf-8\">{''.join(head)}</head><body><article>"
            f"<h1>{title}</h1>{entry.content_html or ''}</article></body></html>").encode("utf-8", "replace")


# -- the network edge --------------------------------------------------------------------


@dataclass(frozen=True)
class PollResult:
    not_modified: bool
    feed: ParsedFeed | None
    etag: str | None
    last_modified: str | None
    url: str  # after redirects
    body_digest: str | None = None


def poll_feed(fetcher: "Fetcher", url: str, *, etag: str | None = None, last_modified: str | None = None,
              max_entries: int = 500) -> PollResult:
    """Conditional GET of a feed through ``fetcher`` (``pages.PageFetcher``: politeness and the
    SSRF guard around ``http.fetch``), then parse it. A 304 gives ``not_modified`` and no feed."""
    result = fetcher.fetch(url, kind="feed", etag=etag, last_modified=last_modified)
    if result.not_modified:
        return PollResult(True, None, result.etag or etag, result.last_modified or last_modified, result.url)
    feed = parse_feed(result.body, url=result.url, content_type=result.content_type, max_entries=max_entries)
    return PollResult(False, feed, result.etag, result.last_modified, result.url,
                      hashlib.blake2b(result.body, digest_size=12).hexdigest())


class Fetcher(Protocol):
    def fetch(self, url: str, *, kind: str = "page", etag: str | None = None,
              last_modified: str | None = None) -> "FetchResult": ...
