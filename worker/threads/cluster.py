"""Story and thread assignment decisions, from numbers only (no Redis here).

An article becomes one sparse, L2-normalised vector with two kinds of feature:

* **terms**: Snowball stems of its words ("births", "birth" -> ``birth``), title words counted
  twice, weighted TF-IDF. Document frequencies are learned online from the stream and blended
  with a prior from wordfreq's general-language frequencies, so the very first articles already
  weigh "ceasefire" above "said".
* **entities** (``e:`` features): names of people, places and organisations ("joe biden",
  "supreme court", "colonial pipeline"), found as runs of capitalised words (see ``entities``).

A cluster (story or thread) is the running mean of its members' vectors, truncated to its
strongest features; an article joins the most similar cluster whose time-decayed cosine
similarity passes the level's threshold, or starts a new one.
"""

from __future__ import annotations

import math
import re
import string
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property, lru_cache, partial
from itertools import repeat
from operator import itemgetter, mul
from typing import NamedTuple
from unicodedata import is_normalized

import regex
import Stemmer
from wordfreq import available_languages, get_frequency_dict, top_n_list, word_frequency

from worker.words import is_unspaced, is_unspaced_unit, prefix_end, units

#: a word of a spaced script: a letter first, then letters, digits, combining marks and inner
#: ' . -, ending on a letter, digit or mark. The ``regex`` module, not ``re``: ``\w`` has no
#: combining marks, so stdlib patterns split Devanagari or Thai words at every vowel sign
_LETTER = r"\p{L}\p{M}*"
_TOKEN = regex.compile(rf"{_LETTER}(?:[\p{{L}}\p{{N}}\p{{M}}'’.-]*[\p{{L}}\p{{N}}\p{{M}}])?", regex.V1)
_TOKEN_SPLIT = regex.compile(f"({_TOKEN.pattern})", regex.V1)
#: a sentence's full stop with no space after it ("Einschränkungen.Die Politik", where a scrape
#: joined two paragraphs): the token pattern keeps inner dots (U.S., amazon.com), so both words
#: became one feature seen nowhere else ("einschrankungen.di"). A dot between two lowercase
#: letters and a capitalised word is a sentence end; "U.S.", "e.V." and "amazon.com" are not
#: touched. Caseless scripts have no such case and are left as they are
_MISSING_SPACE = regex.compile(r"(?<=\p{Ll}\p{Ll})\.(?=\p{Lu}\p{Ll})", regex.V1)
#: characters after a word that make the next word open a sentence (or a line)
_SENTENCE_END = frozenset(".!?:\n\"“")
#: pseudo-documents the wordfreq prior counts for; the online counts take over past this many.
#: A few hundred articles already tell what is common in this stream ("biden" in 2021 US news)
#: better than general language does: 2000 -> 500 took AllSides BCubed F1 from 0.920 to 0.924
_PRIOR_DOCS = 500
#: tokens in a typical article; turns a word's corpus frequency into a document frequency
_TOKENS_PER_DOC = 400
#: weight of a title word against a body word: the headline states the event
_TITLE_BOOST = 2.0
#: weight of an entity feature against a term feature. An entity repeats its words as terms
#: too, so a shared name counts about (1 + this) times an ordinary shared word. On AllSides
#: 0.5 beat 0, 1 and 2 by 0.002-0.02 BCubed F1 (at 2 the names of the day's other stories pull)
ENTITY_WEIGHT = 0.5
#: longest entity, in words ("Department of Homeland Security")
_MAX_ENTITY_WORDS = 4
#: lower-case words allowed inside a name ("Department of Justice", "Bank of England")
_NAME_JOINERS = frozenset({"of", "de", "del", "la", "von", "van", "al", "bin"})
#: a capitalised word opening a sentence is a name only when the article also capitalises it
#: mid-sentence, or when it is this rare in general text (1 in a million words)
_RARE_WORD_FREQ = 1e-6
#: dates are written capitalised but name no person, place or organisation, and two reports of
#: different events on the same day share them (English only, like capitalisation rules)
_NOT_NAMES = frozenset(
    "monday tuesday wednesday thursday friday saturday sunday january february march april may "
    "june july august september october november december".split()
)
#: titles written before a name ("Russian President Vladimir Putin", "Sen. Tim Scott"): the
#: entity is the name after them, so reports that give or omit the title share it (English)
_TITLES = frozenset(
    "president vice prime minister secretary sen senator rep representative gov governor mayor "
    "judge chief gen general adm dr mr mrs ms sir dame king queen prince princess pope speaker "
    "leader chancellor ambassador attorney commissioner director spokesman spokeswoman former".split()
)
#: Snowball stemmers of PyStemmer, by ISO 639-1 code (py3langid's codes); those a PyStemmer
#: release lacks are left out (see ``_stemmer``)
_SNOWBALL = {
    "ar": "arabic", "ca": "catalan", "cs": "czech", "da": "danish", "de": "german", "el": "greek",
    "en": "english", "eo": "esperanto", "es": "spanish", "et": "estonian", "eu": "basque",
    "fa": "persian", "fi": "finnish", "fr": "french", "ga": "irish", "hi": "hindi",
    "hu": "hungarian", "hy": "armenian", "id": "indonesian", "it": "italian", "lt": "lithuanian",
    "nb": "norwegian", "ne": "nepali", "nl": "dutch", "no": "norwegian", "pl": "polish",
    "pt": "portuguese", "ro": "romanian", "ru": "russian", "sr": "serbian", "sv": "swedish",
    "ta": "tamil", "tr": "turkish", "yi": "yiddish",
}
_STEMMERS = {code: name for code, name in _SNOWBALL.items() if name in set(Stemmer.algorithms())}
#: a language with no stemmer has its words cut to this many characters instead ("truncation
#: stemming", McNamee and Mayfield 2004: for inflected languages nearly as good as a stemmer)
_TRUNCATE = 6

