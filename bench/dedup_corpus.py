"""Real article texts for the dedup recall bench, extracted once and cached.

Sources (the development sets; bench/data/ holds copies of some, ../shared/data all):

* trafilatura-eval: 990 pages (mostly de, en, pl), extracted with trafilatura's defaults;
* extraction-benchmark: 181 pages, their ground-truth ``articleBody``;
* readability-pages: 130 pages, extracted with trafilatura's defaults;
* semeval2022-task8: every distinct text of the training and test pairs (en, de, es, zh, tr,
  it, pl, fr, ar, ru).

Texts under ``MIN_UNITS`` units (worker/words.py) are dropped, as are exact repeats of an
earlier text (after the dedup normalisation). The result is cached in
``bench/results/dedup_corpus.jsonl`` (git-ignored): one object per line with ``id``, ``set``,
``lang`` (SemEval's label, or "" when unknown) and ``text``.

    .venv/bin/python bench/dedup_corpus.py          # build (about 2 minutes) or report the cache
"""

from __future__ import annotations

import csv
import gzip
import json
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from worker.dedup.minhash import normalise  # noqa: E402
from worker.words import word_count  # noqa: E402

CACHE = ROOT / "bench" / "results" / "dedup_corpus.jsonl"
#: shorter texts are not articles the pipeline would dedup at 50% truncation meaningfully
MIN_UNITS = 80


def _data(name: str, needs: str) -> Path:
    # the whole sets first (../shared/data, beside a clone as in CI), the repo's samples where they
    # are absent: the README's figures are of the whole sets (5,580 articles; the samples give 4,862)
    for base in (ROOT.parent / "shared" / "data", Path("/work/shared/data"), ROOT / "bench" / "data"):
        if (base / name / needs).exists():
            return base / name
    raise SystemExit(f"{name}/{needs} not found under bench/data or ../shared/data")


def _extract(html: bytes) -> str:
    import trafilatura

    return trafilatura.extract(html) or ""


def _raw() -> list[tuple[str, str, str, str]]:
    out: list[tuple[str, str, str, str]] = []
    tra = _data("trafilatura-eval", "evaldata.json")
    for _url, entry in sorted(json.loads((tra / "evaldata.json").read_text()).items()):
        path = tra / "html" / (entry["file"] + ".gz")
        if path.exists():
            out.append((f"tra:{entry['file']}", "trafilatura-eval", "", _extract(gzip.decompress(path.read_bytes()))))
    eb = _data("extraction-benchmark", "ground-truth.json")
    for key, entry in sorted(json.loads((eb / "ground-truth.json").read_text()).items()):
        out.append((f"eb:{key[:16]}", "extraction-benchmark", "", entry.get("articleBody") or ""))
    rp = _data("readability-pages", "pages")
    for page in sorted((rp / "pages").iterdir()):
        src = page / "source.html.gz"
        if src.exists():
            out.append((f"rp:{page.name}", "readability-pages", "", _extract(gzip.decompress(src.read_bytes()))))
    se = _data("semeval2022-task8", "geekdream_training_set.csv")
    csv.field_size_limit(1 << 30)
    for name in ("geekdream_training_set.csv", "geekdream_testing_set.csv"):
        path = se / name
        if not path.exists():
            continue
        with path.open(newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                ids = row["pair_id"].split("_")
                for side, ident in ((1, ids[0]), (2, ids[-1])):
                    out.append((f"se:{ident}", "semeval", row[f"lang{side}"], row[f"text{side}"]))
    return out


def build() -> list[dict[str, str]]:
    seen_ids: set[str] = set()
    seen_texts: set[str] = set()
    rows = []
    for ident, source, lang, text in _raw():
        text = (text or "").strip()
        if ident in seen_ids or word_count(text) < MIN_UNITS:
            continue
        norm = normalise(text)
        if norm in seen_texts:
            continue
        seen_ids.add(ident)
        seen_texts.add(norm)
        rows.append({"id": ident, "set": source, "lang": lang, "text": text})
    CACHE.parent.mkdir(parents=True, exist_ok=True)
    with CACHE.open("w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    return rows


def load() -> list[dict[str, str]]:
    if not CACHE.exists():
        return build()
    with CACHE.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f]


if __name__ == "__main__":
    rows = load()
    print(f"{len(rows)} articles in {CACHE}")
    print(Counter(r["set"] for r in rows))
    print(Counter(r["lang"] for r in rows if r["lang"]))
