"""HTML pages -> clean article text and metadata, with trafilatura (and its htmldate, courlan)."""

from __future__ import annotations

import re

import trafilatura
from courlan import normalize_url
from trafilatura.settings import use_config

from worker.extract.model import ExtractedArticle

# Built once: trafilatura's default config reads a file each time it is built.
_CONFIG = use_config()
# A timeout of 0 disables trafilatura's signal-based extraction timeout, which cannot run
# outside the main thread (Celery's thread pools); the task layer enforces time limits.
_CONFIG.set("DEFAULT", "EXTRACTION_TIMEOUT", "0")

_HTML_SNIFF = re.compile(rb"<(?:!doctype\s+html|html|head|body|article|div|p|meta)[\s>/]", re.IGNORECASE)


def looks_like_html(raw_head: str | bytes) -> bool:
    """Sniff the first kilobytes: is this an HTML document rather than a plain-text scrape?"""
    head = raw_head[:4096]
    if isinstance(head, str):
        head = head.encode("utf-8", "replace")
    return bool(_HTML_SNIFF.search(head))


def extract_html(html: str, *, url: str | None = None) -> ExtractedArticle | None:
    """Main text and metadata of an HTML page, or None when trafilatura finds no article.

    The publication date comes from htmldate through trafilatura: from the page's metadata
    and markup, never from a date merely mentioned in the body (extensive search off).
    """
    doc = trafilatura.bare_extraction(
        html,
        url=url,
        with_metadata=True,
        include_comments=False,
        include_tables=True,
        favor_recall=True,
        deduplicate=False,
        date_extraction_params={"extensive_search": False, "original_date": True},
        config=_CONFIG,
    )
    if doc is None or not (doc.text or "").strip():
        return None
    canonical = doc.url or url
    if canonical:
        try:
            canonical = normalize_url(canonical)
        except ValueError:
            pass
    authors = [a.strip() for a in re.split(r";|,(?![^()]*\))", doc.author or "") if a.strip()]
    text = "\n\n".join(p.strip() for p in doc.text.split("\n") if p.strip())
    return ExtractedArticle(
        text=text,
        title=(doc.title or None),
        authors=authors,
        published=doc.date or None,
        site=doc.sitename or doc.hostname or None,
        language=doc.language or None,
        url=canonical or None,
    )
