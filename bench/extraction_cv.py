"""How Storyline's extractor combination was chosen: leave-one-set-out cross-validation.

Every candidate is a trafilatura configuration plus optional cheap rules applied to its
output. For each of the three sets in turn, the candidate with the best mean gain over
trafilatura defaults on the *other two* sets is picked, and its figure on the held-out set
is reported. A rule is kept only if it does not lose on any set.

    .venv/bin/python bench/extraction_cv.py              # build the cache (~5 min), then score
    .venv/bin/python bench/extraction_cv.py --tfeval 300 # fewer trafilatura-eval pages
    .venv/bin/python bench/extraction_cv.py --explore    # also the rules dropped on the way

Costs here are the trafilatura pass (and readability where run) over trafilatura.extract's
wall time on the same page, as cached: a guide for the cost limit; bench/extraction.py
measures the whole extract stage.

The raw outputs of each trafilatura configuration and of readability-lxml are cached in
/tmp/storyline-extraction-cv.pkl (delete it after changing a configuration).
"""

from __future__ import annotations

import argparse
import pickle
import statistics
import sys
import time
from pathlib import Path

import trafilatura

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.extraction import LOADERS, SETS, Page, score_corpus, score_page  # noqa: E402
from worker.extract.html import _CONFIG, _readability_paragraphs  # noqa: E402
from worker.extract.second_opinion import choose_body, containment, drop_chrome_lines  # noqa: E402
from worker.words import word_count  # noqa: E402

CACHE = Path("/tmp/storyline-extraction-cv.pkl")

#: trafilatura configurations (each one full pass with metadata, as Storyline would run it)
CONFIGS = {
    "default": {},
    "precision": {"favor_precision": True},
    "recall": {"favor_recall": True},
    "fast": {"fast": True},
}


def _traf(page: Page, **kw) -> tuple[str, str | None, float]:
    start = time.perf_counter()
    params = {"include_comments": False, "include_tables": True, "deduplicate": False, **kw}
    doc = trafilatura.bare_extraction(page.html, url=page.url, with_metadata=True, config=_CONFIG,
                                      date_extraction_params={"extensive_search": False, "original_date": True},
                                      **params)
    ms = (time.perf_counter() - start) * 1000
    text = "\n".join(p.strip() for p in ((doc.text if doc else None) or "").split("\n") if p.strip())
    return text, (doc.title if doc else None), ms


def build(tfeval: int) -> dict:
    cache = pickle.loads(CACHE.read_bytes()) if CACHE.exists() else {}
    for set_name in SETS:
        if set_name in cache:
            continue
        pages = LOADERS[set_name](limit=tfeval if set_name == "trafilatura-eval" else 0)
        rows = []
        for page in pages:
            row = {"page": page}
            for name, kw in CONFIGS.items():
                row[name] = _traf(page, **kw)
            start = time.perf_counter()
            row["readability"] = "\n".join(_readability_paragraphs(page.html))
            row["readability_ms"] = (time.perf_counter() - start) * 1000
            start = time.perf_counter()
            row["trafilatura"] = trafilatura.extract(page.html) or ""
            row["trafilatura_ms"] = (time.perf_counter() - start) * 1000
            rows.append(row)
        cache[set_name] = rows
        CACHE.write_bytes(pickle.dumps(cache))
        print(f"cached {set_name}: {len(rows)} pages", flush=True)
    return cache


def candidate(row: dict, config: str, chrome: str, fallback: int, second: bool, contained: bool = False) -> tuple[str, float]:
    """The body a candidate keeps for one page, and its cost in ms (trafilatura pass, plus
    readability where the candidate runs it)."""
    text, title, ms = row[config]
    if second:
        text = choose_body(text, row["readability"]).text
        ms += row["readability_ms"]
    elif fallback and row["wc"][config] < fallback:
        ms += row["readability_ms"]
        if row["wc"]["readability"] > row["wc"][config] and (
            not contained or not text.strip() or containment(text, row["readability"]) >= CONTAINED_SHARE
        ):
            text = row["readability"]
    if chrome != "none":
        text = "\n".join(drop_chrome_lines(text.split("\n"), title=title, headline=chrome in ("headline", "both"),
                                           teasers=chrome in ("teasers", "both")))
    return text, ms


