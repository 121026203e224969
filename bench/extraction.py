"""Article-body quality and speed of Storyline's extraction against plain trafilatura.

Runs the 181-page article-extraction benchmark (bench/data/extraction-benchmark, from
scrapinghub/article-extraction-benchmark, MIT) with that benchmark's own metric, in one run:

- Storyline's HTML path (``worker.extract.extract_document``, as the pipeline calls it, so
  with its prose gate), and its HTML extraction alone (``extract_html``, "storyline-html");
- the pipeline path without the readability second opinion ("storyline-fast",
  ``STORYLINE_EXTRACT__SECOND_OPINION=false``);
- plain trafilatura (``trafilatura.extract(html)`` with its default settings);

and prints precision, recall and F1 of each side by side, with the median milliseconds per
page. It also prints the median milliseconds per seed of the plain-text path (seeds/*.txt).

    .venv/bin/python bench/extraction.py            # the whole benchmark (about a minute)
    .venv/bin/python bench/extraction.py --limit 40 # a quick look while developing
    .venv/bin/python bench/extraction.py --worst 10 # also list the pages Storyline does worst on
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

import trafilatura

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from worker.errors import PermanentError  # noqa: E402
from worker.extract import extract_document  # noqa: E402
from worker.extract.html import extract_html  # noqa: E402

DATA = ROOT / "bench" / "data" / "extraction-benchmark"
SEEDS = ROOT / "seeds"
MAX_BYTES = 10 * 1024 * 1024

# -- the benchmark's metric, as its README describes it ------------------------------------
# Written here rather than imported: the benchmark ships a script, not a library.

#: tokens are runs of Unicode word characters
_TOKEN = re.compile(r"\w+", re.UNICODE)
NGRAM = 4


def shingles(text: str, n: int = NGRAM) -> Counter[tuple[str, ...]]:
    """Multiset of word n-grams. A text of fewer than n tokens is one shorter n-gram, as in
    the benchmark (so a two-word ground truth can still be matched)."""
    tokens = _TOKEN.findall(text or "")
    grams = (tuple(tokens[i : i + n]) for i in range(max(1, len(tokens) - n + 1)))
    return Counter(g for g in grams if g)


def page_scores(true: str, pred: str) -> tuple[float, float, float]:
    """TP, FP, FN of one page, divided by their sum so that long pages do not weigh more."""
    t, p = shingles(true), shingles(pred)
    tp = float(sum((t & p).values()))
    fp = float(sum((p - t).values()))
    fn = float(sum((t - p).values()))
    total = tp + fp + fn
    return (tp / total, fp / total, fn / total) if total else (0.0, 0.0, 0.0)


def _precision(tp: float, fp: float, fn: float) -> float:
    if fp == fn == 0:
        return 1.0
    return tp / (tp + fp) if tp + fp else 0.0


def _recall(tp: float, fp: float, fn: float) -> float:
    if fp == fn == 0:
        return 1.0
    return tp / (tp + fn) if tp + fn else 0.0


def corpus_scores(per_page: list[tuple[float, float, float]]) -> dict[str, float]:
    """Precision: mean over pages with TP+FP > 0; recall: mean over pages with TP+FN > 0;
    F1: harmonic mean of the two means."""
    precision = statistics.mean(_precision(*s) for s in per_page if s[0] + s[1] > 0)
    recall = statistics.mean(_recall(*s) for s in per_page if s[0] + s[2] > 0)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def page_f1(s: tuple[float, float, float]) -> float:
    p, r = _precision(*s), _recall(*s)
    return 2 * p * r / (p + r) if p + r else 0.0


# -- the two extractors ----------------------------------------------------------------------


def storyline_body(raw: bytes, url: str | None) -> str:
    """Storyline's HTML path as the pipeline runs it (decode, extract, prose check).
    ``min_words=1``: the benchmark measures extraction, not the pipeline's length gate."""
    try:
        article = extract_document(raw, uri="page.html", url=url, content_type="text/html; charset=utf-8",
                                   max_bytes=MAX_BYTES, min_words=1)
    except PermanentError:
        return ""
    return article.text


#: which extractor's body Storyline kept, counted over the run (see second_opinion.py)
BODY_SOURCES: Counter[str] = Counter()


def storyline_html_body(raw: bytes, url: str | None) -> str:
    """Storyline's HTML extraction alone, without the pipeline's prose gate (which refuses
    pages that are tables or lists rather than prose)."""
    article = extract_html(raw.decode("utf-8"), url=url)
    BODY_SOURCES[article.body_source if article else "none"] += 1
    return article.text if article else ""


