"""The shared dedup index against a real Redis."""

from __future__ import annotations

import time

import pytest

from tests.conftest import seed_paths
from worker.dedup.index import DedupIndex, IncompatibleIndex
from worker.dedup.minhash import normalise, shingles, signature, text_hash
from worker.extract.text import clean_scrape
from worker.settings import DedupSettings


def _check(index, doc_id, text, url=None):
    n = normalise(text)
    return index.check_and_insert(doc_id, text_hash(n), signature(shingles(n, 5), 128), url)


def _bodies():
    return [clean_scrape(p.read_text()).text for p in seed_paths()]


@pytest.fixture
def index(client, keys):
    return DedupIndex(client, keys, DedupSettings(expected_articles=1000))


def test_seeds_are_new_and_their_copies_are_duplicates(index):
    bodies = _bodies()
    for i, body in enumerate(bodies):
        assert not _check(index, f"seed{i}", body).is_duplicate
    exact = _check(index, "copy0", bodies[0].replace("’", "'"))
    assert (exact.is_duplicate, exact.canonical_id, exact.method) == (True, "seed0", "exact")
    words = bodies[1].split()
    near = _check(index, "copy1", "ISTANBUL (Reuters) - " + " ".join(words[: int(len(words) * 0.7)]))
    assert (near.is_duplicate, near.canonical_id, near.method) == (True, "seed1", "near")
    assert near.similarity >= 0.85


def test_a_redelivered_input_gets_the_same_decision(index):
    bodies = _bodies()
    first = _check(index, "doc-a", bodies[3])
    again = _check(index, "doc-a", bodies[3])
    assert first == again and not again.is_duplicate
    dup = _check(index, "doc-b", bodies[3])
    assert (dup.is_duplicate, dup.canonical_id) == (True, "doc-a")
    assert _check(index, "doc-b", bodies[3]) == dup


def test_same_canonical_url_is_a_duplicate(index):
    bodies = _bodies()
    _check(index, "u1", bodies[0], url="https://example.com/a")
    d = _check(index, "u2", bodies[4], url="https://example.com/a")
    assert (d.is_duplicate, d.method, d.canonical_id) == (True, "url", "u1")
    assert not _check(index, "u3", bodies[2], url="https://example.com/b").is_duplicate


def test_every_key_the_script_writes_is_named_by_keys_and_has_a_ttl(client, keys):
    window = 3600
    index = DedupIndex(client, keys, DedupSettings(window_seconds=window, slices=3, expected_articles=100))
    for i, body in enumerate(_bodies()):
        _check(index, f"k{i}", body, url=f"https://example.com/{i}")
    found = {k.decode() for k in client.scan_iter(f"{keys.prefix}:*")}
    slice_no = int(client.time()[0] * 1000 // (window * 1000 // 3))
    assert found == {keys.dedup_meta, keys.dedup_table(slice_no, 0), keys.dedup_records(slice_no, 0)}
    for key in found:
        # a slice lives until one window after it closes: at most window + slice
        assert 0 < client.pttl(key) <= (window + window / 3) * 1000


def test_entries_expire_after_the_window_and_leave_nothing(client, keys):
    # window 2 s in 2 slices of 1 s: everything is gone at most 3 s after its insert
    index = DedupIndex(client, keys, DedupSettings(window_seconds=2, slices=2, expected_articles=100))
    body = _bodies()[0]
    assert not _check(index, "e1", body).is_duplicate
    assert _check(index, "e2", body).is_duplicate
    assert all(client.pttl(k) > 0 for k in client.scan_iter(f"{keys.prefix}:*"))
    deadline = time.monotonic() + 10
    while list(client.scan_iter(f"{keys.prefix}:*")) and time.monotonic() < deadline:
        time.sleep(0.25)
    assert list(client.scan_iter(f"{keys.prefix}:*")) == []
    # and the article is no longer known: its copy is new again
    assert not _check(index, "e3", body).is_duplicate


def test_an_index_built_with_another_scheme_is_refused(client, keys):
    body = _bodies()[0]
    _check(DedupIndex(client, keys, DedupSettings()), "s1", body)
    other = DedupIndex(client, keys, DedupSettings(num_perm=64))
    with pytest.raises(IncompatibleIndex):
        other.ensure_scheme()
    with pytest.raises(IncompatibleIndex, match="num_perm"):
        n = normalise(body)
        other.check_and_insert("s2", text_hash(n), signature(shingles(n, 5), 64), None)


def test_a_slice_over_its_expected_size_opens_a_bigger_table(client, keys):
    index = DedupIndex(client, keys, DedupSettings(expected_articles=3, slices=1))
    import numpy as np

    from worker.dedup.minhash import Signature

    rng = np.random.default_rng(3)
    for i in range(60):
        values = rng.integers(0, 1 << 16, size=128, dtype=np.uint16).astype(">u2").tobytes()
        assert not index.check_and_insert(f"r{i}", f"{i:024x}", Signature(values, 300), None).is_duplicate
    tables = [k for k in client.scan_iter(f"{keys.prefix}:dd:*:t:*")]
    assert len(tables) > 1
    # every one of them is still found
    rng = np.random.default_rng(3)
    for i in range(60):
        values = rng.integers(0, 1 << 16, size=128, dtype=np.uint16).astype(">u2").tobytes()
        d = index.check_and_insert(f"again{i}", f"{i + 1000:024x}", Signature(values, 300), None)
        assert (d.is_duplicate, d.canonical_id) == (True, f"r{i}")
