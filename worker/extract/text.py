"""Plain-text scrapes -> headline, authors and clean body, with the site chrome removed.

A scrape is the visible text of a page: header lines (today's date, "Top 5 This Week"),
a breadcrumb, the headline, a byline, share counters, the body, then footer chrome
("Related Posts", "Discover more from ...", "Subscribe ...", an author box, a comment form).
trafilatura works on HTML trees and has nothing to hold on to here, and no maintained
library cleans plain-text page scrapes, so this module is written by hand. It is pure.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from worker.extract.model import ExtractedArticle

_WEEKDAY = r"(?:mon|tues|wednes|thurs|fri|satur|sun)day"
_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
#: a line that is only a date: "Wednesday, June 25, 2025", "25 June 2025", "2025-06-25"
_DATE_LINE = re.compile(
    rf"^(?:{_WEEKDAY},?\s+)?(?:{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}|\d{{1,2}}\s+{_MONTH},?\s+\d{{4}}|\d{{4}}-\d{{2}}-\d{{2}})"
    r"(?:\s*[|,-]?\s*\d{1,2}:\d{2}(?:\s*[ap]\.?m\.?)?(?:\s*[A-Z]{2,4})?)?$",
    re.IGNORECASE,
)

#: lines that are chrome wherever they stand (navigation, widgets, share bars, forms)
_CHROME_LINE = re.compile(
    r"^(?:"
    r"top \d+ this week|related posts?|related articles?|related stories|popular articles|popular posts|"
    r"most (?:read|popular|viewed)|trending(?: now)?|recommended(?: for you)?|read more|read next|"
    r"you (?:may|might) also like|more from .{0,60}|more stories|latest (?:news|posts|articles)|"
    r"see also:?.*|also read:?.*|read also:?.*|advertisement|sponsored(?: content)?|"
    r"share(?: this(?: article| post)?)?:?|tweet|pin it|email|print|whatsapp|facebook|twitter|linkedin|"
    r"(?:\d+\s*)?(?:shares?|comments?|views?)|"
    r"leave a (?:reply|comment)|please enter your (?:comment|name|email).*|"
    r"your email address will not be published.*|required fields are marked.*|"
    r"save my name, email.*|post comment|submit comment|cancel reply|"
    r"discover more from .*|subscribe(?: now| to .{0,80})?\.?|sign up(?: for .{0,60})?\.?|"
    r"type your email.*|continue reading|follow us(?: on .{0,40})?|"
    r"tags?:.*|filed under:?.*|categories?:.*|posted in .{0,60}|"
    r"home|menu|search|skip to (?:main )?content|log ?in|sign in|register|"
    r"previous (?:article|post)|next (?:article|post)|"
    r"[\d\s.,kK]+"  # share counters and stray numbers: "0", "1", "1.2K"
    r")$",
    re.IGNORECASE,
)

#: lines after which nothing belongs to the article (footer widgets and forms)
_END_MARKER = re.compile(
    r"^(?:related posts?|related articles?|related stories|discover more from .*|"
    r"subscribe to get the latest.*|leave a (?:reply|comment)|popular articles|popular posts|"
    r"you (?:may|might) also like|more from .{0,60}|more stories|read next|recommended(?: for you)?|"
    r"comments?(?: \(\d+\))?|about the author|share this(?: article| post)?:?)$",
    re.IGNORECASE,
)

_BYLINE = re.compile(r"^(?:by|written by|words by|reporting by)[:\s]+(.{2,120}?)\.?$", re.IGNORECASE)
_NAME = re.compile(r"^(?:[A-Z][\w'’.-]+)(?:\s+[A-Z][\w'’.-]+){0,3}$")
_URL_TAIL = re.compile(r"https?://\S+$")
_SENTENCE_END = re.compile(r"[.!?…:;]['’”\")]*$")
_AUTHOR_BLACKLIST = {"editor", "admin", "staff", "desk", "news desk", "web desk", "the editor", "team"}


def _is_chrome(line: str) -> bool:
    return bool(_CHROME_LINE.match(line) or _DATE_LINE.match(line))


def _looks_like_headline(line: str) -> bool:
    """A headline: 3-30 words, no sentence-final full stop, not chrome, starts with a capital."""
    words = line.split()
    if not 3 <= len(words) <= 30 or _is_chrome(line):
        return False
    if line.endswith(".") and not line.endswith("..."):
        return False  # captions and body sentences end with a full stop; headlines rarely do
    return line[0].isupper() or line[0].isdigit() or line[0] in "‘“'\""


def scrape_lines(text: str) -> list[str]:
    """Non-empty lines, stripped, with runs of whitespace folded (as the cleaner sees them)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u00a0", " ")
    return [re.sub(r"[ \t]+", " ", ln).strip() for ln in text.split("\n") if ln.strip()]


