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
from datetime import date, datetime, timezone

import dateparser

from worker.extract.model import ExtractedArticle
from worker.words import is_unspaced, word_count

_WEEKDAY = r"(?:mon|tues|wednes|thurs|fri|satur|sun)day|(?:mon|tue|wed|thu|fri|sat|sun)\.?"
_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
#: a date: "June 25, 2025", "25 June 2025", "25 Jun 2025", "2025-06-25", "25/06/2025"
_DATE = (
    rf"(?:{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}|\d{{1,2}}(?:st|nd|rd|th)?\s+{_MONTH},?\s+\d{{4}}"
    r"|\d{4}-\d{2}-\d{2}|\d{1,2}[/.]\d{1,2}[/.]\d{4})"
)
#: a time after a date: ", 10:42 BST", "| 9:15 am", "09:15 GMT"
_TIME = r"(?:\s*[|,-]?\s*(?:at\s+)?\d{1,2}[:.]\d{2}(?:\s*[ap]\.?m\.?)?(?:\s*[A-Z]{2,4})?)?"
#: a line that is only a date: "Wednesday, June 25, 2025", "Wed 25 Jun 2025 09:15 GMT"
_DATE_LINE = re.compile(rf"^(?:(?:{_WEEKDAY}),?\s+)?{_DATE}{_TIME}$", re.IGNORECASE)
#: a dateline: "Posted on June 25, 2025 by Jane Doe", "Published: 25/06/2025", "Updated 3 hours ago"
_DATELINE = re.compile(
    rf"^(?:(?:first |last )?(?:posted|published|updated|modified))(?: on)?:?\s+"
    rf"(?:{_DATE}{_TIME}|\d+ (?:minutes?|hours?|days?) ago)(?:\s+by\s+(?P<by>.{{2,120}}?))?\.?$",
    re.IGNORECASE,
)
#: a byline with a dateline after a separator: "Jane Doe · Published 25 June 2025"
_NAME_THEN_DATELINE = re.compile(
    r"^(?P<who>[^·•|]{2,80}?)\s*[·•|]\s*(?:(?:first |last )?(?:posted|published|updated))\b.{0,60}$", re.IGNORECASE
)

#: each cue with the languages of its dates, which dateparser is told: left to guess, it tries
#: every locale it has, ~1 s on a line of unknown words (``dateline_date``)
_CUES = {
    "posted": ("en",), "published": ("en",), "veröffentlicht": ("de",), "erschienen": ("de",),
    "publié": ("fr",), "publicado": ("es", "pt"), "pubblicato": ("it",), "gepubliceerd": ("nl",),
    "opublikowano": ("pl",), "опубликовано": ("ru", "uk"), "yayınlanma": ("tr",), "yayınlandı": ("tr",),
    "نشر": ("ar",), "نُشر": ("ar",), "发布": ("zh",), "發佈": ("zh",), "发表于": ("zh",), "公開": ("ja",),
    "掲載": ("ja",), "게시": ("ko",), "입력": ("ko",), "प्रकाशित": ("hi",),
}
#: a publication dateline under the headline, in the languages of the development sets and
#: others: "Posted on June 25, 2025 by Jane Doe", "Jane Doe · Published 25 June 2025",
#: "Veröffentlicht am 25.06.2025", "Publié le 25 juin 2025", "Publicado el 25 de junio de 2025",
#: "Pubblicato il", "Gepubliceerd op", "Opublikowano", "Опубликовано", "Yayınlanma tarihi",
#: "نشر في", "发布时间：", "公開日：", "게시일", "प्रकाशित". Only the publication's cue: an update
#: ("Updated", "Aktualisiert") dates a later version, and a date alone at the top of a scrape is
#: the site's header date (the day of the scrape), not the article's. Hand-written: htmldate
#: finds dates in HTML markup, and on a bare text line guesses (a year alone becomes 1 January)
_PUBLISHED_CUE = re.compile(
    r"^(?:(?P<who>[^·•|]{2,80}?)\s*[·•|]\s*)?(?:first\s+|originally\s+)?"
    r"(?P<cue>" + "|".join(map(re.escape, _CUES)) + r")(?:\s*tarihi|时间|日期|時間|日|일)?"
    r"(?:\s+(?:on|am|le|el|em|il|op|في|بتاريخ))?\s*[:：]?\s*(?P<date>\S.{4,70}?)\s*$",
    re.IGNORECASE,
)
#: a byline's "by" after a dateline's date, in the cues' languages ("von", "par", "por", ...)
_BY = r"\s+(?:by|von|par|por|di|door|przez|от)\s+"
#: where a dateline's date ends: a byline or a separator
_DATE_END = re.compile(_BY + r"|\s*[|·•]\s*", re.IGNORECASE)
_YEAR = re.compile(r"(?<!\d)(?:19|20)\d\d(?!\d)")
#: a day or a month in figures ("25", "06" of "2025-06-25", "6" of "2025年6月25日")
_DAY = re.compile(r"(?<!\d)\d{1,2}(?!\d)")
#: "03/04/2025": 3 April or March 4, which a line cannot tell
_NUMERIC_DATE = re.compile(r"(?<!\d)(\d{1,2})[/.-](\d{1,2})[/.-](?:19|20)\d\d(?!\d)")
_DATEPARSER_SETTINGS = {"REQUIRE_PARTS": ["day", "month", "year"], "RETURN_AS_TIMEZONE_AWARE": False}


