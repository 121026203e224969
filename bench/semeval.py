"""Storyline's dedup similarity and decisions on the SemEval-2022 Task 8 English-English pairs,
against the human Overall label (1 = very similar ... 4 = very dissimilar).

    .venv/bin/python bench/semeval.py            # private redis-server on a free port
    .venv/bin/python bench/semeval.py --redis redis://127.0.0.1:6379/15

Every text first passes the extract stage's prose gate, as in the pipeline (a registration wall
or a 13-word stub is refused there and never reaches dedup); such pairs are listed apart.
For each pair: Jaccard and containment estimated from the same 128 x 16-bit MinHash signatures
the index stores, and the decision of the real index (``DedupIndex.check_and_insert``: text 1
indexed, then text 2 checked, under a prefix of the pair's own, deleted afterwards), so LSH
misses count too. Prints, per rounded Overall label: pairs, mean and max Jaccard, mean
containment, share marked duplicate; then every pair marked duplicate. Exits 1 if a pair rated
3 or 4 (different stories) is marked a duplicate.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
import tempfile
import uuid
from collections import defaultdict
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.dedup import delete_prefix, start_private_redis  # noqa: E402
from worker.dedup.index import DedupIndex  # noqa: E402
from worker.dedup.minhash import estimate, normalise, shingles, signature, text_hash  # noqa: E402
from worker.errors import StorylineError  # noqa: E402
from worker.extract import check_prose  # noqa: E402
from worker.settings import DedupSettings, LimitSettings  # noqa: E402
from worker.store.keys import Keys  # noqa: E402

DATA = ROOT / "bench" / "data" / "semeval2022-task8" / "pairs.csv"


def _gate(text: str) -> str | None:
    """The extract stage's prose gate on a text: None when it passes, else the refusal."""
    limits = LimitSettings()
    try:
        check_prose(text, min_words=limits.min_words, max_words=limits.max_words)
    except StorylineError as exc:
        return str(exc)
    return None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--redis", default=None)
    args = ap.parse_args()
    settings = DedupSettings(expected_articles=100)  # two articles per prefix: tiny tables
    tmp = tempfile.TemporaryDirectory()
    proc = None
    url = args.redis
    if not url:
        proc, url = start_private_redis(tmp.name)
    client = redis.Redis.from_url(url)
    csv.field_size_limit(10**8)
    rows = list(csv.DictReader(DATA.open(newline="")))
    by_label: dict[int, list[tuple[float, float, bool]]] = defaultdict(list)
    marked = []
    refused: list[tuple[str, float, float, str]] = []
    try:
        for row in rows:
            sigs, hashes = [], []
            for text in (row["text1"], row["text2"]):
                norm = normalise(text)
                sigs.append(signature(shingles(norm, settings.shingle_size), settings.num_perm))
                hashes.append(text_hash(norm))
            j, c = estimate(sigs[0], sigs[1])
            label = round(float(row["Overall"]))
            refusal = _gate(row["text1"]) or _gate(row["text2"])
            if refusal:
                # the extract stage refuses this text, so the pipeline never asks dedup about it
                refused.append((row["pair_id"], float(row["Overall"]), j, refusal))
                by_label[label].append((j, c, False))
                continue
            prefix = f"semeval-{uuid.uuid4().hex[:8]}"
            index = DedupIndex(client, Keys(prefix), settings)
            index.check_and_insert("a", hashes[0], sigs[0], None)
            d = index.check_and_insert("b", hashes[1], sigs[1], None)
            delete_prefix(client, f"{prefix}:*")
            by_label[label].append((j, c, d.is_duplicate))
            if d.is_duplicate:
                marked.append((row["pair_id"], float(row["Overall"]), j, c, d.method, d.similarity))
    finally:
        if proc:
            proc.terminate()
            proc.wait(timeout=10)
        tmp.cleanup()

    print(f"{len(rows)} English-English original pairs; thresholds: Jaccard >= {settings.jaccard_threshold}, "
          f"or containment >= {settings.containment_threshold} with length ratio >= {settings.min_length_ratio}\n")
    print(f"{'Overall':>7} {'pairs':>5} {'mean J':>7} {'max J':>6} {'mean C':>7} {'max C':>6} {'duplicate':>9}")
    for label in sorted(by_label):
        xs = by_label[label]
        js, cs, dups = [x[0] for x in xs], [x[1] for x in xs], [x[2] for x in xs]
        print(f"{label:>7} {len(xs):>5} {statistics.mean(js):>7.3f} {max(js):>6.3f} {statistics.mean(cs):>7.3f} "
              f"{max(cs):>6.3f} {sum(dups) / len(xs):>9.1%}")
    print(f"\npairs with a text the extract stage refuses (never reaches dedup): {len(refused)}")
    for pid, overall, j, why in refused:
        print(f"  {pid}  Overall {overall:.2f}  J {j:.3f}  {why[:90]}")
    print(f"\nmarked duplicate: {len(marked)}")
    for pid, overall, j, c, method, sim in marked:
        print(f"  {pid}  Overall {overall:.2f}  J {j:.3f}  C {c:.3f}  {method} {sim:.3f}")
    bad = [m for m in marked if round(m[1]) >= 3]
    print(f"\npairs rated 3 or 4 marked duplicate: {len(bad)}")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