def _find_headline(lines: Sequence[str], extra_chrome: frozenset[str]) -> int | None:
    """Index of the headline: the first headline-like line followed by a body paragraph."""
    for i, line in enumerate(lines[:40]):
        if line in extra_chrome or not _looks_like_headline(line):
            continue
        following = [ln for ln in lines[i + 1 : i + 6] if not _is_chrome(ln) and ln not in extra_chrome]
        # breadcrumb "Home Globe <headline>": the real headline is the next line, a suffix of this one
        if following and len(following[0]) < len(line) and line.endswith(following[0]) and _looks_like_headline(following[0]):
            continue
        if any(len(ln.split()) >= 25 for ln in following):
            return i
    return None


def _author_from_box(lines: Sequence[str]) -> tuple[str | None, int | None]:
    """An author box: a name line, then the same name again (often with a URL), then a bio
    starting with the name. Returns the name and the index where the box starts."""
    for i in range(len(lines) - 1):
        name = lines[i]
        if not _NAME.match(name) or len(name.split()) < 2:
            continue
        nxt = _URL_TAIL.sub("", lines[i + 1]).strip()
        if nxt == name or (i + 2 < len(lines) and lines[i + 1].startswith(name) and lines[i + 2].startswith(name)):
            return name, i
    return None, None


def _split_authors(raw: str) -> list[str]:
    raw = re.split(r"\s+[|–—-]\s+|,\s*(?=\d)|\s+on\s+(?=[A-Z][a-z]+ \d)", raw)[0]
    names = [n.strip(" .") for n in re.split(r",\s*|\s+and\s+|\s*&\s*", raw) if n.strip(" .")]
    return [n for n in names if n.lower() not in _AUTHOR_BLACKLIST and len(n.split()) <= 5]


def clean_scrape(text: str, *, extra_chrome: Iterable[str] = ()) -> ExtractedArticle:
    """Clean a plain-text page scrape. ``extra_chrome`` holds lines known to be chrome for
    this site (learned from the stream); they are dropped wherever they stand."""
    chrome = frozenset(extra_chrome)
    lines = scrape_lines(text)
    head = _find_headline(lines, chrome)
    title = lines[head] if head is not None else None
    start = head + 1 if head is not None else 0

    authors: list[str] = []
    # byline directly under the headline
    for j in range(start, min(start + 3, len(lines))):
        m = _BYLINE.match(lines[j])
        if m:
            authors = _split_authors(m.group(1))
            start = j + 1
            break

    body_lines = lines[start:]
    end = next((k for k, ln in enumerate(body_lines) if _END_MARKER.match(ln)), len(body_lines))
    tail = body_lines[end:]
    body_lines = body_lines[:end]

    box_name, _ = _author_from_box(tail)
    if box_name and box_name not in authors:
        authors = [a for a in authors if a] + [box_name]

    body = [ln for ln in body_lines if not _is_chrome(ln) and ln not in chrome]
    # a last line that is the start of a footer we did not recognise ("Related" + nothing after)
    while body and len(body[-1].split()) <= 3 and not _SENTENCE_END.search(body[-1]):
        body.pop()
    return ExtractedArticle(text="\n\n".join(body), title=title, authors=authors)
