"""The dedup rule: worker/dedup/decision.py is the reference, and the Lua script must decide the
same on random signatures (hypothesis), with the real script on the real Redis."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings as hsettings
from hypothesis import strategies as st

from worker.dedup.decision import Decision, Record, Thresholds, decide
from worker.dedup.index import DedupIndex, band_keys, pack_record, thresholds, url_fingerprint
from worker.dedup.minhash import Signature
from worker.settings import DedupSettings
from worker.store.keys import Keys

NOW = 1_900_000_000_000  # a fixed instant: every check lands in one slice


def _mutate(base: np.ndarray, changed: float, rng: np.random.Generator) -> bytes:
    out = base.copy()
    idx = rng.choice(len(out), size=int(round(len(out) * changed)), replace=False)
    out[idx] = rng.integers(0, 1 << 16, size=len(idx), dtype=np.uint16)
    return out.astype(">u2").tobytes()


article = st.tuples(
    st.sampled_from(["a", "b", "c", "d", "e", "f", "g"]),  # doc id: repeats are redeliveries
    st.sampled_from([0.0, 0.0, 0.05, 0.2, 0.4, 0.6, 0.9, 1.0]),  # share of values changed
    st.integers(1, 3000),  # shingles
    st.sampled_from(["t1", "t2", "t3", "t4", "t5"]),  # text (hash): equal ones are exact copies
    st.sampled_from([None, None, "https://x.example/1", "https://x.example/2"]),  # canonical URL
)


@hsettings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    articles=st.lists(article, min_size=1, max_size=8),
    seed=st.integers(0, 2**32 - 1),
    jt=st.sampled_from([0.5, 0.7, 0.9]),
    ct=st.sampled_from([0.6, 0.75, 0.85]),
    ratio=st.sampled_from([0.0, 0.4, 0.8]),
)
def test_the_script_decides_as_the_reference(client, keys, articles, seed, jt, ct, ratio):
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 1 << 16, size=128, dtype=np.uint16)
    dsettings = DedupSettings(expected_articles=1000, jaccard_threshold=jt, containment_threshold=ct,
                              min_length_ratio=ratio)
    sub = Keys(f"{keys.prefix}-{seed}-{jt}-{ct}-{ratio}")
    index = DedupIndex(client, sub, dsettings)
    t = thresholds(dsettings)  # what the script's header is written from
    assert t == Thresholds(jt, ct, ratio)
    stored: list[tuple[Record, tuple[int, ...], bytes]] = []  # inserted records, their keys, URL entry
    try:
        for doc_id, changed, size, text, url in articles:
            sig = Signature(_mutate(base, changed, rng), size)
            th = text.encode().hex().ljust(24, "0")
            url_fp = url_fingerprint(url) if url else b""
            mine = band_keys(sig, dsettings.bands, dsettings.rows, dsettings.lead_bands)
            rec = Record.unpack(pack_record(doc_id, th, sig, url_fp), 128)
            # the candidates in the order the script meets them: entry by entry, then by slot
            # (insertion order within one slice), each once
            cands: list[Record] = []
            for e, key in enumerate(mine):
                cands += [r for r, k, _ in stored if k[e] == key and r not in cands]
            if url_fp:
                cands += [r for r, _, u in stored if u[:4] == url_fp[:4] and r not in cands]
            expected = decide(rec, cands, t, has_url=bool(url_fp))
            got = index.check_and_insert(doc_id, th, sig, url, now_ms=NOW)
            assert Decision("dup" if got.is_duplicate else "new", got.canonical_id, got.method, got.similarity) == expected
            # the script stores every new article that did not find itself (a redelivery with
            # another signature is stored again under the same id)
            if expected.status == "new" and all(r.doc_id != doc_id for r in cands):
                stored.append((rec, mine, url_fp))
    finally:
        index.close()
        found = list(client.scan_iter(f"{sub.prefix}:*"))
        if found:
            client.delete(*found)


def test_precedence_is_exact_then_url_then_near():
    values = bytes(range(256))
    t = Thresholds(0.7, 0.85, 0.4)
    new = Record("n", 100, b"T" * 8, b"U" * 8, values)
    near = Record("near", 100, b"x" * 8, b"\0" * 8, values)
    url = Record("url", 100, b"y" * 8, b"U" * 8, values[:128] + bytes(128))
    exact = Record("exact", 5000, b"T" * 8, b"\0" * 8, bytes(256))
    assert decide(new, [near, url, exact], t, has_url=True).method == "exact"
    assert decide(new, [near, url], t, has_url=True) == Decision("dup", "url", "url", 0.5)
    assert decide(new, [near, url], t, has_url=False) == Decision("dup", "near", "near", 1.0)
    # a truncated copy: half the values equal, half the shingles: containment ~1, Jaccard 0.5
    half = Record("orig", 200, b"z" * 8, b"\0" * 8, values[:128] + bytes(128))
    assert decide(new, [half], t, has_url=False) == Decision("dup", "orig", "near", 1.0)
    # ... but not when the copy is under min_length_ratio of the original
    long = Record("long", 1000, b"z" * 8, b"\0" * 8, values[:128] + bytes(128))
    assert decide(new, [long], t, has_url=False).status == "new"
    # a redelivered input finds itself: new, whatever else matched first
    assert decide(new, [near, Record("n", 100, b"T" * 8, b"U" * 8, values)], t, has_url=True).status == "new"