#: languages that capitalise every noun (German): there a capitalised word mid-sentence is a
#: name only when it is rare in general text, as a sentence opener is elsewhere
_NOUN_CAPITALS = frozenset({"de", "lb"})
#: a word this rare (wordfreq, in the article's language) counts as a name in scripts without
#: capital letters (Arabic, Hebrew, Devanagari, ...): names are what general text seldom says
_CASELESS_NAME_FREQ = 1e-5
#: in a language that capitalises nouns, a lone capitalised word rarer than this is a name
#: ("Scholz" 9e-6, "Lindner" 8e-6; "Haushalt" 2e-5, "Regierung" 2e-4); runs of two or more
#: capitalised words ("Olaf Scholz") are names whatever their frequency
_NOUN_NAME_FREQ = 1e-5
#: stop words: each language's most frequent words in wordfreq ("der", "في", "的"), dropped
#: from the terms. Their IDF is near zero anyway; dropped, they cost no document-frequency
#: count in Redis and do not pad the vector of a short text
_STOP_WORDS = 100

Vector = dict[str, float]
#: sort key of a (feature, weight) pair
_WEIGHT = itemgetter(1)
#: words of the body that represent an article: the lead states the event (who, what, where,
#: when); later paragraphs add background shared by every story of a thread and cost time
#: linear in length (a 45,000-word page took 100+ ms to vectorise). AllSides bodies are leads
#: of ~100 words, so the benchmark is unaffected; seeds keep their story and thread.
LEAD_WORDS = 400


#: languages whose wordfreq lists need no extra tokenizer (ja/zh/ko need MeCab or jieba) and are
#: common in news: their "best" (large) lists, 2-90 MiB per worker process each, loaded on a
#: language's first article (the lists the quality sets were measured with)
_FREQ_LANGUAGES = frozenset({"en", "de", "fr", "es", "it", "pt", "nl", "sv", "da", "nb", "fi", "pl", "cs", "ru", "uk", "tr", "ar"})
#: every other language wordfreq has without an extra tokenizer (Hindi, Hebrew, Persian, Bengali,
#: Urdu, Tamil, Greek, Bulgarian, Vietnamese, ...): its "small" list (words of frequency 1e-6 and
#: above, 1-10 MiB each), enough for the stop words, the prior and the rare-word name rule of
#: caseless scripts, whose thresholds are 1e-5 and 1e-6. Before, these languages fell back to
#: English frequencies: no stop words, and in a caseless script every word counted as a name
_SMALL_FREQ_LANGUAGES = frozenset(available_languages()) - _FREQ_LANGUAGES - {"ja", "zh", "ko"}


#: py3langid's codes for languages wordfreq files under another one
_WORDFREQ_CODES = {"no": "nb", "hr": "sh", "sr": "sh", "bs": "sh", "tl": "fil"}


def _wordfreq_code(language: str | None) -> str:
    return _WORDFREQ_CODES.get(language or "", language or "")


@lru_cache(maxsize=200_000)
def _freq(word: str, language: str | None) -> float:
    """wordfreq's frequency of ``word``, never raising for a language it lacks (py3langid can say
    'zxx'): English frequencies for those."""
    language = _wordfreq_code(language)
    if language in _FREQ_LANGUAGES:
        wordlist = "best"
    elif language in _SMALL_FREQ_LANGUAGES:
        wordlist = "small"
    else:
        language, wordlist = "en", "best"
    if language in _PLAIN_LANGUAGES and word.isalpha() and word == word.casefold() and is_normalized("NFC", word):
        return _rounded(get_frequency_dict(language, wordlist).get(word, 0.0))
    return word_frequency(word, language, wordlist)


#: languages whose wordfreq tokenizer leaves a lowercase (casefolded), NFC, all-letter word as
#: it is: one token, the word itself (no mark removal as in Arabic or Hebrew, no dotted-i
#: casing as in Turkish, no transliteration as in Serbian, no segmentation as in CJK). For such
#: a word ``_freq`` reads wordfreq's frequency dict itself, as word_frequency would after
#: tokenizing the word again, which cost ~70 µs each new word (~8 an article, every article of
#: a stream has some); tests/threads/test_cluster.py checks the two agree word for word
_PLAIN_LANGUAGES = frozenset({"en", "de", "fr", "es", "it", "pt", "nl", "sv", "da", "nb", "fi", "pl", "cs", "ru", "uk"})


def _rounded(freq: float) -> float:
    """wordfreq's rounding of a frequency to 3 significant digits (its ``_word_frequency``)."""
    if freq == 0.0:
        return 0.0
    return round(freq, math.floor(-math.log(freq, 10)) + 3)


def has_frequencies(language: str | None) -> bool:
    """Whether wordfreq's frequencies of the language's words are used (not English's)."""
    language = _wordfreq_code(language)
    return language in _FREQ_LANGUAGES or language in _SMALL_FREQ_LANGUAGES


@lru_cache(maxsize=200_000)
def prior_df(term: str, language: str) -> float:
    """Expected fraction of documents containing ``term`` (a word or a phrase), from wordfreq."""
    f = _freq(term, language)
    return 1.0 - (1.0 - f) ** _TOKENS_PER_DOC if f else 0.0


