"""HTML pages -> clean article text and metadata: trafilatura (with its htmldate and courlan),
with readability-lxml asked where trafilatura's body is short (see ``extract_html``)."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Sequence
from itertools import islice
from urllib.parse import urlsplit

import lxml.html
import readability.cleaners
import readability.readability
import trafilatura
import trafilatura.metadata
from courlan import normalize_url
from lxml.etree import ParserError
from readability import Document
from trafilatura.settings import Document as TrafilaturaDocument
from trafilatura.settings import use_config

from worker.extract.author import extract_author
from worker.extract.model import ExtractedArticle
from worker.extract.second_opinion import CONTAINED, TRUNCATED_RATIO, containment, drop_chrome_lines
from worker.extract.text import is_person_name
from worker.words import has_more_units, iter_units, word_count

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
# readability formats a description of an element for each of its debug log lines whether or not
# debug logging is on (``"..." % describe(elem)``): ~5% of its time, for text only a debug log
# shows. The formatted description is all the function is used for (readability.py: every call is
# inside a log.debug argument), so it is replaced by a constant.
readability.readability.describe = lambda node, depth=1: "<element>"

# trafilatura's metadata pass also searches every page for categories, tags and a licence,
# which no Storyline event carries: ~7% of the extract stage (cProfile, 80 trafilatura-eval
# pages), the margin between this stage and trafilatura's own cost. trafilatura has no option
# to skip them, so the two module functions are replaced by no-ops (the fields stay empty);
# nothing else in the worker reads them.
trafilatura.metadata.extract_catstags = lambda *args, **kwargs: []
trafilatura.metadata.extract_license = lambda *args, **kwargs: None
# trafilatura's search for a byline in the markup deep-copies the page and runs regex XPaths
# over every element: a sixth of the stage. author.py gives the same answer in one cheap pass
# (tests/extract/test_author.py compares the two on every CI sample page).
trafilatura.metadata.extract_author = extract_author

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


_WHITESPACE = re.compile(r"\s+")
#: whitespace that folding would change: a run of two or more, or any but a plain space
_FOLDABLE = re.compile(r"\s\s|[^\S ]")
#: C0 control characters that XML (and so lxml, when readability moves a text node) refuses:
#: a page with one made readability fail ("All strings must be XML compatible") and log the
#: traceback at ERROR for what is only a missing second opinion (3 of the 990 trafilatura-eval
#: pages hold one; none of the other two sets). Dropped before readability sees the page: they
#: are never text a reader sees
_XML_REFUSED = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _readability_paragraphs(html: str | lxml.html.HtmlElement) -> list[str]:
    """readability-lxml's article, as paragraphs (one per block element). Empty when
    readability finds nothing or cannot parse the page: it is only a second opinion.
    ``html`` may be the page already parsed: readability cleans a deep copy of it."""
    if isinstance(html, str) and _XML_REFUSED.search(html):
        html = _XML_REFUSED.sub("", html)
    try:
        summary = Document(html).summary(html_partial=True)
        tree = lxml.html.fromstring(summary)
        for el in tree.iter():
            # whitespace inside a paragraph is layout, not structure: fold it before marking
            # blocks (a text node is rewritten only when it has whitespace to fold: setting
            # every node's text and tail was a sixth of this function's time)
            text, tail = el.text, el.tail
            if text and _FOLDABLE.search(text):
                el.text = text = _WHITESPACE.sub(" ", text)
            if tail and _FOLDABLE.search(tail):
                el.tail = tail = _WHITESPACE.sub(" ", tail)
            if isinstance(el.tag, str) and el.tag.lower() in _BLOCK_TAGS:
                el.text = "\n" + (text or "")
                el.tail = "\n" + (tail or "")
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


#: trafilatura bodies under this many words (worker/words.py units) are checked against
#: readability-lxml, whose longer text is kept (see ``extract_html``). Chosen by
#: leave-one-set-out cross-validation over the three development sets (bench/extraction_cv.py;
#: README, "Extraction quality and cost").
SHORT_BODY_WORDS = 100

#: a <p> of the page counts towards the truncation gate (``_long_paragraphs_reach``) when it
#: holds more than this many words (worker/words.py units): a paragraph of prose, not a
#: caption, a button or a footer line. It only decides where readability is asked (cost): from
#: 0 to 50 the rule fires on the same pages of all three development sets (same F1) while
#: readability is asked on 14-15% of the pages at 0 and 4-5% at 50; at 80 one page of the
#: benchmark is lost (bench/extraction_truncated.py). 50 is the longest that keeps them all.
LONG_PARAGRAPH_WORDS = 50

#: a body line of at most ``LIST_LINE_WORDS`` words (worker/words.py units) and
#: ``LIST_LINE_CHARS`` non-space characters is a list item: a menu entry, a link, a tag
LIST_LINE_WORDS = 4
LIST_LINE_CHARS = 80
#: share of a trafilatura body's characters in list-item lines at or over which the body is
#: taken for a list (a site's menu, a block of links) rather than an article: trafilatura's
#: fast path, without its fallbacks, sometimes returns the page's navigation. readability is
#: asked then, and its text kept when it is not a list itself (body_source "readability:list").
#: "Most of the body" (0.5) is the definition, not a fitted value: on the three development
#: sets every value from 0.5 to 0.6 fires on the same pages (1 of 181, 2 of 990, 0 of 130),
#: each a gain, none lost; 0.3 and 0.4 fire on a few more and lose one (bench/extraction.py;
#: README, "Extraction quality and cost")
LIST_BODY_SHARE = 0.5

_P_START = re.compile(r"<p[\s>]", re.IGNORECASE)
_P_END = re.compile(r"</p\s*>|<p[\s>]|</(?:div|td|li|article|section|body)\s*>", re.IGNORECASE)
_TAG = re.compile(r"<[^>]*>")


def _solid(text: str) -> int:
    """Characters that are not white space: a length that means the same in every script."""
    return len(text) - sum(text.count(c) for c in " \n\t\r\xa0")


def is_list(text: str) -> bool:
    """Whether at least ``LIST_BODY_SHARE`` of the text's non-space characters are in list-item
    lines (``LIST_LINE_WORDS``). Words are counted only in lines short enough to be one, only
    when those lines could make the share at all, and no further than the share is reached."""
    total = _solid(text)
    if not total:
        return False
    need = LIST_BODY_SHARE * total
    # a line over twice the limit in length is taken for prose without counting its characters
    # (to be under the limit it would need more white space than anything else)
    short_lines = [(ln, n) for ln in text.split("\n")
                   if len(ln) <= 2 * LIST_LINE_CHARS and 0 < (n := _solid(ln)) <= LIST_LINE_CHARS]
    if sum(n for _, n in short_lines) < need:
        return False
    short = 0
    for ln, n in short_lines:
        if not has_more_units(ln, LIST_LINE_WORDS):
            short += n
            if short >= need:
                return True
    return False


def _long_paragraphs_reach(html: str, target: float) -> bool:
    """Whether the page's long <p> elements hold ``target`` non-space characters: a string
    scan of the markup, no parse (a parse of the page costs more than the check saves).
    Paragraphs are cut at the next block boundary, so an unclosed <p> is not read to the end
    of the page. Words are counted only when the paragraphs' characters could reach the
    target (a unit is at least one character): on most pages they cannot, and the count is
    the costly part."""
    spans: list[tuple[str, int]] = []
    total, pos = 0, 0
    while (m := _P_START.search(html, pos)) is not None:
        end = _P_END.search(html, m.end())
        pos = end.start() if end else len(html)
        if pos - m.end() <= LONG_PARAGRAPH_WORDS:
            continue  # too short to hold that many words, whatever the script
        span = html[m.end() : pos]
        span = _TAG.sub("", span) if "<" in span else span
        if (solid := _solid(span)) > LONG_PARAGRAPH_WORDS:
            spans.append((span, solid))
            total += solid
    if total < target:
        return False
    total = 0
    for span, solid in spans:
        if has_more_units(span, LONG_PARAGRAPH_WORDS):
            total += solid
            if total >= target:
                return True
    return False


def extract_html(
    html: str,
    *,
    url: str | None = None,
    learned_chrome: Callable[[Sequence[str]], Collection[str]] | None = None,
    second_opinion: bool = True,
) -> ExtractedArticle | None:
    """Main text and metadata of an HTML page, or None when neither extractor finds an article.

    One trafilatura pass without its internal fallbacks (``fast``), with its metadata. Where
    that body is short (under ``SHORT_BODY_WORDS``), readability-lxml is asked too and its
    text kept when it is longer (body_source "readability:short"): a short trafilatura body
    is where trafilatura most often stopped at a teaser, a fact box or the first block of a
    split article. Running readability only there keeps the stage at trafilatura's own cost
    (readability on every page cost 1.9x), and it is the combination that won on all three
    development sets (bench/extraction_cv.py): fast+this fallback beat trafilatura's default
    path (whose own fallbacks run on every page) on each set, at about half its cost.
    Where the body is longer but the page's long paragraphs hold over twice its text,
    readability is asked whether trafilatura stopped early (body_source
    "readability:truncated", see ``_long_paragraphs_reach``). Where most of the body is
    one-line list items (a menu: ``LIST_BODY_SHARE``), readability's text is kept unless it is
    a list too (body_source "readability:list").
    ``second_opinion=False`` skips readability entirely.

    The publication date comes from htmldate through trafilatura, from the page's metadata
    and markup, never from a date merely mentioned in the body (extensive search off).
    ``learned_chrome``, when given, names the body paragraphs that recur across the site's
    pages (chrome.py); they are dropped. readability parses the page again, on the few pages where it is asked (handing trafilatura
    a tree parsed beforehand makes it deep-copy that tree: more than a re-parse costs on the
    rare pages that need one).
    """
    extracted = trafilatura.bare_extraction(
        html,
        url=url,
        fast=True,
        with_metadata=True,
        include_comments=False,
        include_tables=True,
        deduplicate=False,
        date_extraction_params={"extensive_search": False, "original_date": True},
        config=_CONFIG,
    )
    doc = extracted if isinstance(extracted, TrafilaturaDocument) else None  # a dict only with as_dict=True
    text = "\n".join(p.strip() for p in ((doc.text if doc else None) or "").split("\n") if p.strip())
    body_source = "trafilatura"
    if second_opinion:
        # counted only up to the threshold: most bodies are longer, and a full count costs
        # ~0.5 ms on a long article
        n_words = sum(1 for _ in islice(iter_units(text), SHORT_BODY_WORDS))
        if n_words < SHORT_BODY_WORDS:
            other = "\n".join(_readability_paragraphs(html))
            if word_count(other) > n_words:
                text, body_source = other, "readability:short"
        elif is_list(text):
            # trafilatura's body is mostly one-line items: the page's menu or link lists, not
            # its article (``LIST_BODY_SHARE``); readability's, unless that is a list too
            other = "\n".join(_readability_paragraphs(html))
            if other.strip() and not is_list(other):
                text, body_source = other, "readability:list"
        elif _long_paragraphs_reach(html, TRUNCATED_RATIO * _solid(text)):
            # trafilatura stopped early (at a page break in the markup, an inline box): the
            # page's prose paragraphs hold over twice its body. readability is asked, and its
            # text kept when it is over twice as long and contains trafilatura's (the
            # "truncated" rule of second_opinion.py). It gained on all three development sets
            # (bench/extraction_truncated.py); the gate asks readability on 4-5% of pages.
            other = "\n".join(_readability_paragraphs(html))
            if (word_count(other) >= TRUNCATED_RATIO * word_count(text)
                    and containment(text, other) >= CONTAINED):
                text, body_source = other, "readability:truncated"
    title = (doc.title if doc else None) or None
    # the headline repeated at the top of the body goes (the event carries it as the title);
    # the teaser-line rule does not run here: cross-validated it lost on readability-pages
    # (bench/extraction_cv.py), and a rule that loses on any set is not kept
    paragraphs = drop_chrome_lines(text.split("\n"), title=title, teasers=False)
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
        body_source=body_source,
    )