FALLBACKS = (0, 50, 100, 150, 200, 300)
CHROME = ("none", "headline", "teasers", "both")
#: the "contained" variant of the fallback: readability's longer text replaces trafilatura's
#: only if it holds most of trafilatura's (the same article, more of it), not another text
CONTAINED_SHARE = 0.8


def candidates(explore: bool = False) -> list[tuple]:
    """The candidates compared. ``explore``: also the teaser-line rule and the "contained"
    fallback, which lost on a held-out set in the first rounds and were dropped."""
    out = []
    for config in ("fast", "recall", "default"):
        for fallback in FALLBACKS:
            for chrome in (CHROME if explore else ("none", "headline")) if config == "fast" else ("none", "headline"):
                for contained in (False, True) if fallback and explore else (False,):
                    out.append((config, chrome, fallback, False, contained))
    # the rule Storyline had before (readability on every page, bloated/truncated), and the
    # best configuration over the cost limit, for reference
    out += [("fast", "none", 0, True, False), ("fast", "both", 0, True, False), ("precision", "headline", 100, False, False)]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tfeval", type=int, default=0, help="first N trafilatura-eval pages (0: all)")
    parser.add_argument("--explore", action="store_true", help="also the rules dropped in earlier rounds")
    args = parser.parse_args()
    cache = build(args.tfeval)

    cands = candidates(args.explore)
    for rows in cache.values():
        for r in rows:
            r["wc"] = {k: word_count(r[k][0]) for k in CONFIGS} | {"readability": word_count(r["readability"])}
    table: dict[tuple, dict[str, tuple[float, float]]] = {}
    base: dict[str, float] = {}
    for set_name, rows in cache.items():
        base[set_name] = score_corpus(set_name, [score_page(r["page"], r["trafilatura"]) for r in rows])["f1"]
        base_ms = statistics.median(r["trafilatura_ms"] for r in rows)
        for c in cands:
            outs = [candidate(r, *c) for r in rows]
            f1 = score_corpus(set_name, [score_page(r["page"], o[0]) for r, o in zip(rows, outs)])["f1"]
            cost = statistics.median(o[1] for o in outs) / base_ms
            table.setdefault(c, {})[set_name] = (f1, cost)
    label = lambda c: f"{c[0]:<9} chrome={c[1]:<8} fallback<{c[2]:<3}{'c' if c[4] else ' '} second={int(c[3])}"  # noqa: E731
    print("candidate                                   " + "".join(f"{s[:14]:>16}" for s in cache) + "   (F1 / x traf ms)")
    print(f"{'trafilatura defaults':<44}" + "".join(f"{base[s]:>10.4f}      " for s in cache))
    for c in sorted(cands, key=lambda c: -statistics.mean(table[c][s][0] - base[s] for s in cache)):
        print(f"{label(c):<44}" + "".join(f"{table[c][s][0]:>10.4f} {table[c][s][1]:>4.2f}x" for s in cache))
    print("\nleave one set out (fit: best mean F1 gain over trafilatura on the other two, cost <= 1.1x there):")
    for held in cache:
        fit = [s for s in cache if s != held]
        ok = [c for c in cands if all(table[c][s][1] <= 1.1 for s in fit)]
        best = max(ok, key=lambda c: statistics.mean(table[c][s][0] - base[s] for s in fit))
        f1, cost = table[best][held]
        print(f"  held out {held:<22} chose {label(best)}: F1 {f1:.4f} (trafilatura {base[held]:.4f}, "
              f"{f1 - base[held]:+.4f}), {cost:.2f}x cost")


if __name__ == "__main__":
    main()
