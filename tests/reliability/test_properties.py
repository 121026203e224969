"""Property-based tests (hypothesis) of the pure stages: cleaner, normaliser, signatures, and the
extract stage on mutated pages."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from worker.dedup.minhash import estimate, normalise, shingles, signature, text_hash
from worker.errors import PermanentError
from worker.extract import extract_document
from worker.extract.text import clean_scrape
from worker.threads.cluster import features, lead

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


# -- hostile inputs: every mutation of a real page ends as an article or a structured refusal --

_PAGES = [p.read_bytes() for p in sorted((Path(__file__).resolve().parents[1] / "resources").rglob("*.html"))[:12]]
_PAGES += [p.read_bytes() for p in sorted((Path(__file__).resolve().parents[2] / "seeds").glob("*.txt"))]


def _mutate(page: bytes, kind: int, at: int, byte: int) -> bytes:
    cut = at % (len(page) + 1)
    if kind == 0:  # cut anywhere, mid-tag or mid-character
        return page[:cut]
    if kind == 1:  # a run of flipped bytes
        return page[:cut] + bytes([byte]) * 7 + page[cut + 7:]
    if kind == 2:  # control characters XML refuses, in text and in tags
        return page[:cut] + b"\x00\x0b\x1f" + page[cut:]
    if kind == 3:  # re-encoded as UTF-16, no charset declared
        return page.decode("utf-8", "replace").encode("utf-16")
    if kind == 4:  # deep nesting in front of the page
        return b"<div>" * 5000 + page
    if kind == 5:  # an entity-expansion (billion laughs) preamble
        return (b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a 'aaaaaaaaaa'>"
                b"<!ENTITY b '&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;'><!ENTITY c '&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;'>]>"
                b"<p>&c;&c;&c;&c;</p>" + page)
    if kind == 6:  # both halves swapped: the head after the body
        return page[cut:] + page[:cut]
    return bytes((b * byte + at) % 256 for b in page[:2000])  # noise of the page's length


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(range(len(_PAGES))), st.integers(0, 7), st.integers(0, 1 << 20), st.integers(0, 255),
       st.sampled_from(["page.html", "scrape.txt", "no extension", "ünï cödé.htm"]),
       st.sampled_from([None, "text/html", "text/html; charset=bogus", "application/octet-stream"]))
def test_a_mutated_page_is_an_article_or_a_structured_refusal(page, kind, at, byte, uri, content_type):
    raw = _mutate(_PAGES[page], kind, at, byte)
    try:
        article = extract_document(raw, uri=uri, content_type=content_type, max_bytes=5_000_000, min_words=20)
    except PermanentError as exc:  # a dead letter with its reason; anything else would crash the task
        assert str(exc)
        return
    assert article.text.strip()
    feats = features(article.title, lead(article.text), article.language)
    assert all(w > 0 for w in feats.counts.values())
    signature(shingles(normalise(article.text) or "x", 5), 128)
