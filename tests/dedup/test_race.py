"""Two worker processes ingesting copies of the same article at the same moment: exactly one
canonical article per set of copies (the check and the insert are one Lua script)."""

from __future__ import annotations

import multiprocessing as mp
import random

from tests.conftest import seed_paths
from worker.dedup.minhash import normalise, shingles, signature, text_hash
from worker.extract.text import clean_scrape

ROUNDS = 40


def _worker(name, redis_url, prefix, jobs, barrier, results):
    """One worker process: its own client and index, one check per round, all released together."""
    import redis

    from worker.dedup.index import DedupIndex
    from worker.settings import DedupSettings
    from worker.store.keys import Keys

    index = DedupIndex(redis.Redis.from_url(redis_url), Keys(prefix), DedupSettings(expected_articles=1000))
    out = []
    for doc_id, thash, sig in jobs:
        barrier.wait(timeout=30)
        d = index.check_and_insert(doc_id, thash, sig, None)
        out.append((doc_id, d.is_duplicate, d.canonical_id))
    results.put((name, out))


def _job(doc_id, text):
    n = normalise(text)
    return doc_id, text_hash(n), signature(shingles(n, 5), 128)


def test_two_processes_with_simultaneous_copies_make_exactly_one_canonical_article(redis_url, prefix):
    vocabulary = sorted({w for p in seed_paths() for w in clean_scrape(p.read_text()).text.split()})
    rng = random.Random(4)
    jobs_a, jobs_b = [], []
    for r in range(ROUNDS):
        # each round a fresh article (400 words drawn from the seeds' vocabulary), ingested by
        # both workers at once: as is in even rounds, as a truncated wire copy in odd ones
        words = rng.choices(vocabulary, k=400)
        original = " ".join(words)
        copy = original if r % 2 == 0 else "WIRE - " + " ".join(words[: int(len(words) * 0.7)])
        jobs_a.append(_job(f"a{r}", original))
        jobs_b.append(_job(f"b{r}", copy))
    ctx = mp.get_context("spawn")
    barrier, results = ctx.Barrier(2), ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(n, redis_url, prefix, jobs, barrier, results))
             for n, jobs in (("a", jobs_a), ("b", jobs_b))]
    for p in procs:
        p.start()
    got = dict(results.get(timeout=120) for _ in procs)
    for p in procs:
        p.join(timeout=30)
        assert p.exitcode == 0
    winners = {"a": 0, "b": 0}
    for (a_id, a_dup, a_canon), (b_id, b_dup, b_canon) in zip(got["a"], got["b"]):
        assert a_dup != b_dup, (a_id, b_id)  # exactly one canonical article per round
        canonical = b_id if a_dup else a_id
        assert a_canon == b_canon == canonical
        winners["b" if a_dup else "a"] += 1
    assert sum(winners.values()) == ROUNDS
