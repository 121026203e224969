"""Extract stage: raw bytes -> ExtractedArticle (clean text and metadata), or a PermanentError."""

from __future__ import annotations

import py3langid

from worker.errors import NoContent
from worker.extract.decode import decode_body
from worker.extract.html import extract_html, looks_like_html
from worker.extract.model import ExtractedArticle
from worker.extract.text import clean_scrape

__all__ = ["ExtractedArticle", "extract_document", "decode_body"]


def extract_document(
    raw: bytes,
    *,
    uri: str,
    url: str | None = None,
    content_type: str | None = None,
    max_bytes: int,
    min_words: int,
) -> ExtractedArticle:
    """Decode and extract one input. HTML goes to trafilatura, anything else to the scrape cleaner."""
    charset = None
    if content_type and "charset=" in content_type:
        charset = content_type.split("charset=", 1)[1].split(";")[0].strip(" \"'")
    text = decode_body(raw, max_bytes=max_bytes, declared_charset=charset)
    is_html = (content_type or "").startswith(("text/html", "application/xhtml")) or (
        not uri.lower().endswith(".txt") and looks_like_html(text)
    )
    if is_html:
        article = extract_html(text, url=url)
        if article is None:
            raise NoContent("trafilatura found no article text in this HTML page")
    else:
        article = clean_scrape(text)
        if url and not article.url:
            article = ExtractedArticle(**{**article.__dict__, "url": url})
    if article.word_count < min_words:
        raise NoContent(
            f"only {article.word_count} words of article text (minimum {min_words}, STORYLINE_LIMITS__MIN_WORDS)"
        )
    if not article.language:
        lang, _ = py3langid.classify(article.text[:3000])
        article = ExtractedArticle(**{**article.__dict__, "language": lang})
    return article
