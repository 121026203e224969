"""Story and thread assignment decisions, from numbers only (no Redis here).

An article becomes a sparse TF-IDF vector over its title and body. Document frequencies are
learned online from the stream and blended with a prior from wordfreq's general-language
frequencies, so the very first articles already weigh "ceasefire" above "said". Names
(capitalised mid-sentence words) get a boost. A cluster (story or thread) is the running mean
of its members' vectors, truncated to its strongest terms; an article joins the most similar
cluster whose time-decayed cosine similarity passes the level's threshold, or starts a new one.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache

from wordfreq import word_frequency

_TOKEN = re.compile(r"[^\W\d_][\w'’-]*[^\W_]|[^\W\d_]", re.UNICODE)
#: pseudo-documents the wordfreq prior counts for; the online counts take over past this many
_PRIOR_DOCS = 2000
#: tokens in a typical article; turns a word's corpus frequency into a document frequency
_TOKENS_PER_DOC = 400
#: weight of a name (capitalised mid-sentence) against an ordinary word
_NAME_BOOST = 1.6
#: weight of a title word against a body word
_TITLE_BOOST = 2.0

Vector = dict[str, float]
_PRIOR_LANGUAGES = frozenset({"en", "de", "fr", "es", "it", "pt", "nl", "sv", "da", "nb", "fi", "pl", "cs", "ru", "uk", "tr", "ar"})


@lru_cache(maxsize=200_000)
def prior_df(term: str, language: str) -> float:
    """Expected fraction of documents containing ``term``, from wordfreq (0 when unknown)."""
    # only languages whose wordfreq lists need no extra tokenizer (ja/zh/ko need MeCab or jieba)
    # and are common in news; each list loaded costs ~40 MiB per worker process
    f = word_frequency(term, language if language in _PRIOR_LANGUAGES else "en")
    return 1.0 - (1.0 - f) ** _TOKENS_PER_DOC if f else 0.0


def tokens(text: str) -> list[tuple[str, bool]]:
    """(lower-cased token, is_name) pairs; is_name when capitalised and not sentence-initial."""
    out = []
    sentence_start = True
    for m in _TOKEN.finditer(text):
        word = m.group(0).replace("’", "'")
        if word.endswith("'s"):
            word = word[:-2]
        if len(word) >= 2:
            out.append((word.lower(), word[0].isupper() and not sentence_start))
        end = m.end()
        nxt = text[end : end + 2]
        sentence_start = bool(nxt) and nxt[0] in ".!?\n"
    return out


def term_counts(title: str | None, text: str) -> tuple[Counter[str], set[str]]:
    """Weighted term counts of an article and the set of terms seen as names."""
    counts: Counter[str] = Counter()
    names: set[str] = set()
    for weight, part in ((_TITLE_BOOST, title or ""), (1.0, text)):
        for tok, is_name in tokens(part):
            counts[tok] += weight
            if is_name:
                names.add(tok)
    return counts, names


def idf(term: str, df: float, n_docs: float, language: str) -> float:
    """Smoothed IDF over the online counts plus the prior pseudo-documents."""
    return math.log((n_docs + _PRIOR_DOCS + 1.0) / (df + _PRIOR_DOCS * prior_df(term, language) + 1.0))


def vectorise(
    counts: Mapping[str, float], names: set[str], dfs: Mapping[str, float], n_docs: float,
    language: str, top_k: int,
) -> Vector:
    """L2-normalised TF-IDF vector of the ``top_k`` strongest terms."""
    weights = {}
    for term, c in counts.items():
        w = (1.0 + math.log(c)) * idf(term, dfs.get(term, 0.0), n_docs, language)
        if term in names:
            w *= _NAME_BOOST
        if w > 0:
            weights[term] = w
    top = sorted(weights.items(), key=lambda kv: kv[1], reverse=True)[:top_k]
    norm = math.sqrt(sum(w * w for _, w in top)) or 1.0
    return {t: w / norm for t, w in top}


def cosine(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    if len(a) > len(b):
        a, b = b, a
    dot = sum(w * b.get(t, 0.0) for t, w in a.items())
    nb = math.sqrt(sum(w * w for w in b.values())) or 1.0
    na = math.sqrt(sum(w * w for w in a.values())) or 1.0
    return dot / (na * nb)


def decay(age_hours: float, half_life_hours: float) -> float:
    """Pull of a cluster last active ``age_hours`` ago: 1 now, 1/2 after one half-life."""
    return 0.5 ** (max(0.0, age_hours) / half_life_hours)


@dataclass(frozen=True)
class Cluster:
    cluster_id: str
    centroid: Vector
    size: int
    last_seen: float  # unix seconds


@dataclass(frozen=True)
class Choice:
    cluster_id: str | None  # None: start a new cluster
    score: float


def choose(
    vec: Vector, candidates: Iterable[Cluster], now: float, threshold: float, half_life_hours: float
) -> Choice:
    """The best cluster for ``vec``, or none when no decayed similarity reaches ``threshold``."""
    best = Choice(None, 0.0)
    for c in candidates:
        score = cosine(vec, c.centroid) * decay((now - c.last_seen) / 3600.0, half_life_hours)
        if score > best.score:
            best = Choice(c.cluster_id, score)
    return best if best.score >= threshold else Choice(None, best.score)


def merge(centroid: Vector, size: int, vec: Vector, top_k: int) -> Vector:
    """Running mean of a cluster's member vectors, truncated to its ``top_k`` strongest terms."""
    merged = {t: w * size for t, w in centroid.items()}
    for t, w in vec.items():
        merged[t] = merged.get(t, 0.0) + w
    top = sorted(merged.items(), key=lambda kv: kv[1], reverse=True)[:top_k]
    return {t: w / (size + 1) for t, w in top}


def key_terms(centroid: Mapping[str, float], n: int = 8) -> list[str]:
    return [t for t, _ in sorted(centroid.items(), key=lambda kv: kv[1], reverse=True)[:n]]
