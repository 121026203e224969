"""The "truncated" check for long bodies (issue 16): what it gains, behind which gate, at what cost.

trafilatura sometimes stops early on a page (at a page break in the markup, an inline box):
readability-lxml then finds over twice its text, containing all of it (second_opinion.py's
"truncated" rule: ratio >= 2.0, containment >= 0.99). ``extract_html`` asks readability on
bodies of 100 words or more only where the page's long <p> elements (over
``LONG_PARAGRAPH_WORDS`` words each) hold twice the body's text (``_long_paragraphs_reach``).
This script measures:

1. F1, from cached outputs (trafilatura ``fast`` with its headline, readability-lxml): the rule
   for bodies of 100 to B words, B, the ratio and the containment on a grid, chosen by
   leave-one-set-out cross-validation (fit on two sets, figure on the third);
2. the rule with second_opinion.py's constants behind the gate, for several paragraph lengths:
   the share of pages where readability is asked and the F1;
3. the cost: the extract stage as it runs (with the gate) over the extract stage with the gate
   closed, page by page in one process, as a ratio of medians.

    .venv/bin/python bench/extraction_truncated.py            # cache (~4 min), then 1 and 2
    .venv/bin/python bench/extraction_truncated.py --cost 400 # also 3, on the first 400 pages of each set
"""

from __future__ import annotations

import argparse
import itertools
import pickle
import statistics
import sys
import time
from pathlib import Path

import trafilatura

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import worker.extract.html as html_module  # noqa: E402
from bench.extraction import (  # noqa: E402
    LOADERS,
    SETS,
    score_corpus,
    score_page,
    storyline,
    storyline_without_truncation_check,
)
from bench.extraction_cv import _traf  # noqa: E402
from worker.extract.html import LONG_PARAGRAPH_WORDS, _readability_paragraphs  # noqa: E402
from worker.extract.second_opinion import CONTAINED, TRUNCATED_RATIO, containment, drop_chrome_lines  # noqa: E402
from worker.words import word_count  # noqa: E402

CACHE = Path("/tmp/storyline-extraction-truncated.pkl")
SHORT = 100

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
    print(f"\n2. the rule at any length (ratio {TRUNCATED_RATIO}, containment {CONTAINED}) behind the gate"
          " (long <p> elements hold twice the body), by the words a <p> needs to count:")
    for words in (0, 10, 20, 30, 50, 80):
        html_module.LONG_PARAGRAPH_WORDS = words
        for r in (r for rows in data.values() for r in rows):
            r["gate"] = r["wf"] >= SHORT and html_module._long_paragraphs_reach(r["page"].html, TRUNCATED_RATIO * html_module._solid(r["fast"]))
        cells = []
        for s_, rows in data.items():
            opened = sum(1 for r in rows if r["gate"]) / len(rows)
            fired = sum(1 for r in rows if r["gate"] and r["wr"] >= TRUNCATED_RATIO * r["wf"] and r["c"] >= CONTAINED)
            cells.append(f"{s_} asked {opened:.1%}, fires {fired}, F1 {f1(s_, 10**9, TRUNCATED_RATIO, CONTAINED, gate=True):.4f}")
        print(f"   {words:>3} words: " + "; ".join(cells))
    html_module.LONG_PARAGRAPH_WORDS = LONG_PARAGRAPH_WORDS
    if args.cost:
        print("\n3. cost: median ms of the extract stage as it runs (the gate and the readability calls it"
              " opens) over the same stage with the gate closed (same process, page by page, order alternated):")
        for s_ in SETS:
            pages = LOADERS[s_](limit=args.cost)
            storyline(pages[0])
            now, closed = [], []
            for i, page in enumerate(pages):
                for k in ((0, 1) if i % 2 else (1, 0)):
                    t = time.process_time()
                    (storyline(page) if k else storyline_without_truncation_check(page))
                    (now if k else closed).append(time.process_time() - t)
            print(f"   {s_:<22} {statistics.median(now) / statistics.median(closed):.3f}x")

if __name__ == "__main__":
    main()