def _dateline_text(line: str) -> tuple[str, tuple[str, ...]] | None:
    """A publication dateline's date as written, with its cue's languages; None when the line is
    none, or its date has no year and day in figures or is longer than a date is (cheap: no
    parsing, so that every body line can be tested)."""
    m = _PUBLISHED_CUE.match(line)
    if not m or word_count(line) > 20:
        return None
    raw = _DATE_END.split(m.group("date"), maxsplit=1)[0].strip(" .,")
    if len(raw) > 40 or len(raw.split()) > 7 or not _YEAR.search(raw) or not _DAY.search(raw):
        return None
    return raw, _CUES[m.group("cue").lower()]


def dateline_date(line: str, today: date | None = None) -> str | None:
    """The publication date a dateline gives ("Posted on June 25, 2025 by Jane Doe" ->
    "2025-06-25"), or None: not a publication dateline, no year written out (a relative date,
    "3 hours ago", is relative to a time the scrape does not carry), a day and month that could
    be either way round, a date after ``today`` (default: today, UTC, as htmldate bounds dates),
    or none dateparser (htmldate's own dependency) can read in the cue's languages or English."""
    found = _dateline_text(line)
    if not found:
        return None
    raw, languages = found
    numeric = _NUMERIC_DATE.search(raw)
    if numeric and int(numeric.group(1)) <= 12 and int(numeric.group(2)) <= 12 and numeric.group(1) != numeric.group(2):
        return None
    parsed = dateparser.parse(raw, languages=[*languages, "en"], settings=_DATEPARSER_SETTINGS)
    if parsed is None or parsed.date() > (today or datetime.now(timezone.utc).date()):
        return None
    return str(parsed.date().isoformat())


