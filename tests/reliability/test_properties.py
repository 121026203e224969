"""Property-based tests (hypothesis) of the pure stages: cleaner, normaliser, signatures."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from worker.dedup.minhash import estimate, normalise, shingles, signature, text_hash
from worker.extract.text import clean_scrape

_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=3000)
_lines = st.lists(
    st.one_of(
        st.sampled_from(["Related Posts", "Top 5 This Week", "LEAVE A REPLY", "0", "Share", "Wednesday, June 25, 2025",
                         "by editor", "Discover more from Example News", ""]),
        st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=0x2FFF, blacklist_categories=("Cs",)), max_size=300),
    ),
    max_size=60,
)


@given(_text)
def test_normalise_is_idempotent_and_hash_stable(text):
    once = normalise(text)
    assert normalise(once) == once
    assert text_hash(once) == text_hash(normalise(text))
    assert once == once.strip() and "  " not in once


@given(_text)
def test_curly_and_straight_quotes_normalise_alike(text):
    curly = text.replace("'", "’").replace('"', "“")
    assert normalise(curly) == normalise(text)


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.text(alphabet="abcdefghij ", min_size=1, max_size=40), min_size=1, max_size=80))
def test_signatures_are_deterministic_and_estimates_bounded(parts):
    a = normalise(" ".join(parts))
    b = normalise(" ".join(reversed(parts)))
    sa, sb = signature(shingles(a or "x", 5), 128), signature(shingles(b or "x", 5), 128)
    assert sa == signature(shingles(a or "x", 5), 128)
    j, c = estimate(sa, sb)
    assert 0.0 <= j <= 1.0 and 0.0 <= c <= 1.0
    assert estimate(sa, sa) == (1.0, 1.0)
    assert len(sa.values) == 256


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(_lines)
def test_cleaner_never_invents_text_and_never_keeps_known_chrome(lines):
    raw = "\n".join(lines)
    article = clean_scrape(raw)
    source = {" ".join(ln.split()) for ln in raw.replace("\r", "\n").replace("\u00a0", " ").split("\n")}
    for para in article.text.split("\n\n") if article.text else []:
        assert para in source, "every output paragraph is an input line"
    for para in article.text.split("\n\n"):
        assert para not in {"Related Posts", "Top 5 This Week", "LEAVE A REPLY", "0", "Share", "Wednesday, June 25, 2025"}
    if article.title:
        assert article.title in source and article.title not in article.text.split("\n\n")