@lru_cache(maxsize=64)
def stop_words(language: str) -> frozenset[str]:
    """The language's ``_STOP_WORDS`` most frequent words, none for a language wordfreq lacks."""
    language = _wordfreq_code(language)
    if not has_frequencies(language) and language not in {"ja", "zh", "ko"}:
        return frozenset()
    try:
        return frozenset(top_n_list(language, _STOP_WORDS, "small" if language in _SMALL_FREQ_LANGUAGES else "best"))
    except (LookupError, ValueError):  # wordfreq without its optional tokenizer for a language
        return frozenset()


_ASCII_LETTERS = string.ascii_letters.encode()


def is_caseless(text: str) -> bool:
    """Whether the text's letters are mostly of scripts without capital letters (Arabic, Hebrew,
    Devanagari, Thai, Han, ...), where capitalisation cannot find names."""
    sample = text[:2000]
    # every ASCII letter is cased, and a non-ASCII character at most one more letter: with at
    # least as many ASCII letters as non-ASCII characters, cased letters are at least half
    # (most Latin-script text, decided by two C-level passes instead of a loop per character)
    ascii_part = sample.encode("ascii", "ignore")
    ascii_letters = len(ascii_part) - len(ascii_part.translate(None, _ASCII_LETTERS))
    if ascii_letters >= len(sample) - len(ascii_part):
        return False
    # the same counts as a loop over the letters (no character is both upper and lower case)
    letters = "".join(filter(str.isalpha, sample))
    cased = sum(map(str.isupper, letters)) + sum(map(str.islower, letters))
    return len(letters) > 0 and cased < len(letters) / 2


@lru_cache(maxsize=64)
def _stemmer(language: str) -> Stemmer.Stemmer | None:
    name = _STEMMERS.get(language)
    return Stemmer.Stemmer(name, 50_000) if name else None


@lru_cache(maxsize=200_000)
def stem(word: str, language: str) -> str:
    s = _stemmer(language)
    return s.stemWord(word) if s else word[:_TRUNCATE]


def stems(words: list[str], language: str) -> list[str]:
    """``stem`` of each word, in one call into the stemmer (which caches stems itself); the
    first ``_TRUNCATE`` characters where the language has none."""
    s = _stemmer(language)
    return s.stemWords(words) if s else [w[:_TRUNCATE] for w in words]


class Token(NamedTuple):
    """A word. A NamedTuple, not a frozen dataclass: ~3x cheaper to make, and a 400-word lead
    makes 400 of them."""

    word: str  # as written, possessive dropped
    lower: str
    capitalised: bool
    sentence_start: bool
    joined: bool  # only spaces since the previous token: no comma, dash or line break between


#: a Token from a tuple in one C call: ``tuple.__new__`` is what the NamedTuple's own
#: ``__new__`` calls, behind a Python-level frame per word (~0.1 µs, 400 times a lead)
_new_token = partial(tuple.__new__, Token)


def tokens(text: str) -> list[Token]:
    """Word tokens with their case and whether they open a sentence (or a line)."""
    out: list[Token] = []
    # split() with the token pattern as a group gives [gap, token, gap, token, ..., gap] in one
    # C call: the same matches as finditer(), without a match object and three slices per word.
    # ’ becomes ' before the split, not per word: the pattern treats both alike, and neither
    # ends a sentence nor is a space in a gap
    parts = _TOKEN_SPLIT.split(_MISSING_SPACE.sub(". ", text.replace("’", "'")))
    # a match ends with a letter or digit (the pattern's last class), never with "." or an
    # apostrophe: what follows it (the next gap) tells whether a sentence ends there
    first = True
    after_apostrophe = False  # the previous token ends with an apostrophe ("rock''s")
    append = out.append
    for gap, word in zip(parts[::2], parts[1::2]):
        # the gap's first character is the one after the previous match (were the gap empty,
        # it would be the next token's first, a letter, never a sentence end)
        sentence_start = first or gap[:1] in _SENTENCE_END
        first = False
        joined = bool(out) and not gap.strip(" \t") and not after_apostrophe
        apostrophe = "'" in word  # rare: skips the possessive checks for most words
        if apostrophe:
            if word.endswith("'s"):
                word = word[:-2]
            elif word.endswith("'"):
                word = word[:-1]
        if word:
            append(_new_token((word, word.lower(), word[0].isupper(), sentence_start, joined)))
            after_apostrophe = apostrophe and word.endswith("'")
    return out


def _is_title_case(toks: list[Token]) -> bool:
    """Headlines Like This capitalise every word, so case says nothing about names there."""
    long_words = [t for t in toks if len(t.word) > 3]
    return bool(long_words) and sum(t.capitalised for t in long_words) / len(long_words) > 0.6