#: lines that are chrome wherever they stand (navigation, widgets, share bars, forms)
_CHROME_LINE = re.compile(
    r"^(?:"
    r"top \d+ this week|related posts?|related articles?|related stories|popular articles|popular posts|"
    r"most (?:read|popular|viewed|shared)|trending(?: now)?|recommended(?: for you)?|read more|read next|"
    r"read more:.*|you (?:may|might) also like|more from .{0,60}|more stories|latest (?:news|posts|articles)|"
    r"see also:?.*|also read:?.*|read also:?.*|advertisement|sponsored(?: content)?|"
    r"share(?: this(?: article| post| story)?)?:?|tweet|pin it|email|print|whatsapp|facebook|twitter|linkedin|x|"
    r"telegram|reddit|copy link|"
    r"(?:\d+\s*)?(?:shares?|comments?|views?)|"
    r"leave a (?:reply|comment)|please enter your (?:comment|name|email).*|"
    r"your email address will not be published.*|required fields are marked.*|"
    r"save my name, email.*|post comment|submit comment|cancel reply|comments are closed\.?|"
    r"discover more from .*|subscribe(?: now| to .{0,80})?\.?|sign up(?: (?:for|to) .{0,60})?\.?|"
    r"(?:type|enter) your email.*|continue reading|follow us(?: on .{0,40})?|"
    r"tags?:.*|topics?:.*|filed under:?.*|categories?:.*|posted in .{0,60}|"
    r"home|menu|search|sections|skip to (?:main )?content|log ?in|sign in|register|"
    r"previous (?:article|post)|next (?:article|post)|"
    r"listen to (?:this|the) (?:article|story)|\d+\s*min(?:ute)?s?\s+read|"
    r"(?:breaking|breaking news|live|just in|watch)\s*:.{0,120}|"  # tickers: "BREAKING: ..."
    r"(?:©|\(c\)|copyright\b).{0,120}|.{0,80}all rights reserved\.?|"
    r"[\d\s.,kK]+"  # share counters and stray numbers: "0", "1", "1.2K"
    r")$",
    re.IGNORECASE,
)
#: navigation: "News | Politics | World", "Home / World / Europe", "World › Europe", "Log in | Subscribe"
#: (two or more segments of at most three words each, or any breadcrumb arrow)
_NAV_LINE = re.compile(r"^(?:[^|/›»>]{1,30}\s(?:[|/]\s?|[›»>]\s?)){1,}[^|/›»>]{1,30}$")
_NAV_SEPARATORS = re.compile(r"\s[|/›»>]\s?")

#: lines after which nothing belongs to the article (footer widgets and forms); they end the
#: body only once some of it has been seen, so a sidebar above the article does not cut it
_END_MARKER = re.compile(
    r"^(?:related posts?|related articles?|related stories|discover more from .*|"
    r"subscribe to get the latest.*|leave a (?:reply|comment)|popular articles|popular posts|"
    r"you (?:may|might) also like|more from .{0,60}|more stories|read next|recommended(?: for you)?|"
    r"most (?:read|popular|viewed|shared)|"
    r"comments?(?: \(\d+\))?|about the author|share this(?: article| post)?:?)$",
    re.IGNORECASE,
)

_BYLINE = re.compile(r"^(?:by|written by|words by|reporting by|story by)[:\s]+(.{2,120}?)\.?$", re.IGNORECASE)
_NAME = re.compile(r"^(?:[A-Z][\w'’.-]+)(?:\s+[A-Z][\w'’.-]+){0,3}$")
_URL_TAIL = re.compile(r"https?://\S+$")
_SENTENCE_END = re.compile(r"[.!?…:;]['’”\")]*$")
#: words that make a byline a role or a desk rather than a person ("By Staff Reporter",
#: "Meridian Wire staff", "News Desk", "AFP") -- such bylines name no author
_NOT_A_PERSON = re.compile(
    r"\b(?:editor|editors|admin|staff|desk|newsdesk|team|reporter|reporters|correspondent|correspondents|"
    r"agencies|agency|wires?|newsroom|contributor|contributors)\b",
    re.IGNORECASE,
)
#: fewest words of a line taken as a body paragraph when looking for where the article starts
_BODY_WORDS = 25


def _is_nav(line: str) -> bool:
    """Navigation: separated segments of one to three words each ("Home / World / Europe")."""
    if not _NAV_LINE.match(line):
        return False
    segments = [seg.strip() for seg in _NAV_SEPARATORS.split(line)]
    return len(segments) >= 2 and all(0 < word_count(seg) <= 3 for seg in segments)


def _is_dateline(line: str) -> bool:
    return bool(_DATELINE.match(line) or (_NAME_THEN_DATELINE.match(line) and word_count(line) <= 20)
                or _dateline_text(line))


def _is_chrome(line: str) -> bool:
    return bool(_CHROME_LINE.match(line) or _DATE_LINE.match(line) or _is_nav(line))


def _is_byline(line: str) -> bool:
    return bool(_BYLINE.match(line)) or _is_dateline(line)


