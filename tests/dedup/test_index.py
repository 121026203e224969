"""The shared dedup index against a real Redis."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from tests.conftest import seed_paths
from worker.dedup.index import DedupIndex
from worker.errors import IncompatibleIndex
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
    assert found == {keys.dedup_meta, keys.dedup_ring, keys.dedup_records(slice_no, 0)}
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


def test_an_index_of_the_last_release_is_refused(client, keys):
    # what layout 4 / scheme 1 (split() shingles, 8 x 2 bands) stored in the meta hash: the
    # script compares digests, and the error names what differs
    import hashlib
    import json

    from worker.dedup.index import index_scheme

    old = {k: v for k, v in index_scheme(DedupSettings()).items()
           if k not in ("shingle_unspaced_chars", "units", "lead", "lead_bands")}
    old.update(scheme_version="1", rows="2", bands="8", record_layout="4/32/256/8")
    old_json = json.dumps(old, sort_keys=True)
    client.hset(keys.dedup_meta, mapping={
        "digest": hashlib.blake2b(old_json.encode(), digest_size=8).hexdigest(), "scheme": old_json})
    index = DedupIndex(client, keys, DedupSettings())
    with pytest.raises(IncompatibleIndex, match="scheme_version"):
        index.ensure_scheme()
    with pytest.raises(IncompatibleIndex, match="record_layout"):
        _check(index, "x1", _bodies()[0])


def test_a_slice_over_its_expected_size_opens_a_bigger_table(client, keys):
    index = DedupIndex(client, keys, DedupSettings(expected_articles=3, slices=1))
    import numpy as np

    from worker.dedup.minhash import Signature

    rng = np.random.default_rng(3)
    for i in range(60):
        values = rng.integers(0, 1 << 16, size=128, dtype=np.uint16).astype(">u2").tobytes()
        assert not index.check_and_insert(f"r{i}", f"{i:024x}", Signature(values, 300), None).is_duplicate
    # the slice's part of the ring, then overflow tables
    assert client.exists(keys.dedup_ring)
    assert [k for k in client.scan_iter(f"{keys.prefix}:dd:*:t:*")]
    # every one of them is still found
    rng = np.random.default_rng(3)
    for i in range(60):
        values = rng.integers(0, 1 << 16, size=128, dtype=np.uint16).astype(">u2").tobytes()
        d = index.check_and_insert(f"again{i}", f"{i + 1000:024x}", Signature(values, 300), None)
        assert (d.is_duplicate, d.canonical_id) == (True, f"r{i}")


def test_a_ring_position_that_comes_round_again_forgets_the_dead_slice(client, keys):
    # window 4 days in 2 slices: 3 live slices share the ring; slice s and s + 3 take the same
    # position. A tiny ring (40 articles) makes the second slice land on the first's buckets.
    import numpy as np

    from worker.dedup.minhash import Signature

    day = 24 * 3600 * 1000
    settings = DedupSettings(window_seconds=4 * 24 * 3600, slices=2, expected_articles=40)
    index = DedupIndex(client, keys, settings)
    start = (int(client.time()[0] * 1000) // (2 * day) + 100) * 2 * day  # a future slice start
    rng = np.random.default_rng(11)
    first = [rng.integers(0, 1 << 16, 128, dtype=np.uint16).astype(">u2").tobytes() for _ in range(40)]
    second = [rng.integers(0, 1 << 16, 128, dtype=np.uint16).astype(">u2").tobytes() for _ in range(40)]

    def check(doc_id, values, when):
        return index.check_and_insert(doc_id, doc_id.encode().hex().ljust(24, "0")[:24], Signature(values, 300),
                                      None, now_ms=when)

    for i, values in enumerate(first):
        assert not check(f"a{i}", values, start).is_duplicate
    # five days on (two slices later) the first slice is still live: every copy is found
    for i, values in enumerate(first):
        d = check(f"a-copy{i}", values, start + 5 * day)
        assert (d.is_duplicate, d.canonical_id) == (True, f"a{i}")
    # six days on, the first slice's position is the current slice's: its articles are gone,
    # and the new slice's articles are stored over its sub-buckets and found again
    for i, values in enumerate(second):
        assert not check(f"b{i}", values, start + 6 * day).is_duplicate
    for i, values in enumerate(second):
        d = check(f"b-copy{i}", values, start + 6 * day)
        assert (d.is_duplicate, d.canonical_id) == (True, f"b{i}")
    # the copies at five days were duplicates (never indexed), so nothing holds the first
    # slice's articles any more: they are new again
    for i, values in enumerate(first):
        assert not check(f"a-again{i}", values, start + 6 * day).is_duplicate


def test_a_check_survives_a_flushed_script_and_a_killed_connection(client, keys, index):
    bodies = _bodies()
    assert not _check(index, "f1", bodies[0]).is_duplicate
    client.script_flush()  # e.g. a Redis restart without persistence of scripts
    assert _check(index, "f2", bodies[0]).canonical_id == "f1"
    # the server drops the index's own connection (idle timeout, failover, CLIENT KILL)
    host, port = index._fast.connection()._sock.getsockname()[:2]
    assert client.client_kill_filter(addr=f"{host}:{port}") == 1
    assert _check(index, "f3", bodies[0]).canonical_id == "f1"
    assert not _check(index, "f4", bodies[1]).is_duplicate


def test_threads_sharing_one_index_each_get_their_own_answer(client, keys, index):
    # a threads pool shares the process's pipeline: replies must not cross between threads
    from concurrent.futures import ThreadPoolExecutor

    bodies = _bodies()
    for i, body in enumerate(bodies):
        assert not _check(index, f"t{i}", body).is_duplicate

    def copy_of(i):
        return _check(index, f"t-copy{i}-{threading.get_ident()}", bodies[i % len(bodies)]).canonical_id

    with ThreadPoolExecutor(max_workers=8) as pool:
        found = list(pool.map(copy_of, range(400)))
    assert found == [f"t{i % len(bodies)}" for i in range(400)]


def test_indexes_built_and_dropped_give_their_connections_back(client, keys):
    # redis-py's pool allows 100 connections by default; a process that builds an index per
    # job (bench/semeval.py builds one per pair) must not run out (MaxConnectionsError)
    import gc

    body = _bodies()[0]
    pool = client.connection_pool
    for i in range(pool.max_connections + 20):
        index = DedupIndex(client, keys, DedupSettings(expected_articles=100))
        _check(index, f"g{i}", body)
    del index
    gc.collect()
    # one index alive at a time: its connection and the client's own, reused throughout
    assert not pool._in_use_connections, "a dropped index kept its connection checked out"
    assert pool._created_connections <= 3, f"{pool._created_connections} connections for one index at a time"


def _random_values(rng, n):
    return [rng.integers(0, 1 << 16, 128, dtype=np.uint16).astype(">u2").tobytes() for _ in range(n)]


def test_entries_sit_in_the_buckets_their_hashes_name(client, keys):
    # the worker computes the entry hashes and the script stores by them: the layout the
    # script's header comment describes, checked byte by byte
    from worker.dedup.index import band_keys, entry_hashes, entries_per_article, url_fingerprint
    from worker.dedup.minhash import Signature

    settings = DedupSettings(expected_articles=3000)
    index = DedupIndex(client, keys, settings)
    values = _random_values(np.random.default_rng(5), 1)[0]
    now = int(client.time()[0]) * 1000
    assert not index.check_and_insert("e1", "ab" * 12, Signature(values, 300), "https://x.example/1",
                                      now_ms=now).is_duplicate
    ring_buckets = int(client.hget(keys.dedup_meta, "ring"))
    cur = now // (settings.window_seconds * 1000 // settings.slices)
    live = settings.slices + 1
    sub_bytes = 3 + 8 * 5
    ring = client.get(keys.dedup_ring)
    assert len(ring) == ring_buckets * (2 + live * sub_bytes)
    keys_ = band_keys(Signature(values, 300), settings.bands, settings.rows, settings.lead_bands)
    hashes = entry_hashes(keys_, url_fingerprint("https://x.example/1"))
    assert len(hashes) == 4 * entries_per_article(settings) == 4 * (settings.bands + settings.lead_bands + 1)
    for e in range(entries_per_article(settings)):
        h = int.from_bytes(hashes[4 * e : 4 * e + 4], "big")
        at = (h % ring_buckets) * (2 + live * sub_bytes) + 2 + (cur % live) * sub_bytes
        stamp, count = int.from_bytes(ring[at : at + 2], "big"), ring[at + 2]
        slots = [ring[at + 3 + 5 * i : at + 8 + 5 * i] for i in range(count)]
        assert stamp == cur % 65536
        assert hashes[4 * e : 4 * e + 2] + (1).to_bytes(3, "big") in slots


def test_entries_past_a_full_bucket_are_found_through_its_overflow_stamp(client, keys):
    # a ring sized for 30 articles a window holds 15 of the current slice before an overflow
    # table opens: 180 entries (12 LSH keys each) in 33 buckets of 8, so some go on to the
    # next bucket
    from worker.dedup.minhash import Signature

    settings = DedupSettings(expected_articles=30, slices=3)
    index = DedupIndex(client, keys, settings)
    rng = np.random.default_rng(9)
    originals = _random_values(rng, 15)
    for i, values in enumerate(originals):
        assert not index.check_and_insert(f"o{i}", f"{i:024x}", Signature(values, 300), None).is_duplicate
    assert not list(client.scan_iter(f"{keys.prefix}:dd:*:t:*")), "sized so that no overflow table opens"
    ring = client.get(keys.dedup_ring)
    ring_buckets = int(client.hget(keys.dedup_meta, "ring"))
    width = len(ring) // ring_buckets
    cur = int(client.time()[0]) * 1000 // (settings.window_seconds * 1000 // settings.slices)
    stamped = sum(int.from_bytes(ring[j * width : j * width + 2], "big") == cur % 65536 for j in range(ring_buckets))
    assert stamped > 0, "no entry went past its bucket: the test does not test chains"
    # a copy that shares one LSH key with its original (the other keys' values replaced) can be
    # found only through that key's entry, wherever it went (a synthetic signature's keys are
    # its 16-bit values read two at a time: bands, then lead keys)
    key_bytes = 4 * settings.rows
    n_keys = settings.bands + settings.lead_bands
    for i, values in enumerate(originals):
        for b in range(n_keys):
            others = bytearray(_random_values(rng, 1)[0][: n_keys * key_bytes])
            others[b * key_bytes : (b + 1) * key_bytes] = values[b * key_bytes : (b + 1) * key_bytes]
            copy = bytes(others) + values[n_keys * key_bytes :]
            d = index.check_and_insert(f"copy{i}-{b}", f"{i * 10 + b + 1000:024x}", Signature(copy, 300), None)
            assert (d.is_duplicate, d.canonical_id) == (True, f"o{i}"), (i, b)
    for i, values in enumerate(_random_values(rng, 16)):
        assert not index.check_and_insert(f"other{i}", f"{i + 200:024x}", Signature(values, 300), None,
                                          ).is_duplicate


def test_entry_hashes_follow_the_formula_for_real_and_synthetic_keys():
    # the script trusts these bytes: band b's entry is (key % p * 1000003 + 40503 b + 7) % p,
    # the URL's follows the keys; a real signature's keys are its 32-bit values then the lead's
    from worker.dedup.index import _HASH_PRIME, band_keys, entry_hashes
    from worker.dedup.minhash import LEAD_PERM, Signature, normalise, shingles, signature

    def formula(words):
        return b"".join(((w % _HASH_PRIME * 1000003 + b * 40503 + 7) % _HASH_PRIME).to_bytes(4, "big")
                        for b, w in enumerate(words))

    rng = np.random.default_rng(2)
    for values in _random_values(rng, 50):
        url_fp = bytes(rng.integers(0, 256, 8, dtype=np.uint8))
        words = [int.from_bytes(values[4 * b : 4 * b + 4], "big") for b in range(12)]
        keys_ = band_keys(Signature(values, 300), 8, 1, 4)
        assert keys_ == tuple(words)
        assert entry_hashes(keys_, url_fp) == formula(words + [int.from_bytes(url_fp[:4], "big")])
        assert entry_hashes(keys_, b"") == formula(words)
        # rows=2: a band is two 32-bit values read as one number
        two = band_keys(Signature(values, 300), 4, 2, 0)
        assert two[0] == int.from_bytes(values[:8], "big")
    sig = signature(shingles(normalise(_bodies()[0]), 5), 128)
    full = [int.from_bytes(sig.keys[4 * i : 4 * i + 4], "big") for i in range(len(sig.keys) // 4)]
    assert len(full) == 128 + LEAD_PERM
    assert [v & 0xFFFF for v in full[:128]] == [int.from_bytes(sig.values[2 * i : 2 * i + 2], "big") for i in range(128)]
    assert band_keys(sig, 8, 1, 4) == (*full[:8], *full[128:132])