def entities(toks: list[Token], language: str) -> list[tuple[str, str]]:
    """Names in a text, lower-cased: maximal runs of capitalised words, joined by "of" and the like.

    Why a heuristic and not an NER model: the English NER models that install from PyPI with
    their weights are unofficial re-uploads of spaCy's (and spaCy costs milliseconds an article),
    while in edited English news, where sentence case is the rule, a run of capitalised words
    that does not merely open a sentence is a name of a person, place or organisation with high
    precision; a sentence's first word is a name when the article capitalises it elsewhere too
    or when it is rare (``_RARE_WORD_FREQ``).
    What the heuristic misses (lower-case names, type labels) the clustering does not need.
    """
    out: list[tuple[str, str]] = []  # (lower-cased key, as written)
    run: list[Token] = []
    noun_caps = language in _NOUN_CAPITALS

    def flush() -> None:
        if not run:
            return  # called for most words; the steps below do nothing to an empty run
        while run and run[-1].lower in _NAME_JOINERS:
            run.pop()
        last_title = max((i for i, t in enumerate(run) if t.lower in _TITLES), default=-1)
        if 0 <= last_title < len(run) - 1:
            del run[: last_title + 1]
            if len(run) > 2 and run[0].lower in _NAME_JOINERS and run[1].lower == "state":
                del run[:2]  # "Secretary of State Marco Rubio"
        while run and run[0].lower in _NAME_JOINERS:
            del run[0]
        if noun_caps and len(run) == 1 and _freq(run[0].lower, language) > _NOUN_NAME_FREQ:
            run.clear()  # "Regierung", "Krieg": one capitalised common word is a German noun
        if run:
            words = run[:_MAX_ENTITY_WORDS]
            out.append((" ".join(t.lower for t in words), " ".join(t.word for t in words)))
        run.clear()

    # words this text capitalises where case is informative: mid-sentence
    mid_caps = {t.lower for t in toks if t.capitalised and not t.sentence_start}
    for t in toks:
        if not t.joined:
            flush()
        if t.capitalised and len(t.word) > 1 and t.lower not in _NOT_NAMES:
            if t.sentence_start:
                flush()
                if (noun_caps or t.lower not in mid_caps) and _freq(t.lower, language) > _RARE_WORD_FREQ:
                    continue  # "The", "After", "Recognizing": an ordinary word opening the sentence
            run.append(t)
        elif run and t.lower in _NAME_JOINERS:
            run.append(t)
        else:
            flush()
    flush()
    return out


@dataclass(frozen=True)
class Features:
    """Weighted feature counts of one article, before IDF."""

    counts: Counter[str]  # term stems and e:entities -> weighted count
    surface: dict[str, str]  # feature -> a lower-case surface form, for the wordfreq prior
    display: dict[str, str]  # feature -> how to show it (a word, or a name as written)


#: weekday names (Monday = 0) in the languages of the benchmarks and a few more: news dates an
#: event by its weekday ("on Wednesday"), relative to the report's own date. Hand-written: no
#: well-kept package maps weekday names of many languages to numbers without a locale install
_WEEKDAYS = {
    name: day
    for names in (
        "monday tuesday wednesday thursday friday saturday sunday",  # en
        "montag dienstag mittwoch donnerstag freitag samstag sonntag",  # de
        "lunes martes miércoles jueves viernes sábado domingo",  # es
        "lundi mardi mercredi jeudi vendredi samedi dimanche",  # fr
        "lunedì martedì mercoledì giovedì venerdì sabato domenica",  # it
        "maandag dinsdag woensdag donderdag vrijdag zaterdag zondag",  # nl
        "poniedziałek wtorek środa czwartek piątek sobota niedziela",  # pl
        "pazartesi salı çarşamba perşembe cuma cumartesi pazar",  # tr
    )
    for day, name in enumerate(names.split())
}
_WEEKDAYS["sonnabend"] = 5


def _trie(words: Iterable[str]) -> str:
    """A regex matching any of ``words``, as a trie: one branch per first letter, then per next
    letter. stdlib ``re`` tries every branch of a flat alternation at each position (the 57
    names: ~95 µs over a lead), a trie one class of first letters (~15 µs)."""
    heads: dict[str, list[str]] = {}
    for w in words:
        heads.setdefault(w[:1], []).append(w[1:])
    alts = [re.escape(h) + _trie(tails) for h, tails in sorted(heads.items()) if h]
    if not alts:
        return ""
    body = alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"
    return f"(?:{body})?" if "" in heads else body


#: any weekday name, as a substring of a lower-cased text
_WEEKDAY_NAMES = re.compile(_trie(_WEEKDAYS))


#: words of the body searched for the event's weekday: the lede (news gives the event's day in
#: its first sentences, "... on Monday"); later paragraphs name the days of background and
#: follow-ups. Swept with bench/threads_sweep.py over 40-150 and the whole 400-word lead
#: (README, "How the rules were chosen"): from 80 to 90 AllSides (dated / multi-day / undated
#: BCubed F1 0.911 / 0.853 / 0.767) is where the whole lead had it (0.912 / 0.853 / 0.766),
#: while SemEval same-event pairs kept together rise (de 31 -> 40%, es 51 -> 55%, pl 41 -> 45%,
#: en 65 -> 66%) with different-event pairs unchanged; below 80 AllSides undated falls
WEEKDAY_LEDE_WORDS = 80


def event_weekday(title: str | None, text: str) -> int | None:
    """The weekday an article dates its event by (Monday = 0): the one its title and lede
    (``WEEKDAY_LEDE_WORDS``) name most often, the first named on a tie; None when it names none."""
    # a unit whose lower case is a weekday name leaves that name in the lower-cased text (no
    # name has a sigma, the one letter lowered by context): most texts name no weekday, and
    # then need no lede cut, no units (~100 µs for a lead) nor a lookup per unit
    if _WEEKDAY_NAMES.search(f"{title or ''}\n{text}".lower()) is None:
        return None
    joined = f"{title or ''}\n{lead(text, WEEKDAY_LEDE_WORDS)}"
    counts: Counter[int] = Counter()
    first: dict[int, int] = {}
    for i, u in enumerate(units(joined)):
        day = _WEEKDAYS.get(u.lower())
        if day is not None:
            counts[day] += 1
            first.setdefault(day, i)
    if not counts:
        return None
    return max(counts, key=lambda d: (counts[d], -first[d]))


