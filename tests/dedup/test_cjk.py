"""Japanese, Chinese and Korean copies are found and different CJK articles are not merged, with
real news text (tests/resources/cjk, see its README), through the real index."""

from __future__ import annotations

import pytest

from tests.conftest import RESOURCES
from worker.dedup.index import DedupIndex
from worker.dedup.minhash import normalise, shingles, signature, text_hash
from worker.settings import DedupSettings
from worker.words import _UNIT

CJK = RESOURCES / "cjk"
DATELINES = {"ja": "【東京共同】", "zh": "新华社北京3月12日电（记者 王伟）", "ko": "[서울=연합뉴스] "}


def _texts() -> dict[str, str]:
    return {p.stem: p.read_text(encoding="utf-8") for p in sorted(CJK.glob("*.txt"))}


def _check(index, doc_id, text):
    n = normalise(text)
    return index.check_and_insert(doc_id, text_hash(n), signature(shingles(n, 5), 128), None)


def _wire_copy(text: str, level: float, lang: str) -> str:
    """A wire copy: a dateline, the first ``level`` of the units, two light edits (a character
    dropped, one replaced) and a new paragraph break."""
    spans = [m.span() for m in _UNIT.finditer(text)]
    body = text[: spans[round(len(spans) * level) - 1][1]]
    third = len(body) // 3
    body = body[:third] + body[third + 1 :]  # a character dropped
    body = body[: 2 * third] + "的" + body[2 * third + 1 :]  # one replaced
    return DATELINES[lang] + body.replace("\n", "\n\n", 1)


@pytest.fixture
def index(client, keys):
    return DedupIndex(client, keys, DedupSettings(expected_articles=1000))


def test_cjk_shingles_are_character_ngrams():
    text = _texts()["zh_xinhua"]
    n = normalise(text)
    # one shingle per character position (less repeats), not a handful of space-split "words"
    assert len(shingles(n, 5)) > 0.8 * len(n.split()) > 500
    assert all(len(s.split()) in (4, 5) for s in shingles(n, 5))


@pytest.mark.parametrize("level", [0.9, 0.6, 0.5])
def test_cjk_wire_copies_are_found_and_different_articles_are_not_merged(index, level):
    texts = _texts()
    for name, text in texts.items():
        d = _check(index, name, text)
        # eight different articles, three of them from one Korean outlet: none merged
        assert not d.is_duplicate, (name, d)
    for name, text in texts.items():
        copy = _wire_copy(text, level, name[:2])
        d = _check(index, f"{name}-copy", copy)
        assert (d.is_duplicate, d.canonical_id, d.method) == (True, name, "near"), (name, level, d)
