"""Recall of the dedup index on real articles: truncated wire copies found, distinct articles kept.

For every article of the corpus (bench/dedup_corpus.py: >= 2,000 real texts from the
development sets, cached under bench/results/), copies are made at each truncation level (the
first 90/80/70/60/50% of its units, cut at a unit boundary), plain or "wire" (a dateline in front
and light edits: one unit in 100, at least two, deleted, repeated or replaced by another unit of
the text). The originals are indexed through the real script; then every copy is checked
against them. A copy is found when the index answers "duplicate of its original". Distinct
articles wrongly merged: originals answered "duplicate" while being indexed, over the pairs of
originals checked (n (n - 1) / 2); those whose true 5-shingle containment is >= 0.8 are real
copies inside the corpus and are counted apart.

The same copies also go through the candidate stage alone, in Python, for several LSH layouts
(``compare_layouts``): share of copies that become candidates, entries per article (each one a
read and a slot of Redis) and distinct candidates per check.

    .venv/bin/python bench/dedup.py --recall            # with the speed figures
    .venv/bin/python bench/dedup_recall.py --limit 300  # a quick look at the layouts alone
"""

from __future__ import annotations

import argparse
import random
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.dedup_corpus import load  # noqa: E402
from worker.dedup.minhash import LEAD_PERM, normalise, shingles, signature, text_hash  # noqa: E402
from worker.words import _UNIT, is_unspaced  # noqa: E402

LEVELS = (0.9, 0.8, 0.7, 0.6, 0.5)
DATELINES = ("PARIS (Reuters) - ", "WASHINGTON (AP) — ", "BERLIN, 12 March (dpa) - ", "LONDON (AFP) -- ")
DATELINES_UNSPACED = ("【新华社北京3月12日电】", "（共同）", "北京（记者 王伟）—— ")


@dataclass(frozen=True)
class Copy:
    of: int  # index of the original
    level: float
    wire: bool
    text: str


def truncate(text: str, level: float) -> str:
    spans = [m.span() for m in _UNIT.finditer(text)]
    keep = max(1, round(len(spans) * level))
    return text[: spans[keep - 1][1]]


