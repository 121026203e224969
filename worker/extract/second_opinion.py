"""Choosing between two extractors' article bodies, and dropping leftover chrome lines (pure).

``drop_chrome_lines`` runs on every HTML body. ``choose_body`` is no longer on the extract
path: it needs readability on every page (1.9x trafilatura's cost), and cross-validated over
the three development sets it lost on trafilatura-eval (0.914 vs trafilatura's 0.921) and
readability-pages; bench/extraction_cv.py keeps it as the reference it was replaced against.
What follows is the rule as it was designed:

trafilatura is the main extractor. readability-lxml, a different algorithm (node scoring
rather than trafilatura's tree pruning), gives a second opinion. They fail differently:
trafilatura sometimes keeps a block of teasers or a press-release footer around the article
("bloated"), or stops at a page break in the markup ("truncated"); readability rarely does
either but, on its own, scores lower. Comparing the two texts tells which failure happened:

- readability's text is (almost) contained in trafilatura's and clearly shorter: trafilatura
  added material around the same article, take readability's;
- trafilatura's text is (almost) contained in readability's and readability's is over twice
  as long: trafilatura stopped early, take readability's;
- otherwise keep trafilatura's (the better extractor when the two disagree on what the
  article is).

The thresholds were chosen on the article-extraction benchmark as a whole, never per page
(bench/extraction.py). To check they are not fitted to its pages: split in two halves by
page-id hash, thresholds chosen on one half raised F1 on the other by +0.010 and +0.012.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from worker.words import units, word_count


#: n of the word n-grams used to compare two texts (4: long enough that shared n-grams mean
#: shared passages, short enough that a rewrapped sentence still matches)
NGRAM = 4
#: containment (share of a text's n-grams found in the other) above which one text is
#: taken to be part of the other; 0.99 leaves room for a caption or a changed line break
CONTAINED = 0.99
#: readability's length / trafilatura's (in words) at or under which "contained and
#: shorter" means trafilatura was bloated (swept 0.80-0.97 on the benchmark: 0.97 best, and
#: every value in the range better than trafilatura alone)
BLOATED_RATIO = 0.97
#: readability's length / trafilatura's at or over which "contains trafilatura's" means
#: trafilatura was truncated (swept 1.3-2.5: 2.0 best, none worse than trafilatura alone)
TRUNCATED_RATIO = 2.0


@dataclass(frozen=True)
class Choice:
    text: str
    #: which extractor's body was kept and why: trafilatura | readability:bloated | readability:truncated
    reason: str


def _ngrams(text: str, n: int = NGRAM) -> Counter[tuple[str, ...]]:
    tokens = [t.casefold() for t in units(text)]  # words, or characters of unspaced scripts
    return Counter(tuple(tokens[i : i + n]) for i in range(max(0, len(tokens) - n + 1)))


def containment(part: str, whole: str) -> float:
    """Share of ``part``'s word n-grams (as a multiset) that also occur in ``whole``."""
    a, b = _ngrams(part), _ngrams(whole)
    total = sum(a.values())
    return sum((a & b).values()) / total if total else 0.0


def choose_body(trafilatura_text: str, readability_text: str | None) -> Choice:
    """Pick trafilatura's body unless the comparison with readability's shows it is bloated
    or truncated (see the module docstring)."""
    if not readability_text or not readability_text.strip():
        return Choice(trafilatura_text, "trafilatura")
    if not trafilatura_text.strip():
        return Choice(readability_text, "readability:truncated")
    ratio = word_count(readability_text) / max(1, word_count(trafilatura_text))
    if ratio <= BLOATED_RATIO and containment(readability_text, trafilatura_text) >= CONTAINED:
        return Choice(readability_text, "readability:bloated")
    if ratio >= TRUNCATED_RATIO and containment(trafilatura_text, readability_text) >= CONTAINED:
        return Choice(readability_text, "readability:truncated")
    return Choice(trafilatura_text, "trafilatura")


#: lines that introduce links to other articles, or ask the reader to do something, in any
#: news body: "READ MORE: ...", "Related: ...", "DON'T MISS", "Also on rt.com ...",
#: "Click here to get the app", "Like this story? Share it ...", Italian "Leggi anche ...".
#: Anchored on the whole line so that a sentence that merely starts "Related research ..."
#: is kept.
_TEASER_LINE = re.compile(
    r"^(?:"
    r"(?:read|see) (?:more|also)(?: on .{1,40})?\s*(?::.*|\.{3}|…)?|"
    r"don'?t miss(?: this)?\s*(?::.*|\.{3}|…)?|"
    r"related(?: articles?| stories| posts?| content| coverage| links?| video)?\s*(?::.*|\.{3}|…)?|"
    r"(?:also|more) on \S+\.\w{2,}\b.*|"
    r"click here\b.{0,100}|"
    r"like this (?:story|article)\?.*|"
    r"leggi anche\b.*|"
    r"advertisement|sponsored content"
    r")$",
    re.IGNORECASE,
)


def _norm(text: str) -> str:
    return " ".join(u.casefold() for u in units(text))


#: paragraphs at the top of a body searched for the repeated headline
_HEADLINE_WINDOW = 3
#: longest paragraph (in words) above the repeated headline that is dropped with it: a
#: section label or kicker ("World", "Analysis"), never a body paragraph
_KICKER_WORDS = 4


def drop_chrome_lines(paragraphs: Sequence[str], *, title: str | None, headline: bool = True,
                      teasers: bool = True) -> list[str]:
    """Remove the headline repeated at the top of the body (with a section label above it)
    and teaser/call-to-action lines. The body of an article never starts by repeating its own
    headline; readability keeps the page's <h1>, trafilatura sometimes does."""
    kept = [p for p in paragraphs if p.strip()]
    wanted = _norm(title or "") if headline else ""
    if wanted:
        for i, p in enumerate(kept[:_HEADLINE_WINDOW]):
            if _norm(p) == wanted and all(word_count(q) <= _KICKER_WORDS for q in kept[:i]):
                kept = kept[i + 1 :]
                break
    return [p for p in kept if not _TEASER_LINE.match(p.strip())] if teasers else kept
