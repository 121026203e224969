"""HTML pages -> clean article text and metadata: trafilatura (with its htmldate and courlan),
checked against readability-lxml as a second opinion (see ``second_opinion``)."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Sequence
from urllib.parse import urlsplit

import lxml.html
import readability.cleaners
import trafilatura
from courlan import normalize_url
from lxml.etree import ParserError
from readability import Document
from trafilatura.settings import use_config

from worker.extract.model import ExtractedArticle
from worker.extract.second_opinion import choose_body, drop_chrome_lines
from worker.extract.text import is_person_name

# Built once: trafilatura's default config reads a file each time it is built.
_CONFIG = use_config()
# A timeout of 0 disables trafilatura's signal-based extraction timeout, which cannot run
# outside the main thread (Celery's thread pools); the task layer enforces time limits.
_CONFIG.set("DEFAULT", "EXTRACTION_TIMEOUT", "0")
# readability cleans every page with one shared lxml Cleaner whose ``javascript`` option rewrites
# every link of the page to blank ``javascript:`` URLs (and drops on* handlers): a third of
# readability's time (21.7 -> 14.3 ms a page on the extraction benchmark) for markup that never
# reaches the text. The text is the same without it (all 181 benchmark pages compared). There is
# no parameter for this, so the one flag is set on readability's cleaner; nothing else in the
# worker uses readability.
readability.cleaners.html_cleaner.javascript = False

_HTML_SNIFF = re.compile(rb"<(?:!doctype\s+html|html|head|body|article|div|p|meta)[\s>/]", re.IGNORECASE)

#: elements that start a new paragraph when readability's HTML is turned into text
_BLOCK_TAGS = frozenset(
    "p div h1 h2 h3 h4 h5 h6 li ul ol blockquote pre table tr td th dl dt dd figure figcaption "
    "section article header footer aside main br hr".split()
)


def looks_like_html(raw_head: str | bytes) -> bool:
    """Sniff the first kilobytes: is this an HTML document rather than a plain-text scrape?"""
    head = raw_head[:4096]
    if isinstance(head, str):
        head = head.encode("utf-8", "replace")
    return bool(_HTML_SNIFF.search(head))


def _readability_paragraphs(html: str | lxml.html.HtmlElement) -> list[str]:
    """readability-lxml's article, as paragraphs (one per block element). Empty when
    readability finds nothing or cannot parse the page: it is only a second opinion.
    ``html`` may be the page already parsed: readability cleans a deep copy of it."""
    try:
        summary = Document(html).summary(html_partial=True)
        tree = lxml.html.fromstring(summary)
        for el in tree.iter():
            # whitespace inside a paragraph is layout, not structure: fold it before marking blocks
            el.text = re.sub(r"\s+", " ", el.text) if el.text else el.text
            el.tail = re.sub(r"\s+", " ", el.tail) if el.tail else el.tail
            if isinstance(el.tag, str) and el.tag.lower() in _BLOCK_TAGS:
                el.text = "\n" + (el.text or "")
                el.tail = "\n" + (el.tail or "")
    except (ParserError, ValueError, TypeError, lxml.etree.LxmlError):
        # ValueError also when a text node holds control characters lxml refuses to set back
        # (seen on a trafilatura-eval page)
        return []
    return [ln.strip() for ln in tree.text_content().split("\n") if ln.strip()]


def _normalise_url(url: str | None) -> str | None:
    """Canonical form (courlan: lower-cased host, tracking parameters such as utm_* dropped,
    query sorted), without the fragment, which never names another article."""
    if not url:
        return None
    try:
        url = normalize_url(url)
    except ValueError:
        pass
    return urlsplit(url)._replace(fragment="").geturl()


def extract_html(
    html: str,
    *,
    url: str | None = None,
    learned_chrome: Callable[[Sequence[str]], Collection[str]] | None = None,
    second_opinion: bool = True,
) -> ExtractedArticle | None:
    """Main text and metadata of an HTML page, or None when neither extractor finds an article.

    trafilatura runs without its internal fallbacks (``fast``): readability-lxml is asked
    for a second opinion here instead, and ``choose_body`` keeps readability's text only when
    the comparison shows trafilatura's is bloated or truncated. The publication date comes
    from htmldate through trafilatura, from the page's metadata and markup, never from a date
    merely mentioned in the body (extensive search off). ``learned_chrome``, when given, names
    the body paragraphs that recur across the site's pages (chrome.py); they are dropped.
    ``second_opinion=False`` skips readability (about 40% of the cost of a page, see the README).

    The page is parsed once, by trafilatura's loader: trafilatura works on a copy of the tree
    and readability on a cleaned deep copy, so both see the same untouched parse.
    """
    tree = trafilatura.load_html(html)
    source = tree if tree is not None else html
    doc = trafilatura.bare_extraction(
        source,
        url=url,
        fast=True,
        with_metadata=True,
        include_comments=False,
        include_tables=True,
        deduplicate=False,
        date_extraction_params={"extensive_search": False, "original_date": True},
        config=_CONFIG,
    )
    main_text = "\n".join(p.strip() for p in ((doc.text if doc else None) or "").split("\n") if p.strip())
    second = "\n".join(_readability_paragraphs(source)) if second_opinion else None
    choice = choose_body(main_text, second)
    title = (doc.title if doc else None) or None
    paragraphs = drop_chrome_lines(choice.text.split("\n"), title=title)
    if learned_chrome and paragraphs:
        learned = set(learned_chrome(paragraphs))
        paragraphs = [p for p in paragraphs if p not in learned]
    if not paragraphs:
        return None
    authors = [a.strip() for a in re.split(r";|,(?![^()]*\))", (doc.author if doc else None) or "")
               if is_person_name(a.strip())]
    return ExtractedArticle(
        text="\n\n".join(paragraphs),
        title=title,
        authors=authors,
        published=(doc.date if doc else None) or None,
        site=((doc.sitename or doc.hostname) if doc else None) or None,
        language=(doc.language if doc else None) or None,
        url=_normalise_url((doc.url if doc else None) or url),
        body_source=choice.reason,
    )