def light_edits(text: str, rng: random.Random) -> str:
    """One unit in 100 (at least two) deleted, repeated or replaced by another of the text's."""
    spans = [m.span() for m in _UNIT.finditer(text)]
    if len(spans) < 10:
        return text
    n = max(2, len(spans) // 100)
    picks = sorted(rng.sample(range(len(spans)), n), reverse=True)
    for i in picks:
        a, b = spans[i]
        other = spans[rng.randrange(len(spans))]
        kind = rng.randrange(3)
        if kind == 0:
            text = text[:a] + text[b:]
        elif kind == 1:
            text = text[:b] + " " + text[a:b] + text[b:]
        else:
            text = text[:a] + text[other[0] : other[1]] + text[b:]
    return text


def wire(text: str, rng: random.Random) -> str:
    lines = DATELINES_UNSPACED if is_unspaced(text) else DATELINES
    return rng.choice(lines) + light_edits(text, rng)


def make_copies(texts: list[str], seed: int = 18) -> list[Copy]:
    rng = random.Random(seed)
    out = []
    for i, text in enumerate(texts):
        for level in LEVELS:
            cut = truncate(text, level)
            out.append(Copy(i, level, False, cut))
            out.append(Copy(i, level, True, wire(cut, rng)))
    return out


def corpus(limit: int | None = None) -> list[dict[str, str]]:
    rows = load()
    if limit:
        rows = random.Random(5).sample(rows, min(limit, len(rows)))
    return rows


# -- candidate layouts, compared in Python --------------------------------------------------

def _keys(sig, layout: str) -> list[tuple[int, int]]:
    """(slot number, 32-bit key) of each LSH entry of a signature under a layout."""
    full = np.frombuffer(sig.keys[: 4 * (len(sig.keys) // 4 - LEAD_PERM)], dtype=">u4")
    lead = np.frombuffer(sig.keys[-4 * LEAD_PERM :], dtype=">u4")
    low = np.frombuffer(sig.values, dtype=">u2")
    kind, _, rest = layout.partition(":")
    out: list[tuple[int, int]] = []
    if kind == "b2":  # today's: bands of two 16-bit values
        n = int(rest.split("+")[0])
        out = [(b, int(low[2 * b]) << 16 | int(low[2 * b + 1])) for b in range(n)]
    elif kind == "b1":  # bands of one 32-bit value
        n = int(rest.split("+")[0])
        out = [(b, int(full[b])) for b in range(n)]
    lead_n = int(rest.split("+")[1]) if "+" in rest else 0
    out += [(1000 + b, int(lead[b])) for b in range(lead_n)]
    return out


LAYOUTS = ("b2:8", "b2:16", "b1:8", "b1:12", "b2:8+4", "b1:6+2", "b1:6+4", "b1:8+2", "b1:8+4", "b1:16+8")


def compare_layouts(sigs, copy_sigs, copies: list[Copy]) -> list[str]:
    lines = [f"{'layout':<10} {'entries':>7} " + " ".join(f"{'%d%%' % (lv * 100):>7} {'wire':>7}" for lv in LEVELS)
             + f" {'distinct cand/check':>20}"]
    for layout in LAYOUTS:
        index: dict[tuple[int, int], list[int]] = defaultdict(list)
        keyed = [_keys(s, layout) for s in sigs]
        for i, ks in enumerate(keyed):
            for k in ks:
                index[k].append(i)
        found: dict[tuple[float, bool], list[bool]] = defaultdict(list)
        for c, s in zip(copies, copy_sigs):
            found[(c.level, c.wire)].append(any(c.of in index.get(k, ()) for k in _keys(s, layout)))
        pairs = set()
        for members in index.values():
            for a in members:
                for b in members:
                    if a < b:
                        pairs.add((a, b))
        row = f"{layout:<10} {len(keyed[0]):>7} "
        row += " ".join(f"{np.mean(found[(lv, False)]):>7.2%} {np.mean(found[(lv, True)]):>7.2%}" for lv in LEVELS)
        row += f" {len(pairs) / len(sigs):>20.3f}"
        lines.append(row)
    return lines


def compare_thresholds(rows, sigs, copy_sigs, copies: list[Copy]) -> list[str]:
    """Verification alone: share of copies whose estimates against their original pass, and
    distinct pairs that pass, per containment threshold (candidates: any shared key of b1:16+8)."""
    from worker.dedup.decision import Record, Thresholds, decide

    def rec(i, s):
        return Record(str(i), s.size, str(i).encode(), b"\0" * 8, s.values)

    lines = []
    cts = (0.85, 0.8, 0.75, 0.7, 0.65, 0.6)
    index: dict[tuple[int, int], list[int]] = defaultdict(list)
    for i, s in enumerate(sigs):
        for k in _keys(s, "b1:16+8"):
            index[k].append(i)
    pairs = {(a, b) for m in index.values() for a in m for b in m if a < b}
    by_set: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for ct in cts:
        t = Thresholds(0.7, ct, 0.4)
        found = defaultdict(list)
        for c, s in zip(copies, copy_sigs):
            d = decide(rec("copy", s), [rec(c.of, sigs[c.of])], t, has_url=False)
            found[(c.level, c.wire)].append(d.status == "dup")
        merged = [(a, b) for a, b in pairs if decide(rec(b, sigs[b]), [rec(a, sigs[a])], t, has_url=False).status == "dup"]
        lines.append(f"CT {ct:.2f}: " + " ".join(f"{np.mean(found[(lv, False)]):.2%}/{np.mean(found[(lv, True)]):.2%}" for lv in LEVELS)
                     + f"  distinct candidate pairs {len(pairs)}, merged {len(merged)}: "
                     + ", ".join(f"{rows[a]['id']}~{rows[b]['id']}" for a, b in merged[:6]))
    return lines


def sign(text: str, size: int = 5):
    n = normalise(text)
    return n, signature(shingles(n, size), 128)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, default=None, help="articles sampled from the corpus")
    args = ap.parse_args()
    rows = corpus(args.limit)
    texts = [r["text"] for r in rows]
    copies = make_copies(texts)
    sigs = [sign(t)[1] for t in texts]
    copy_sigs = [sign(c.text)[1] for c in copies]
    print(f"{len(texts)} articles, {len(copies)} copies")
    print("\n".join(compare_layouts(sigs, copy_sigs, copies)))
    print("\n".join(compare_thresholds(rows, sigs, copy_sigs, copies)))


if __name__ == "__main__":
    main()