def _looks_like_headline(line: str) -> bool:
    """A headline: 3-30 words, no sentence-final full stop, not chrome, starts with a capital."""
    if not 3 <= word_count(line) <= 30 or _is_chrome(line) or _is_byline(line):
        return False
    if line.endswith(".") and not line.endswith("..."):
        return False  # captions and body sentences end with a full stop; headlines rarely do
    return line[0].isupper() or line[0].isdigit() or line[0] in "‘“'\""


def scrape_lines(text: str) -> list[str]:
    """Non-empty lines, stripped, with runs of whitespace folded (as the cleaner sees them): any
    Unicode white space within a line (em and ideographic spaces, NEL) becomes one space."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return [" ".join(words) for words in (ln.split() for ln in text.split("\n")) if words]


def _find_headline(lines: Sequence[str], extra_chrome: frozenset[str]) -> int | None:
    """Index of the headline, found from the body backwards: the first body paragraph (a line
    of 25+ words) is the anchor; the headline is the nearest headline-like line above the
    byline block if there is one (a byline sits right under its headline, while widgets such
    as "Listen to this article" sit between the byline and the body), else the nearest one
    above the body. Tickers, breadcrumbs and site names above it are passed over."""
    body = next(
        (i for i, ln in enumerate(lines[:80]) if word_count(ln) >= _BODY_WORDS and ln not in extra_chrome and not _is_chrome(ln)),
        None,
    )
    if body is None:
        return None
    byline = next((i for i in range(body - 1, -1, -1) if _is_byline(lines[i])), None)
    top = byline if byline is not None and body - byline <= 8 else body
    for i in range(top - 1, -1, -1):
        if lines[i] not in extra_chrome and _looks_like_headline(lines[i]):
            return i
    return None


def _author_from_box(lines: Sequence[str]) -> tuple[str | None, int | None]:
    """An author box: a name line, then the same name again (often with a URL), then a bio
    starting with the name. Returns the name and the index where the box starts."""
    for i in range(len(lines) - 1):
        name = lines[i]
        if not _NAME.match(name) or word_count(name) < 2:
            continue
        nxt = _URL_TAIL.sub("", lines[i + 1]).strip()
        if nxt == name or (i + 2 < len(lines) and lines[i + 1].startswith(name) and lines[i + 2].startswith(name)):
            return name, i
    return None, None


def _split_authors(raw: str) -> list[str]:
    """Person names in a byline: "Jane Doe and John Roe | 25 June 2025" -> both names."""
    raw = re.split(r"\s+[|–—·•-]\s+|\s*[·•|]\s*|,\s*(?=\d)|\s+on\s+(?=[A-Z][a-z]+ \d)|\s+(?:published|updated)\b", raw)[0]
    names = [n.strip(" .") for n in re.split(r",\s*|\s+and\s+|\s*&\s*", raw) if n.strip(" .")]
    return [n for n in names if is_person_name(n) and n[:1].isupper()]


def _cue_authors(line: str) -> list[str]:
    """The names before or after a dateline's date ("Jane Doe · Veröffentlicht am ...",
    "... 25 June 2025 by Jane Doe")."""
    m = _PUBLISHED_CUE.match(line)
    if not m:
        return []
    if m.group("who"):
        return _split_authors(m.group("who"))
    parts = re.split(_BY, m.group("date"), maxsplit=1, flags=re.IGNORECASE)
    return _split_authors(parts[1]) if len(parts) == 2 else []


def is_person_name(name: str) -> bool:
    """A byline name that names a person, not a role or a desk ("Staff Reporter", "AFP staff")."""
    return bool(name) and not _NOT_A_PERSON.search(name) and word_count(name) <= 5


def _byline_authors(line: str) -> list[str]:
    m = _BYLINE.match(line)
    if m:
        return _split_authors(m.group(1))
    m = _DATELINE.match(line)
    if m:
        return _split_authors(m.group("by")) if m.group("by") else []
    m = _NAME_THEN_DATELINE.match(line)
    return _split_authors(m.group("who")) if m else []


#: what a line of the body must outweigh: each line scores its words less this many (twice
#: this many units, i.e. characters, in unspaced scripts), and the body is the run of lines with
#: the highest total. Chosen leaving one set out over scrapes made from the three extraction sets
#: (bench/scrapes.py), among 3, 5, 8, 10, 12, 15 and 20: the folds pick 10, 10 and 12 (which
#: loses 0.015 on the third set); 10 loses on none
DENSE_LINE_WORDS = 10


def densest_block(lines: Sequence[str], *, min_words: int = 20) -> list[str]:
    """The contiguous run of lines with the most text net of ``DENSE_LINE_WORDS`` per line (the
    maximum-sum segment, as in Finn et al.'s Body Text Extraction, on lines instead of tags).

    Chrome is many short lines (menus, teasers, share bars, footers) in any language; an article
    is a run of long ones, whose few short lines inside (subheads, a short paragraph) the long
    ones around them outweigh. Language-agnostic, as the chrome patterns are not: on scrapes of
    the three extraction sets it raised F1 0.730 -> 0.841, 0.718 -> 0.847 and 0.814 -> 0.850
    (bench/scrapes.py) and drops no line of the seeds. When no run holds ``min_words``, the lines
    are kept as they are. Hand-written: no library segments plain text (jusText needs a stop-word
    list, has none that works for unspaced scripts, and scored 0.800 / 0.782 / 0.552 there)."""
    counts = [word_count(line) for line in lines]  # once: the score and the min_words test use them
    best, run, run_start, best_span = 0.0, 0.0, 0, (0, -1)
    for i, line in enumerate(lines):
        if run <= 0:
            run, run_start = 0.0, i
        run += counts[i] - DENSE_LINE_WORDS * (2 if is_unspaced(line) else 1)
        if run > best:
            best, best_span = run, (run_start, i)
    start, end = best_span[0], best_span[1] + 1
    return list(lines[start:end]) if sum(counts[start:end]) >= min_words else list(lines)


def clean_scrape(text: str, *, extra_chrome: Iterable[str] = ()) -> ExtractedArticle:
    """Clean a plain-text page scrape. ``extra_chrome`` holds lines known to be chrome for
    this site (learned from the stream); they are dropped wherever they stand."""
    chrome = frozenset(extra_chrome)
    lines = scrape_lines(text)
    head = _find_headline(lines, chrome)
    title = lines[head] if head is not None else None
    start = head + 1 if head is not None else 0

    authors: list[str] = []
    published: str | None = None
    # bylines and datelines directly under the headline (widgets may sit between them)
    j = start
    while j < min(start + 6, len(lines)) and word_count(lines[j]) < _BODY_WORDS:
        when = dateline_date(lines[j])
        if when:
            published = published or when
            authors = authors or _byline_authors(lines[j]) or _cue_authors(lines[j])
        elif _is_byline(lines[j]):
            authors = authors or _byline_authors(lines[j])
        elif not (_is_chrome(lines[j]) or lines[j] in chrome):
            break
        j += 1
    start = j

    body_lines = lines[start:]
    seen_body = False
    end = len(body_lines)
    for k, ln in enumerate(body_lines):
        if seen_body and _END_MARKER.match(ln):
            end = k
            break
        seen_body = seen_body or word_count(ln) >= 15
    tail = body_lines[end:]
    body_lines = body_lines[:end]

    box_name, _ = _author_from_box(tail)
    if box_name and box_name not in authors:
        authors = [a for a in authors if a] + [box_name]

    body = [ln for ln in body_lines if not _is_chrome(ln) and not _is_dateline(ln) and ln not in chrome]
    # navigation, teasers and footers the patterns above do not know (any other language, any
    # other site) go with the densest block of text
    body = densest_block(body)
    # a last line that is the start of a footer we did not recognise ("Related" + nothing after)
    while body and word_count(body[-1]) <= 3 and not _SENTENCE_END.search(body[-1]):
        body.pop()
    return ExtractedArticle(text="\n\n".join(body), title=title, authors=authors, published=published)
