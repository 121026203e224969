"""Publication dates: htmldate's settings against the dates the sets give, right, wrong and
missing, and how far off the wrong ones are.

Storyline asks htmldate (through trafilatura) for the page's date from its metadata and markup
only (``extensive_search=False``) and for the original date, not the last update
(``original_date=True``). trafilatura's defaults search the body too. This bench shows what each
choice costs and buys on trafilatura-eval (728 pages with a date) and readability-pages (33), and
what the body search finds where the markup gives nothing: a wrong date moves an article's story
decision (worker/threads: a dated article is decayed by its distance from a story's date), a
missing one leaves it to text alone.

    .venv/bin/python bench/dates.py [--jobs 2]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import sys
from collections import Counter
from datetime import date
from pathlib import Path

from htmldate import find_date

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.extraction import _block_text, load_readability, load_tfeval  # noqa: E402
from worker.extract.text import dateline_date  # noqa: E402

CONFIGS = {
    "markup only, original (Storyline)": {"extensive_search": False, "original_date": True},
    "body too, original": {"extensive_search": True, "original_date": True},
    "body too, latest (htmldate's defaults)": {"extensive_search": True, "original_date": False},
    "markup only, latest": {"extensive_search": False, "original_date": False},
}


def _days(a: str, b: str) -> int | None:
    try:
        return abs((date.fromisoformat(a[:10]) - date.fromisoformat(b[:10])).days)
    except ValueError:
        return None


def _visible_dateline(html: str) -> str | None:
    """The date of the first publication dateline ("Posted on ...", "Veröffentlicht am ...") in
    the page's visible text, a line per block element, as the scrape cleaner reads one."""
    try:
        lines = _block_text(html).split("\n")
    except Exception:  # lxml on a hostile page
        return None
    return next((d for d in map(dateline_date, (" ".join(ln.split()) for ln in lines)) if d), None)


def _one(args: tuple[str, str | None, str]) -> tuple[str, dict[str, str | None]]:
    html, url, truth = args
    found: dict[str, str | None] = {"visible dateline": _visible_dateline(html)}
    for name, kw in CONFIGS.items():
        try:
            found[name] = find_date(html, url=url, **kw)
        except Exception:  # htmldate on a hostile page: counted as no date
            found[name] = None
    return truth, found


def _bucket(days: int | None) -> str:
    if days is None:
        return "unparsable"
    for limit, name in ((0, "same day"), (1, "1 day"), (7, "2-7 days"), (30, "8-30 days"), (365, "31-365 days")):
        if days <= limit:
            return name
    return "over a year"


_ORDER = ("same day", "1 day", "2-7 days", "8-30 days", "31-365 days", "over a year", "unparsable")


def _show(c: Counter[str]) -> str:
    return ", ".join(f"{k} {c[k]}" for k in _ORDER if c[k])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()
    for loader in (load_tfeval, load_readability):
        pages = [p for p in loader() if p.meta.get("date")]
        with mp.Pool(args.jobs) as pool:
            rows = pool.map(_one, [(p.html, p.url, p.meta["date"]) for p in pages], chunksize=8)
        print(f"{pages[0].set}: {len(pages)} pages with a date")
        for name in CONFIGS:
            c = Counter("missing" if not f[name] else "right" if _days(t, f[name]) == 0 else "wrong" for t, f in rows)
            print(f"  {name:<40} right {c['right']:>4}  wrong {c['wrong']:>4}  missing {c['missing']:>4}")
        mine, body = "markup only, original (Storyline)", "body too, original"
        off = Counter(_bucket(_days(t, f[mine])) for t, f in rows if f[mine])
        added = Counter(_bucket(_days(t, f[body])) for t, f in rows if not f[mine] and f[body])
        print(f"  Storyline's dates, how far from the truth: {_show(off)}")
        print(f"  dates the body search adds where the markup has none: {_show(added) or 'none'}")
        lines = Counter(("markup has one, " if f[mine] else "markup has none, ")
                        + ("same day" if _days(t, f["visible dateline"]) == 0 else "another day")
                        for t, f in rows if f["visible dateline"])
        print(f"  a publication dateline in the visible text (the scrape rule on the page's text): {dict(lines) or 'none'}")


if __name__ == "__main__":
    main()
