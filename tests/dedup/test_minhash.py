from __future__ import annotations

from tests.conftest import seed_paths
from worker.dedup.minhash import estimate, normalise, shingles, signature, text_hash
from worker.extract.text import clean_scrape


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
    words = body.split()
    truncated = "KYIV (Wire) - " + " ".join(words[: int(len(words) * 0.7)])
    j, c = estimate(_sig(body), _sig(truncated))
    assert c > 0.85 and j > 0.55
    other = clean_scrape(seed_paths()[2].read_text()).text
    j2, c2 = estimate(_sig(body), _sig(other))
    assert j2 < 0.1 and c2 < 0.2
