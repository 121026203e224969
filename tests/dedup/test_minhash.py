from __future__ import annotations

from tests.conftest import seed_paths
from worker.dedup.minhash import estimate, normalise, shingles, signature, text_hash
from worker.extract.text import clean_scrape
from worker.words import _UNIT


def _sig(text: str):
    return signature(shingles(normalise(text), 5), 128)


def test_typographic_variants_normalise_to_the_same_text():
    a = "“It’s time,” Vance said — the U.S. will walk away…"
    b = '"It\'s time," Vance said - the U.S. will walk away...'
    assert normalise(a) == normalise(b)
    assert text_hash(normalise(a)) == text_hash(normalise(b))


def test_signature_is_deterministic_and_256_bytes():
    text = clean_scrape(seed_paths()[0].read_text()).text
    assert _sig(text) == _sig(text)
    assert len(_sig(text).values) == 256


def test_truncated_copy_has_high_containment_and_other_seed_low_similarity():
    body = clean_scrape(seed_paths()[0].read_text()).text
    spans = [m.span() for m in _UNIT.finditer(body)]
    truncated = "KYIV (Wire) - " + body[: spans[int(len(spans) * 0.7)][0]]
    j, c = estimate(_sig(body), _sig(truncated))
    assert c > 0.85 and j > 0.55
    other = clean_scrape(seed_paths()[2].read_text()).text
    j2, c2 = estimate(_sig(body), _sig(other))
    assert j2 < 0.1 and c2 < 0.2


def test_normalise_keeps_combining_marks_and_shingles_follow_the_script():
    # Hindi: re's \w split words at their vowel signs, so "पढ़ाई" became pieces
    assert normalise("छात्रों की पढ़ाई!") == "छात्रों की पढ़ाई"
    # a Japanese sentence is cut into 4-character shingles, a Latin one into 5-word shingles,
    # and a Latin name inside Japanese text stays one unit of its shingles
    ja = shingles(normalise("東京電力は福島第一原子力発電所の処理水を放出した"), 5)
    assert all(len(s.decode().split()) == 4 for s in ja) and len(ja) == 21
    en = shingles(normalise("the quick brown fox jumps over the lazy dog"), 5)
    assert [s.decode() for s in en][:2] == ["the quick brown fox jumps", "quick brown fox jumps over"]
    mixed = [s.decode() for s in shingles(normalise("東京電力 Tokyo Electric は発表"), 5)]
    assert "電 力 tokyo electric" in mixed


def test_a_truncated_copy_keeps_the_lead_keys():
    # the lead keys are MinHash values over the first 40 shingles: a copy cut to half shares
    # them all, a dateline changes few of them
    from worker.dedup.index import band_keys

    body = clean_scrape(seed_paths()[1].read_text()).text
    spans = [m.span() for m in _UNIT.finditer(body)]
    half = body[: spans[len(spans) // 2][0]]
    a, b = _sig(body), _sig(half)
    assert band_keys(a, 0, 1, 8) == band_keys(b, 0, 1, 8)
    c = _sig("ISTANBUL (Reuters) - " + half)
    assert sum(x == y for x, y in zip(band_keys(a, 0, 1, 8), band_keys(c, 0, 1, 8))) >= 4
