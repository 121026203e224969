"""The "truncated" check for long bodies, measured and dropped (issue 16, criterion 1 against 3).

trafilatura sometimes stops early on a page (at a page break in the markup, an inline box):
readability-lxml then finds over twice its text, containing all of it (second_opinion.py's
"truncated" rule: ratio >= 2.0, containment >= 0.99). Storyline asks readability only where
trafilatura's body is under 100 words, so this case is missed on longer bodies. This script
measures what checking longer bodies would gain and cost:

1. F1, from cached outputs (trafilatura ``fast`` with its headline, readability-lxml): the rule
   for bodies of 100 to B words, B, the ratio and the containment on a grid, chosen by
   leave-one-set-out cross-validation (fit on two sets, figure on the third);
2. a gate that asks readability only where the page's <p> elements hold at least twice the
   body's text (read from the markup, no parse; no threshold of its own: readability can only
   find twice the text where the page has it): the share of pages it opens and the F1;
3. the cost: the extract stage with the gate and the readability call it implies, against the
   extract stage as it is, page by page in one process, as a ratio of medians.

    .venv/bin/python bench/extraction_truncated.py            # cache (~4 min), then 1 and 2
    .venv/bin/python bench/extraction_truncated.py --cost 400 # also 3, on the first 400 pages of each set
"""

from __future__ import annotations

import argparse
import itertools
import pickle
import re
import statistics
import sys
import time
from pathlib import Path

import trafilatura

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.extraction import LOADERS, SETS, score_corpus, score_page, storyline  # noqa: E402
from bench.extraction_cv import _traf  # noqa: E402
from worker.extract.html import _readability_paragraphs  # noqa: E402
from worker.extract.second_opinion import CONTAINED, TRUNCATED_RATIO, containment, drop_chrome_lines  # noqa: E402
from worker.words import word_count  # noqa: E402

CACHE = Path("/tmp/storyline-extraction-truncated.pkl")
SHORT = 100

_P_START = re.compile(r"<p[\s>]", re.IGNORECASE)
_P_END = re.compile(r"</p\s*>|<p[\s>]|</(?:div|td|li|article|section|body)\s*>", re.IGNORECASE)
_TAG = re.compile(r"<[^>]*>")


def solid(text: str) -> int:
    return len(text) - text.count(" ") - text.count("\n") - text.count("\t") - text.count("\r")


def paragraph_text_reaches(html: str, target: float) -> bool:
    """Whether the page's <p> elements hold ``target`` non-space characters (string scan)."""
    n, pos = 0, 0
    while n < target:
        m = _P_START.search(html, pos)
        if not m:
            return False
        e = _P_END.search(html, m.end())
        stop = e.start() if e else len(html)
        span = html[m.end() : stop]
        n += solid(_TAG.sub("", span) if "<" in span else span)
        pos = stop
    return True


def build() -> dict:
    if CACHE.exists():
        return pickle.loads(CACHE.read_bytes())
    out = {}
    for set_name in SETS:
        rows = []
        for page in LOADERS[set_name]():
            text, title, _ = _traf(page, fast=True)
            rows.append({"page": page, "fast": text, "title": title,
                         "read": "\n".join(_readability_paragraphs(page.html)),
                         "traf": trafilatura.extract(page.raw) or ""})
        out[set_name] = rows
        print(f"cached {set_name}: {len(rows)} pages", flush=True)
    CACHE.write_bytes(pickle.dumps(out))
    return out


def body(r: dict, upto: int, ratio: float, contained: float, gate: bool = False) -> str:
    text = r["fast"]
    if r["wf"] < SHORT:
        if r["wr"] > r["wf"]:
            text = r["read"]
    elif r["wf"] < upto and r["wr"] >= ratio * r["wf"] and r["c"] >= contained and (not gate or r["gate"]):
        text = r["read"]
    return "\n".join(drop_chrome_lines(text.split("\n"), title=r["title"], teasers=False))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cost", type=int, default=0, help="also measure the cost on the first N pages of each set")
    args = parser.parse_args()
    data = build()
    for rows in data.values():
        for r in rows:
            r["wf"], r["wr"] = word_count(r["fast"]), word_count(r["read"])
            r["c"] = containment(r["fast"], r["read"]) if r["fast"].strip() and r["read"].strip() else 0.0
            r["gate"] = paragraph_text_reaches(r["page"].html, TRUNCATED_RATIO * solid(r["fast"]))

    def f1(set_name: str, *params, gate: bool = False) -> float:
        return score_corpus(set_name, [score_page(r["page"], body(r, *params, gate=gate)) for r in data[set_name]])["f1"]

    base = {s: f1(s, SHORT, 99.0, 2.0) for s in data}  # what extract_html runs: no check over 100 words
    grid = list(itertools.product((150, 200, 300, 500, 1000, 10**9), (1.5, 2.0, 3.0), (0.0, 0.8, 0.95, 0.99)))
    gain = {g: {s: f1(s, *g) - base[s] for s in data} for g in grid}
    print("F1 now (fast, headline, readability under 100 words): "
          + ", ".join(f"{s} {base[s]:.4f}" for s in data))
    print("\n1. the rule for bodies of 100..B words, gain over that on each set (best 10 by the worst set):")
    for g in sorted(grid, key=lambda g: -min(gain[g].values()))[:10]:
        print(f"   B={g[0]:<10} ratio>={g[1]:<4} containment>={g[2]:<5}" + "".join(f"{gain[g][s]:+9.4f}" for s in data))
    print("   leave one set out (fit: the best worst-set gain on the other two, then the best mean):")
    for held in data:
        fit = [s for s in data if s != held]
        best = max(grid, key=lambda g: (min(gain[g][s] for s in fit), statistics.mean(gain[g][s] for s in fit)))
        print(f"   held out {held:<22} chose B={best[0]}, ratio {best[1]}, containment {best[2]}: "
              f"{base[held] + gain[best][held]:.4f} ({gain[best][held]:+.4f})")
    print(f"\n2. the rule at any length (ratio {TRUNCATED_RATIO}, containment {CONTAINED}) behind the <p>-text gate:")
    for s, rows in data.items():
        opened = sum(1 for r in rows if r["wf"] >= SHORT and r["gate"]) / len(rows)
        fired = sum(1 for r in rows if r["wf"] >= SHORT and r["gate"] and r["wr"] >= TRUNCATED_RATIO * r["wf"]
                    and r["c"] >= CONTAINED)
        print(f"   {s:<22} readability asked on {opened:.0%} more pages, rule fires on {fired}: "
              f"F1 {base[s]:.4f} -> {f1(s, 10**9, TRUNCATED_RATIO, CONTAINED, gate=True):.4f}")
    if args.cost:
        print("\n3. cost: median ms of the extract stage plus the gate and the readability call it implies,"
              " over the extract stage as it is (same process, page by page, order alternated):")
        for s in SETS:
            pages = LOADERS[s](limit=args.cost)
            storyline(pages[0])
            now, more = [], []
            for i, page in enumerate(pages):
                for k in ((0, 1) if i % 2 else (1, 0)):
                    t = time.process_time()
                    res = storyline(page)
                    if k and res.text and word_count(res.text) >= SHORT and paragraph_text_reaches(
                            page.html, TRUNCATED_RATIO * solid(res.text)):
                        other = "\n".join(_readability_paragraphs(page.html))
                        if word_count(other) >= TRUNCATED_RATIO * word_count(res.text):
                            containment(res.text, other)
                    (more if k else now).append(time.process_time() - t)
            print(f"   {s:<22} {statistics.median(more) / statistics.median(now):.3f}x")


if __name__ == "__main__":
    main()
