"""The one Unicode-aware measure of "words" that every stage uses (extract's limits and prose
gate, ``word_count`` in events, dedup shingles, thread features).

A *unit* is what a reader of the script counts:

- in scripts written with spaces between words (Latin, Cyrillic, Greek, Arabic, Hebrew,
  Devanagari and the other Indic scripts, Hangul, ...), a word: a run of letters, digits and
  combining marks, with inner apostrophes and hyphens (``don't``, ``state-run``, ``पढ़ाई``);
- in scripts written without spaces (Han, Hiragana, Katakana, Thai, Lao, Khmer, Myanmar,
  Tibetan), one character with its combining marks. Chinese and Japanese text is measured in
  characters by its own readers (字数), and a character n-gram is the standard shingle for it,
  so no segmenter (jieba, MeCab and their dictionaries, some 50-100 MB) is needed for what the
  stages do: count, gate and compare.

Why not ``str.split()``: CJK text has no spaces, so a 537-character Japanese article is "21
words". Why not ``re``'s ``\\w``: it excludes combining marks, which splits Devanagari, Thai and
Arabic words at every vowel sign. The ``regex`` package (already under dateparser, well kept)
has the Unicode script and category properties that stdlib ``re`` lacks.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import regex

#: scripts written without spaces between words: one character is one unit
_UNSPACED = r"\p{Han}\p{Hiragana}\p{Katakana}\p{Thai}\p{Lao}\p{Khmer}\p{Myanmar}\p{Tibetan}\u30fc\u3005"

_UNIT = regex.compile(
    rf"(?:[{_UNSPACED}]\p{{M}}*)"  # one unspaced-script character, with its marks
    rf"|(?:[[\p{{L}}\p{{N}}]--[{_UNSPACED}]][\p{{M}}]*"  # a spaced-script word ...
    rf"(?:(?:['\u2019\-]?)[[\p{{L}}\p{{N}}]--[{_UNSPACED}]][\p{{M}}]*)*)",  # ... with inner ' and -
    regex.V1,
)
_UNSPACED_CHAR = regex.compile(rf"[[{_UNSPACED}]&&\p{{L}}]", regex.V1)
_LETTER = regex.compile(r"\p{L}", regex.V1)
#: any character of an unspaced script (letters, marks, digits): text without one can use
#: ``_SPACED_UNIT``, which finds exactly the units ``_UNIT`` finds in such text, 5-6x faster
#: (the set-difference classes of ``_UNIT`` are slow to match: 1.5 ms for a 4,000-character
#: article, as much as a tenth of trafilatura's time on the page)
_ANY_UNSPACED = regex.compile(rf"[{_UNSPACED}]", regex.V1)
_SPACED_UNIT = regex.compile(r"[\p{L}\p{N}][\p{L}\p{N}\p{M}]*(?:['\u2019\-][\p{L}\p{N}][\p{L}\p{N}\p{M}]*)*", regex.V1)
#: a character outside the blocks below U+0E00 (Latin, Greek, Cyrillic, Arabic, Hebrew,
#: Devanagari, ...) and General Punctuation (curly quotes, dashes): every unspaced script lies
#: outside them (Thai, the first, starts at U+0E00), so a text without such a character has no
#: unspaced one. A stdlib ``re`` range scan: ~5 µs for a 2,500-character lead, where
#: ``_ANY_UNSPACED``'s script properties take ~110 µs, on every text of a spaced script
_MAYBE_UNSPACED = re.compile("[^\x00-\u0dff\u2000-\u206f]")


def _has_unspaced(text: str, pattern: regex.Pattern) -> bool:
    """``pattern.search(text)`` for a pattern of unspaced-script characters only, the slow
    search skipped where ``_MAYBE_UNSPACED`` rules every such character out."""
    return _MAYBE_UNSPACED.search(text) is not None and pattern.search(text) is not None


def _pattern(text: str) -> regex.Pattern:
    return _UNIT if _has_unspaced(text, _ANY_UNSPACED) else _SPACED_UNIT


def units(text: str) -> list[str]:
    """The text's units in order: words of spaced scripts, characters of unspaced ones."""
    text = text or ""
    found: list[str] = _pattern(text).findall(text)  # the regex module is untyped
    return found


def iter_units(text: str) -> Iterator[str]:
    text = text or ""
    return (m.group(0) for m in _pattern(text).finditer(text))


def has_more_units(text: str, n: int) -> bool:
    """Whether the text holds more than ``n`` units, read no further than that needs: one
    C-level ``findall`` over a prefix long enough for ``n + 1`` units of ordinary words (the
    whole text when the prefix falls short), not a count of a long text."""
    text = text or ""
    head = text[: 12 * (n + 1)]
    if len(_pattern(head).findall(head)) > n:
        return True
    return len(head) < len(text) and word_count(text) > n


def prefix_end(text: str, n: int) -> int | None:
    """Where the text's ``n``-th unit ends (an offset into it), None when it holds ``n`` units or
    fewer: the cut that keeps its first ``n`` units. One C-level split at the first ``n`` units (~0.2 µs a unit), not a match object each."""
    text = text or ""
    if len(text) <= n:
        return None  # every unit is at least one character
    pattern = _pattern(text)
    parts: list[str] = pattern.split(text, maxsplit=n)  # the regex module is untyped
    if len(parts) <= n or pattern.search(parts[-1]) is None:
        return None  # fewer units, or exactly n (the rest is a gap)
    return len(text) - len(parts[-1])


def word_count(text: str) -> int:
    """Words in spaced scripts plus characters in unspaced scripts (see the module's text)."""
    return len(units(text))


def is_alphabetic(unit: str) -> bool:
    """The unit holds a letter (str.isalpha first: it is C-fast and true of most words)."""
    return unit.isalpha() or (not unit.isdigit() and bool(_LETTER.search(unit)))


def alphabetic_units(text: str) -> list[str]:
    """Units that hold a letter (so not numbers): the prose gate's "words"."""
    return [u for u in units(text) if is_alphabetic(u)]


def _letter_share(text: str, pattern: regex.Pattern) -> float:
    """Share of the letters of the text's first 5,000 characters that ``pattern`` matches."""
    sample = (text or "")[:5000]
    if not _has_unspaced(sample, pattern):
        return 0.0  # most texts: none of those letters (one scan, no list of every letter built)
    letters = len(_LETTER.findall(sample))
    return len(pattern.findall(sample)) / letters if letters else 0.0


def unspaced_share(text: str) -> float:
    """Share of the text's letters that belong to unspaced scripts (0.0 for English, ~1.0 for
    Chinese; Japanese with Latin names in it is still well above 0.5)."""
    return _letter_share(text, _UNSPACED_CHAR)


def is_unspaced(text: str) -> bool:
    """True when most of the text's letters are of scripts written without spaces."""
    return unspaced_share(text) > 0.5


def is_unspaced_unit(unit: str) -> bool:
    """Whether a unit (from ``units``) is a character of a script written without spaces."""
    return bool(_ANY_UNSPACED.match(unit))


_CJK_CHAR = regex.compile(r"[\p{Han}\p{Hiragana}\p{Katakana}]", regex.V1)


def is_cjk(text: str) -> bool:
    """True when most of the text's letters are Han, Hiragana or Katakana (Chinese, Japanese)."""
    return _letter_share(text, _CJK_CHAR) > 0.5
