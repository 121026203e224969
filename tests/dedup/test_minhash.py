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
    assert all(len(s.split()) == 4 for s in ja) and len(ja) == 21
    en = shingles(normalise("the quick brown fox jumps over the lazy dog"), 5)
    assert list(en)[:2] == ["the quick brown fox jumps", "quick brown fox jumps over"]
    mixed = [s for s in shingles(normalise("東京電力 Tokyo Electric は発表"), 5)]
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


def test_the_spaced_fast_path_makes_the_shingles_the_unit_by_unit_rule_makes():
    """Text with no unspaced-script character takes a zip of the words; it must give the very
    shingles, in the same order, that deciding unit by unit gives (Latin, Cyrillic, Arabic,
    Hebrew, Devanagari and Greek text, repeated phrases, texts of 5-7 words)."""
    from worker.dedup.minhash import _by_unit

    texts = [clean_scrape(p.read_text()).text for p in seed_paths()] + [
        "Москва заявила о новых санкциях против компаний из трёх стран в понедельник вечером",
        "قالت الحكومة إن المفاوضات ستستأنف الأسبوع المقبل في القاهرة بحضور الوسطاء",
        "הממשלה אישרה את התקציב החדש לאחר דיון ארוך בכנסת ביום שלישי",
        "सरकार ने सोमवार को नई शिक्षा नीति की घोषणा की और राज्यों से सुझाव मांगे",
        "η κυβέρνηση ανακοίνωσε νέα μέτρα για την ενέργεια",
        "a b c d e a b c d e a b c d e", "one two three four five six", "one two three four five six seven",
    ]
    for text in texts:
        n = normalise(text)
        words = n.split()
        for size in (3, 5):
            if len(words) > size:
                assert list(shingles(n, size)) == list(_by_unit(words, size)), (text[:40], size)


def test_signatures_are_the_same_in_every_process():
    """Workers on other machines must compute the same signature for the same text: the MinHash
    may not depend on anything of the process (Python's hash seed, a random hasher state)."""
    import os
    import subprocess
    import sys

    text = clean_scrape(seed_paths()[0].read_text()).text
    code = ("import sys; from worker.dedup.minhash import normalise, shingles, signature; "
            "s = signature(shingles(normalise(sys.stdin.read()), 5), 128); print(s.values.hex(), s.keys.hex())")
    here = _sig(text)
    for seed in ("0", "12345"):
        out = subprocess.run([sys.executable, "-c", code], input=text, capture_output=True, text=True, check=True,
                             env={**os.environ, "PYTHONHASHSEED": seed}).stdout.split()
        assert out == [here.values.hex(), here.keys.hex()]
