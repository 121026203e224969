"""The shared dedup index against a real Redis."""

from __future__ import annotations

import pytest

from tests.conftest import seed_paths
from worker.dedup.index import DedupIndex, IncompatibleIndex
from worker.dedup.minhash import normalise, shingles, signature, text_hash
from worker.extract.text import clean_scrape
from worker.settings import DedupSettings


def _check(index, doc_id, text, url=None):
    n = normalise(text)
    return index.check_and_insert(doc_id, text_hash(n), signature(shingles(n, 5), 128), url)


@pytest.fixture
def index(client, keys):
    return DedupIndex(client, keys, DedupSettings())


def test_seeds_are_new_and_their_copies_are_duplicates(index):
    bodies = [clean_scrape(p.read_text()).text for p in seed_paths()]
    for i, body in enumerate(bodies):
        assert not _check(index, f"seed{i}", body).is_duplicate
    exact = _check(index, "copy0", bodies[0].replace("’", "'"))
    assert (exact.is_duplicate, exact.canonical_id, exact.method) == (True, "seed0", "exact")
    words = bodies[1].split()
    near = _check(index, "copy1", "ISTANBUL (Reuters) - " + " ".join(words[: int(len(words) * 0.7)]))
    assert (near.is_duplicate, near.canonical_id, near.method) == (True, "seed1", "near")
    assert near.similarity >= 0.85


def test_a_redelivered_input_gets_the_same_decision(index):
    body = clean_scrape(seed_paths()[3].read_text()).text
    first = _check(index, "doc-a", body)
    again = _check(index, "doc-a", body)
    assert first == again and not again.is_duplicate


def test_same_canonical_url_is_a_duplicate(index):
    bodies = [clean_scrape(p.read_text()).text for p in seed_paths()]
    _check(index, "u1", bodies[0], url="https://example.com/a")
    d = _check(index, "u2", bodies[4], url="https://example.com/a")
    assert (d.is_duplicate, d.method, d.canonical_id) == (True, "url", "u1")


def test_entries_expire_with_the_window(client, keys):
    index = DedupIndex(client, keys, DedupSettings(window_seconds=100))
    _check(index, "e1", clean_scrape(seed_paths()[0].read_text()).text)
    ttls = [client.ttl(k) for k in client.scan_iter(f"{keys.prefix}:dd:*") if not k.endswith(b":meta")]
    assert ttls and all(0 < t <= 100 for t in ttls)


def test_an_index_built_with_another_scheme_is_refused(client, keys):
    DedupIndex(client, keys, DedupSettings()).ensure_scheme()
    with pytest.raises(IncompatibleIndex):
        DedupIndex(client, keys, DedupSettings(num_perm=64)).ensure_scheme()