def event_time(when: float, weekday: int | None) -> float:
    """The event's time from a dated report of it: the last ``weekday`` on or before the
    report's (UTC) day, as "on Wednesday" in a Friday report means two days earlier."""
    if weekday is None:
        return when
    day = int(when // 86400)
    report_weekday = (day + 3) % 7  # 1970-01-01 was a Thursday
    return when - ((report_weekday - weekday) % 7) * 86400.0


def lead(text: str, words: int = LEAD_WORDS) -> str:
    """The first ``words`` units of a body (words, or characters of unspaced scripts:
    worker/words.py), cut at a paragraph or sentence end when one is near."""
    cut = prefix_end(text, words)
    if cut is None:
        return text
    end = max(text.rfind("\n", 0, cut), text.rfind(". ", 0, cut), text.rfind("。", 0, cut))
    return text[: end + 1] if end > cut * 0.6 else text[:cut]


def features(title: str | None, text: str, language: str | None) -> Features:
    """Terms (stems) and entities of an article's title and body."""
    language = language or "en"
    if is_unspaced(f"{title or ''}\n{text}"):
        return _unspaced_features(title, text, language)
    counts: Counter[str] = Counter()
    surface: dict[str, str] = {}
    title_toks, body_toks = tokens(title or ""), tokens(text)
    display: dict[str, str] = {}
    ents: Counter[str] = Counter()
    stops = stop_words(language)
    if is_caseless(text or title or ""):
        return _caseless_features(title_toks, body_toks, language, stops)
    for weight, toks in ((_TITLE_BOOST, title_toks), (1.0, body_toks)):
        _count_terms(toks, weight, language, stops, counts, surface, display)
    body_ents = entities(body_toks, language)
    # a surname alone means the full name the same article gives ("Biden" after "Joe Biden"), so
    # that two reports share the entity however each refers to the person
    full = {key.rsplit(" ", 1)[1]: (key, written) for key, written in body_ents if " " in key}
    body_ents = [full.get(key, (key, written)) for key, written in body_ents]
    if _is_title_case(title_toks):
        # in a Title Case headline, trust only the names the body confirms
        known = {key: written for key, written in body_ents}
        title_ents = [full.get(e) or (e, known[e]) for e in _ngrams(title_toks) if e in known or e in full]
    else:
        title_ents = [full.get(key, (key, written)) for key, written in entities(title_toks, language)]
    for weight, found in ((1.0, body_ents), (_TITLE_BOOST, title_ents)):
        for key, written in found:
            ents[key] += weight
            display.setdefault("e:" + key, written)
    if ENTITY_WEIGHT > 0:
        for e, c in ents.items():
            counts["e:" + e] += c * ENTITY_WEIGHT
            surface["e:" + e] = e
    return Features(counts, surface, display)


#: languages that write compounds as one word ("Bundesregierung", "regeringsförklaring"):
#: there a long word also counts as its parts (``compound_parts``), so that reports saying
#: "Regierung" and "Bundesregierung" share a feature
DECOMPOUND = frozenset({"de", "nl", "sv", "da", "nb", "no"})
#: shortest word split, and shortest part
_COMPOUND_MIN, _PART_MIN = 8, 4
#: linking elements a German/Dutch/Scandinavian modifier may end with ("Regierung-s-chef")
_LINKS = ("s", "es", "en", "n", "e")


@lru_cache(maxsize=200_000)
def compound_parts(word: str, language: str) -> tuple[str, ...]:
    """The parts of a compound, by word frequency (Koehn and Knight 2003): the split into a
    modifier (a linking element dropped) and a head whose frequencies' geometric mean is the
    highest and above the whole word's, each part more frequent than the whole word (a rarer
    part is a suffix or a fragment, "fahr" + "erin" for "Fahrerin", no more general than the
    word itself); the head is split again. () when no split beats the word. Hand-written: the
    splitters on PyPI cover German (and Dutch) only, with dictionaries of their own, while
    wordfreq's lists, already loaded for the prior, cover every language here."""
    if len(word) < _COMPOUND_MIN:
        return ()
    best: tuple[str, str] | tuple[()] = ()
    best_score = whole = _freq(word, language)
    for i in range(_PART_MIN, len(word) - _PART_MIN + 1):
        head, f_head = word[i:], _freq(word[i:], language)
        if not f_head:
            continue
        for mod in (word[:i],) + tuple(word[:i - len(x)] for x in _LINKS if word[:i].endswith(x)):
            if len(mod) < _PART_MIN:
                continue
            f_mod = _freq(mod, language)
            score = math.sqrt(f_mod * f_head)
            if score > best_score and min(f_mod, f_head) > whole:
                best, best_score = (mod, head), score
    if not best:
        return ()
    return (best[0],) + (compound_parts(best[1], language) or (best[1],))


def _count_terms(toks: list[Token], weight: float, language: str, stops: frozenset[str],
                 counts: Counter[str], surface: dict[str, str], display: dict[str, str]) -> None:
    """Add ``toks``' stems (stop words and one-letter words left out) to ``counts`` at ``weight``;
    each stem keeps its commonest surface form, which gives the most cautious (largest) prior.
    In a compounding language (``DECOMPOUND``) a compound's parts count too."""
    words = [t.lower for t in toks if len(t.lower) >= 2 and t.lower not in stops]
    if language in DECOMPOUND:
        words += [p for w in words for p in compound_parts(w, language) if p not in stops]
    for word, s in zip(words, stems(words, language)):
        known = surface.get(s)
        if known is None:
            # a stem counted for the first time (``surface`` and ``counts`` gain their terms
            # together): set, not added to Counter's Python-level default of 0
            counts[s] = weight
            surface[s] = display[s] = word
            continue
        counts[s] += weight
        # a stem's word again (most repeats) cannot be more frequent than itself: no lookups
        if known != word and _freq(word, language) > _freq(known, language):
            surface[s] = display[s] = word


def _caseless_features(title_toks: list[Token], body_toks: list[Token], language: str, stops: frozenset[str]) -> Features:
    """Terms and names of a text in a script without capitals: names are runs of words rare in
    the language's general text (``_CASELESS_NAME_FREQ``), since case cannot mark them."""
    counts: Counter[str] = Counter()
    surface: dict[str, str] = {}
    display: dict[str, str] = {}
    # rarity says "name" only where general text is known: a language without a wordfreq list
    # (Korean: wordfreq needs MeCab for it; Georgian, Amharic, ...) has every word rare, so
    # every run of words would be a name
    names = ENTITY_WEIGHT > 0 and has_frequencies(language)
    for weight, toks in ((_TITLE_BOOST, title_toks), (1.0, body_toks)):
        _count_terms(toks, weight, language, stops, counts, surface, display)
        if names:
            run: list[str] = []
            for t in toks + [None]:
                if t is not None and t.joined and len(t.lower) >= 3 and _freq(t.lower, language) < _CASELESS_NAME_FREQ:
                    run.append(t.lower)
                    continue
                if t is not None and not t.joined and len(t.lower) >= 3 and _freq(t.lower, language) < _CASELESS_NAME_FREQ:
                    if run:
                        key = " ".join(run[:_MAX_ENTITY_WORDS])
                        counts["e:" + key] += weight * ENTITY_WEIGHT
                        surface["e:" + key] = display["e:" + key] = key
                    run = [t.lower]
                    continue
                if run:
                    key = " ".join(run[:_MAX_ENTITY_WORDS])
                    counts["e:" + key] += weight * ENTITY_WEIGHT
                    surface["e:" + key] = display["e:" + key] = key
                run = []
    return Features(counts, surface, display)


def _unspaced_features(title: str | None, text: str, language: str) -> Features:
    """Terms of a text in a script written without spaces (Chinese, Japanese, Thai): character
    bigrams within each run of such characters, and the words of spaced runs (Latin names,
    numbers). A bigram is the standard unit for CJK retrieval when no segmenter is at hand
    (jieba or MeCab with their dictionaries: 50-100 MB). No stems and no names: bigrams of a
    name are its features already. Stop words (the language's most frequent words in wordfreq)
    drop the bigrams they make: without it two unrelated Japanese articles shared their
    strongest features ("した", "され", "れた": cosine 0.17, the dated story bar is 0.18)."""
    counts: Counter[str] = Counter()
    surface: dict[str, str] = {}
    stops = stop_words(language)
    for weight, part in ((_TITLE_BOOST, title or ""), (1.0, text)):
        prev = ""
        for u in units(part):
            if is_unspaced_unit(u):
                # a bigram of two function characters ("し"+"た", "的"+"人") or a stop word
                # itself ("する", "中国") is no evidence of the event: dropped, as spaced
                # languages drop their stop words
                if prev and not (prev + u in stops or (prev in stops and u in stops)):
                    gram = prev + u
                    counts[gram] += weight
                    surface.setdefault(gram, gram)
                prev = u
            else:
                prev = ""
                low = u.lower()
                if len(low) >= 2 and not low.isdigit() and low not in stops:
                    counts[low] += weight
                    surface.setdefault(low, low)
    return Features(counts, surface, dict(surface))


def _ngrams(toks: list[Token]) -> Iterable[str]:
    words = [t.lower for t in toks]
    for n in range(1, _MAX_ENTITY_WORDS + 1):
        for i in range(len(words) - n + 1):
            yield " ".join(words[i : i + n])


#: pseudo-documents every feature is counted in (add-k smoothing of the document frequency)
SMOOTH_DOCS = 1.0


def vectorise(feats: Features, dfs: Mapping[str, float], n_docs: float, language: str | None, top_k: int) -> Vector:
    """L2-normalised TF-IDF vector of the ``top_k`` strongest features."""
    language = language or "en"
    weights = {}
    surface = feats.surface
    # smoothed IDF over the online counts plus the prior pseudo-documents, written out here (its
    # numerator computed once, no call per feature: a 400-word lead has ~200 features)
    total = n_docs + _PRIOR_DOCS + SMOOTH_DOCS
    log, get = math.log, dfs.get
    for f, c in feats.counts.items():
        w = (1.0 + log(c)) * log(total / (get(f, 0.0) + _PRIOR_DOCS * prior_df(surface[f], language) + SMOOTH_DOCS))
        if w > 0:
            weights[f] = w
    top = sorted(weights.items(), key=_WEIGHT, reverse=True)[:top_k]
    norm = math.sqrt(sum(w * w for _, w in top)) or 1.0
    return {t: w / norm for t, w in top}


def norm(v: Mapping[str, float]) -> float:
    """L2 norm of a vector, 1 for an empty one (so that cosine divides by it safely)."""
    weights = list(v.values())
    return math.sqrt(sum(map(mul, weights, weights))) or 1.0


def cosine(a: Mapping[str, float], b: Mapping[str, float], norm_a: float | None = None, norm_b: float | None = None) -> float:
    """Cosine similarity; ``norm_a``/``norm_b``: the norms, when the caller has them already
    (``choose`` scores one article against every candidate)."""
    norm_a = norm(a) if norm_a is None else norm_a
    norm_b = norm(b) if norm_b is None else norm_b
    if len(a) > len(b):
        a, b, norm_a, norm_b = b, a, norm_b, norm_a
    # map() instead of a generator expression: the same products summed in the same order
    # (the same float), at about half the cost
    dot = sum(map(mul, a.values(), map(b.get, a, repeat(0.0))))
    return float(dot / (norm_a * norm_b))


def decay(age_hours: float, half_life_hours: float, window_hours: float = 0.0) -> float:
    """Pull of a cluster whose time is ``age_hours`` away: 1 within ``window_hours``, then
    halving every ``half_life_hours``. The window is the span one event is reported over
    (outlets cover an event for 0-4 days); a pure exponential from the first hour split such
    events, and its fall beyond the window is what keeps two events of one kind apart."""
    return float(0.5 ** (max(0.0, age_hours - window_hours) / half_life_hours))


@dataclass(frozen=True)
class Cluster:
    cluster_id: str
    #: the centroid, or a function that returns it, called only if ``choose`` scores the cluster:
    #: decoding a stored centroid costs ~25 µs, and the pull of most candidates rules them out
    vector: Vector | Callable[[], Vector]
    size: int
    when: float  # the cluster's time for decay, unix seconds (see ``cluster_time``)
    #: whether ``when`` comes from real dates; an undated cluster (its members carried their
    #: ingestion time only) has no time to compare, so it is judged on text alone
    dated: bool = True
    version: int = 0  # the cluster's write count, for the optimistic commit (state.py)
    weekday: int | None = None  # the weekday its first member dated its event by

    @cached_property
    def centroid(self) -> Vector:
        return self.vector() if callable(self.vector) else self.vector


def cluster_time(mode: str, current: float, size: int, when: float) -> float:
    """A cluster's time after a member dated ``when`` joins it (``size`` members before, time
    ``current``).

    ``mean``: the mean of its members' dates, as the centroid is the mean of their vectors; a
    story is one event, and decaying from its mean date keeps a run of follow-ups a day apart
    from chaining into one story that never ages (measured: BCubed F1 0.913 -> 0.920 on
    AllSides). ``last``: its latest member's date; a thread lives as long as it is fed.
    """
    if mode == "mean":
        return (current * size + when) / (size + 1)
    return max(current, when)


#: bound on a computed cosine: at most 1, plus rounding (~1e-15 for vectors of a few hundred
#: features; weights are non-negative). Skipping a candidate whose pull times this is no more
#: than the best score so far changes no choice.
_MAX_COSINE = 1.0 + 1e-9


@dataclass(frozen=True)
class Choice:
    cluster_id: str | None  # None: start a new cluster
    score: float  # the chosen (or best) cluster's decayed similarity over its threshold: >= 1 joins


def choose(
    vec: Vector, candidates: Iterable[Cluster], now: float, threshold: float, half_life_hours: float,
    window_hours: float = 0.0, dated: bool = True, undated_threshold: float | None = None,
    weekday: int | None = None, weekday_mismatch: float = 1.0, text_window_hours: float = 0.0,
    lone_threshold: float = 0.0, lone_rival: float = 0.0,
) -> Choice:
    """The best cluster for ``vec``, or none when no decayed similarity reaches its threshold.

    Between a dated article and a dated cluster, the similarity is decayed by their time apart
    (``decay``) and compared with ``threshold``. When either has no date (a scrape replayed with
    its ingestion time only), there is no time evidence: the plain cosine is compared with
    ``undated_threshold``, a stricter bar chosen for that case, since text alone must then keep
    apart the events of one kind that dates would have. Candidates are ranked by score over
    their threshold, so both kinds compete fairly in a mixed feed. Undated, the weekday the
    article dates its event by (``event_weekday``) is the time evidence left: when it differs
    from the cluster's, the bar is ``weekday_mismatch`` times higher. Dated, within
    ``text_window_hours`` of the cluster's time the bar is never above the undated one.

    ``lone_threshold`` (0: off): compared on text alone, a cluster that is the only candidate
    whose cosine reaches ``lone_rival`` (the thread bar: no other story of its kind) is joined
    at this lower bar. The undated bar is set by streams of many same-topic stories, where an
    article must stand out from the others of its kind; where there is no other, it need not.
    The rivals are the candidates the index gave that are compared on text alone (a dated
    candidate, which its decay judges, is none), so each of their cosines is computed (the
    skip below is for the decayed ones)."""
    undated_threshold = threshold if undated_threshold is None else undated_threshold
    best_id, best = None, 0.0
    vec_norm = norm(vec)
    # (cosine, id) of the candidates compared on text alone, the weekday factor divided out
    lone: list[tuple[float, str]] = []
    cos: float | None
    for c in candidates:
        text_bar = undated_threshold
        if weekday is not None and c.weekday is not None and weekday != c.weekday:
            text_bar *= weekday_mismatch  # "on Monday" and "on Wednesday": two events, likely
        if dated and c.dated:
            gap = abs(now - c.when) / 3600.0
            pull = decay(gap, half_life_hours, window_hours)
            bar = threshold / pull if pull > 0.0 else math.inf  # months apart: no pull at all
            if gap <= text_window_hours:
                # within the days one event is covered over, what text alone would join is
                # joined: a date can add evidence, never take away what the text shows
                bar = min(bar, text_bar)
            if bar == math.inf:
                continue
            cos = None
        else:
            bar = text_bar
            cos = cosine(vec, c.centroid, vec_norm) if lone_threshold > 0.0 else None
            if cos is not None:
                lone.append((cos * undated_threshold / text_bar, c.cluster_id))
        if cos is None:
            if _MAX_COSINE / bar <= best:
                continue  # cannot score above the best so far, whatever its cosine: skip computing it
            cos = cosine(vec, c.centroid, vec_norm)
        score = cos / bar
        if score > best:
            best_id, best = c.cluster_id, score
    if best < 1.0 and lone:
        lone.sort(reverse=True)
        top, top_id = lone[0]
        if top >= lone_threshold and (len(lone) == 1 or lone[1][0] < lone_rival):
            return Choice(top_id, top / lone_threshold)
    return Choice(best_id, best) if best >= 1.0 else Choice(None, best)


def merge(centroid: Vector, size: int, vec: Vector, top_k: int) -> Vector:
    """Running mean of a cluster's member vectors, truncated to its ``top_k`` strongest features."""
    merged = {t: w * size for t, w in centroid.items()}
    for t, w in vec.items():
        merged[t] = merged.get(t, 0.0) + w
    top = sorted(merged.items(), key=_WEIGHT, reverse=True)[:top_k]
    return {t: w / (size + 1) for t, w in top}


def strongest(centroid: Mapping[str, float], n: int) -> list[str]:
    return [t for t, _ in sorted(centroid.items(), key=_WEIGHT, reverse=True)[:n]]


def key_terms(centroid: Mapping[str, float], display: Mapping[str, str], n: int = 8) -> list[str]:
    """The ``n`` strongest features, readable: names as written first, then words."""
    top = strongest(centroid, 3 * n)
    ents = [display.get(f, f[2:]) for f in top if f.startswith("e:")]
    words = [display.get(f, f) for f in top if not f.startswith("e:")]
    out: list[str] = []
    taken: set[str] = set()  # lower-cased: every term in ``out``, and each of its words
    for t in ents + words:
        if len(out) == n:
            break
        # "Biden" adds nothing after "Joe Biden"; "biden" (the word) nothing after either
        if t.lower() not in taken:
            out.append(t)
            taken.add(t.lower())
            taken.update(t.lower().split())
    return out[:n]


#: where a sentence ends: after . ! ? and the full stops and question marks of CJK, Arabic and
#: Devanagari (a CJK one needs no space after it)
_SENTENCE_STOP = re.compile(r"(?<=[.!?؟।])\s+|(?<=[。！？])")
#: the most words (characters in unspaced scripts) of a first sentence that labels a story
LABEL_UNITS = 16


def headline_of(title: str | None, text: str) -> str:
    """What an article's story and thread are labelled by: its title; failing that (a scrape
    with no line that reads as a headline, a text without one), its first sentence, cut after
    ``LABEL_UNITS`` words with "…"; "(untitled)" only for an article with neither."""
    if title and title.strip():
        return title.strip()
    first = next((line.strip() for line in text.split("\n") if line.strip()), "")
    sentence = _SENTENCE_STOP.split(first, maxsplit=1)[0].strip()
    end = prefix_end(sentence, LABEL_UNITS)
    if end is not None:
        sentence = sentence[:end].rstrip(" ,;:-–—") + "…"
    return sentence or "(untitled)"


def thread_label(headline: str, centroid: Mapping[str, float], display: Mapping[str, str], n: int = 3) -> str:
    """A readable thread label: its representative headline, then key entities it lacks."""
    names = [display.get(f, f[2:]) for f in strongest(centroid, 30) if f.startswith("e:")]
    extra: list[str] = []
    for name in names:
        if name.lower() not in headline.lower() and not any(name.lower() in e.lower() for e in extra):
            extra.append(name)
        if len(extra) == n:
            break
    return f"{headline} · {', '.join(extra)}" if extra else headline


def mentions(feats: Features, term: str, language: str | None) -> bool:
    """Whether an article mentions a key term: every word of it, stemmed, is among its terms."""
    words = [t.lower for t in tokens(term) if len(t.lower) >= 2]
    return bool(words) and all(stem(w, language or "en") in feats.counts for w in words)


def definition_vector(name: str, description: str, terms: Iterable[str], language: str | None, top_k: int) -> Vector:
    """Vector of a watched thread from its name, description and key terms (these count thrice:
    they are what the thread is about). IDF from the wordfreq prior alone, so it is stable."""
    terms = list(terms)
    feats = features(name, " ".join([description] + terms * 3), language)
    return vectorise(feats, {}, 0.0, language, top_k)


def best_watched(
    vec: Vector, feats: Features, watched: Iterable[tuple[str, Vector, tuple[str, ...]]],
    language: str | None, threshold: float,
) -> Choice:
    """The watched thread an article belongs to: it mentions a key term and its similarity to
    the thread's definition reaches ``threshold``; the most similar such thread wins."""
    best = Choice(None, 0.0)
    for thread_id, definition, terms in watched:
        if not any(mentions(feats, t, language) for t in terms):
            continue
        score = cosine(vec, definition)
        if score > best.score:
            best = Choice(thread_id, score)
    return best if best.score >= threshold else Choice(None, best.score)