def storyline_fast_body(raw: bytes, url: str | None) -> str:
    """Storyline's pipeline path with ``STORYLINE_EXTRACT__SECOND_OPINION=false``: trafilatura
    alone, plus Storyline's metadata and chrome-line removal."""
    try:
        article = extract_document(raw, uri="page.html", url=url, content_type="text/html; charset=utf-8",
                                   max_bytes=MAX_BYTES, min_words=1, second_opinion=False)
    except PermanentError:
        return ""
    return article.text


def trafilatura_body(raw: bytes, url: str | None) -> str:
    """Plain trafilatura, default settings (the benchmark's trafilatura run passes the HTML only)."""
    return trafilatura.extract(raw.decode("utf-8")) or ""


def trafilatura_fast_metadata_body(raw: bytes, url: str | None) -> str:
    """trafilatura without its fallbacks but with metadata (title, author, date, site): the
    least any extractor that fills Storyline's article events has to do; a cost reference for
    bench/pipeline.py's ratio to bare trafilatura, which extracts no metadata."""
    doc = trafilatura.bare_extraction(raw.decode("utf-8"), url=url, fast=True, with_metadata=True)
    return (doc.text if doc else None) or ""


def _timed(fn, *args) -> tuple[str, float]:
    start = time.perf_counter()
    out = fn(*args)
    return out, (time.perf_counter() - start) * 1000.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=0, help="only the first N pages (by id), for quick runs")
    parser.add_argument("--worst", type=int, default=0, help="list the N pages where Storyline scores lowest")
    parser.add_argument("--seed-rounds", type=int, default=20, help="timing rounds over seeds/*.txt")
    args = parser.parse_args()

    truth = json.loads((DATA / "ground-truth.json").read_text(encoding="utf-8"))
    ids = sorted(truth)[: args.limit or None]
    names = {"storyline": storyline_body, "storyline-html": storyline_html_body,
             "storyline-fast": storyline_fast_body, "trafilatura": trafilatura_body,
             "traf-fast+meta": trafilatura_fast_metadata_body}
    scores: dict[str, list[tuple[float, float, float]]] = {n: [] for n in names}
    times: dict[str, list[float]] = {n: [] for n in names}
    for page_id in ids:
        raw = gzip.decompress((DATA / "html" / f"{page_id}.html.gz").read_bytes())
        url = truth[page_id].get("url")
        for name, fn in names.items():
            body, ms = _timed(fn, raw, url)
            times[name].append(ms)
            scores[name].append(page_scores(truth[page_id]["articleBody"], body))

    print(f"article-extraction-benchmark: {len(ids)} pages, word {NGRAM}-gram multiset metric")
    print(f"{'extractor':<16}{'F1':>8}{'precision':>11}{'recall':>9}{'median ms/page':>16}")
    for name in names:
        m = corpus_scores(scores[name])
        print(f"{name:<16}{m['f1']:>8.4f}{m['precision']:>11.4f}{m['recall']:>9.4f}{statistics.median(times[name]):>16.1f}")

    print("storyline-html body kept from: " + ", ".join(f"{k} {v}" for k, v in BODY_SOURCES.most_common()))

    seed_ms = []
    seed_files = sorted(SEEDS.glob("*.txt"))
    for _ in range(args.seed_rounds):
        for path in seed_files:
            raw = path.read_bytes()
            _, ms = _timed(lambda r=raw, p=path: extract_document(r, uri=p.name, max_bytes=MAX_BYTES, min_words=20))
            seed_ms.append(ms)
    if seed_ms:
        print(f"plain-text path on seeds/: median {statistics.median(seed_ms):.2f} ms/page "
              f"({len(seed_files)} files x {args.seed_rounds} rounds)")

    if args.worst:
        ranked = sorted(range(len(ids)), key=lambda i: page_f1(scores["storyline"][i]))
        print(f"\npages where Storyline scores lowest (page F1 storyline / trafilatura):")
        for i in ranked[: args.worst]:
            s, t = scores["storyline"][i], scores["trafilatura"][i]
            print(f"  {ids[i][:12]}  {page_f1(s):.3f} (p {_precision(*s):.2f} r {_recall(*s):.2f})"
                  f" / {page_f1(t):.3f}  {truth[ids[i]].get('url', '')[:70]}")


if __name__ == "__main__":
    main()
