"""Extraction quality and cost: Storyline against the extractors a user could pick instead,
on three public sets, side by side, in one run.

Sets (each with its own README and licence; the full sets live in ../shared/data, fixed
samples are copied into bench/data for CI):

- ``extraction-benchmark`` (scrapinghub, 181 news pages): the benchmark's word 4-gram metric;
- ``trafilatura-eval`` (990 multilingual pages): trafilatura's own snippet metric (each
  ``with`` snippet found in the white-space-normalised output is a TP, missing an FN; each
  ``without`` snippet found an FP), pooled over pages;
- ``readability-pages`` (Mozilla Readability's 130 test pages): bag-of-words F1 against the
  text of ``expected.html`` (one line per block element), averaged over pages.

Tokens, the same for every extractor and every set: ``worker.words.units`` -- words in spaced
scripts (letters, digits *and combining marks*, so Devanagari and Arabic words stay whole),
one character per token in unspaced scripts (Han, kana, Thai, ...). The benchmark's own
``\\w+`` makes a whole Chinese sentence one "word" (and splits Hindi words at vowel signs),
so a CJK page is all-or-nothing under it; characters are the unit CJK readers and CJK
extraction papers count in. On spaced-script pages the two tokenisations agree except at
combining marks. The snippet metric compares strings, so it needs no tokens.

Extractors: ``storyline`` (``worker.extract.extract_document`` as the pipeline calls it:
decode, extract, metadata, language, prose gate; ``min_words=1`` here so that the figure
measures extraction, and the pipeline's real ``min_words`` is applied separately to count
dead letters), ``trafilatura`` (``trafilatura.extract(html)``, defaults: its own readability
port and jusText as fallbacks), ``traf-fast`` (``fast=True``), ``readability`` (readability-lxml
alone), and ``resiliparse`` (its main-content mode) when installed. Every extractor gets the
page's bytes and decodes them its own way. Timings are CPU milliseconds per page
(``time.process_time``), round-robin in one process.

    .venv/bin/python bench/extraction.py                 # all three sets, full (~5 min of CPU)
    .venv/bin/python bench/extraction.py --jobs 3        # the same, one process per set
    .venv/bin/python bench/extraction.py --limit 40      # the first 40 pages of each set
    .venv/bin/python bench/extraction.py --sets readability-pages --worst 10
    .venv/bin/python bench/extraction.py --sample        # the CI samples in bench/data only
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

import lxml.html
import py3langid
import regex
import trafilatura

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from worker.errors import PermanentError  # noqa: E402
from worker.extract import extract_document  # noqa: E402
from worker.extract.decode import decode_body  # noqa: E402
from worker.extract.html import _readability_paragraphs  # noqa: E402
from worker.settings import LimitSettings  # noqa: E402
from worker.words import iter_units, units, word_count  # noqa: E402

LOCAL = ROOT / "bench" / "data"
SHARED = ROOT.parent / "shared" / "data"
if not SHARED.exists():
    SHARED = Path("/work/shared/data")
MAX_BYTES = 10 * 1024 * 1024
#: the pipeline's own minimum (STORYLINE_LIMITS__MIN_WORDS default): below it a page is dead-lettered
MIN_WORDS = LimitSettings().min_words
SETS = ("extraction-benchmark", "trafilatura-eval", "readability-pages")


@dataclass
class Page:
    set: str
    id: str
    html: str
    raw: bytes
    url: str | None
    truth: Any  # str (benchmark, readability) or {"with": [...], "without": [...]}
    truth_text: str  # text used for language and script
    meta: dict = field(default_factory=dict)
    lang: str = "?"
    script: str = "?"


# -- scripts and languages of the truth (the same for every extractor) ------------------------

_SCRIPTS = {
    "cjk": regex.compile(r"[\p{Han}\p{Hiragana}\p{Katakana}]"),
    "hangul": regex.compile(r"\p{Hangul}"),
    "thai": regex.compile(r"[\p{Thai}\p{Lao}\p{Khmer}\p{Myanmar}]"),
    "indic": regex.compile(r"[\p{Devanagari}\p{Bengali}\p{Tamil}\p{Telugu}\p{Gujarati}\p{Gurmukhi}]"),
    "arabic": regex.compile(r"\p{Arabic}"),
    "hebrew": regex.compile(r"\p{Hebrew}"),
    "cyrillic": regex.compile(r"\p{Cyrillic}"),
    "greek": regex.compile(r"\p{Greek}"),
    "latin": regex.compile(r"\p{Latin}"),
}
#: scripts the dead-letter check watches (the issue's list)
WATCHED_SCRIPTS = ("cjk", "thai", "indic", "arabic", "hebrew", "cyrillic")


def dominant_script(text: str) -> str:
    sample = text[:5000]
    counts = {name: len(rx.findall(sample)) for name, rx in _SCRIPTS.items()}
    # CJK and Thai letters carry a word's worth each: weigh them so that a Japanese page
    # with Latin names in it is still CJK
    counts["cjk"] *= 3
    counts["thai"] *= 3
    best = max(counts, key=counts.get)
    return best if counts[best] else "none"


# -- loading the sets ------------------------------------------------------------------------


def _decode(raw: bytes) -> str:
    try:
        return decode_body(raw, max_bytes=MAX_BYTES)
    except PermanentError:
        return raw.decode("utf-8", "replace")


def _finish(page: Page) -> Page:
    page.script = dominant_script(page.truth_text)
    page.lang = page.meta.get("lang") or (py3langid.classify(page.truth_text[:2000])[0] if page.truth_text.strip() else "?")
    page.lang = page.lang.split("-")[0].lower()
    return page


def _root(name: str, sample: bool) -> Path:
    local = LOCAL / name
    if sample or not (SHARED / name).exists():
        return local
    return SHARED / name


def load_benchmark(sample: bool = False, limit: int = 0) -> list[Page]:
    root = LOCAL / "extraction-benchmark"  # the whole set is in the repo
    truth = json.loads((root / "ground-truth.json").read_text(encoding="utf-8"))
    pages = []
    for page_id in sorted(truth)[: limit or None]:
        raw = gzip.decompress((root / "html" / f"{page_id}.html.gz").read_bytes())
        body = truth[page_id]["articleBody"]
        pages.append(_finish(Page("extraction-benchmark", page_id, _decode(raw), raw, truth[page_id].get("url"), body, body)))
    return pages


def load_tfeval(sample: bool = False, limit: int = 0) -> list[Page]:
    root = _root("trafilatura-eval", sample)
    data = json.loads((root / "evaldata.json").read_text(encoding="utf-8"))
    pages = []
    for url in sorted(data, key=lambda u: data[u]["file"])[: limit or None]:
        item = data[url]
        path = root / "html" / f"{item['file']}.gz"
        if not path.exists():
            continue
        raw = gzip.decompress(path.read_bytes())
        meta = {k: item.get(k) or None for k in ("title", "author", "date")}
        pages.append(_finish(Page("trafilatura-eval", item["file"], _decode(raw), raw, url,
                                  {"with": item["with"], "without": item["without"]}, " ".join(item["with"]), meta)))
    return pages


def _block_text(html: str) -> str:
    """Text of an HTML fragment, one line per block element (as Readability's output reads)."""
    tree = lxml.html.fromstring(html)
    for el in tree.iter():
        if isinstance(el.tag, str) and el.tag.lower() in _BLOCKS:
            el.tail = "\n" + (el.tail or "")
            el.text = "\n" + (el.text or "")
    return "\n".join(" ".join(ln.split()) for ln in tree.text_content().split("\n") if ln.strip())


_BLOCKS = frozenset("p div h1 h2 h3 h4 h5 h6 li ul ol blockquote pre table tr td th dl dt dd figure figcaption "
                    "section article header footer aside main br hr".split())


def load_readability(sample: bool = False, limit: int = 0) -> list[Page]:
    root = _root("readability-pages", sample) / "pages"
    pages = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir())[: limit or None]:
        raw = gzip.decompress((folder / "source.html.gz").read_bytes())
        expected = _block_text(gzip.decompress((folder / "expected.html.gz").read_bytes()).decode("utf-8"))
        meta_path = folder / "expected-metadata.json.gz"
        meta = json.loads(gzip.decompress(meta_path.read_bytes())) if meta_path.exists() else {}
        meta = {"title": meta.get("title"), "author": meta.get("byline"), "date": meta.get("publishedTime"),
                "lang": meta.get("lang")}
        meta = {k: v for k, v in meta.items() if v}
        pages.append(_finish(Page("readability-pages", folder.name, _decode(raw), raw, None, expected, expected, meta)))
    return pages


LOADERS: dict[str, Callable[..., list[Page]]] = {
    "extraction-benchmark": load_benchmark, "trafilatura-eval": load_tfeval, "readability-pages": load_readability,
}


# -- metrics ---------------------------------------------------------------------------------

NGRAM = 4


def tokens(text: str) -> list[str]:
    """Words of spaced scripts, characters of unspaced ones (worker.words), case-folded."""
    return [u.casefold() for u in units(text or "")]


def shingles(text: str, n: int = NGRAM) -> Counter[tuple[str, ...]]:
    """Multiset of n-grams of tokens; a text of fewer than n tokens is one shorter n-gram, as
    in the benchmark (so that a two-word truth can still be matched)."""
    toks = units(text or "")
    grams = (tuple(toks[i : i + n]) for i in range(max(1, len(toks) - n + 1)))
    return Counter(g for g in grams if g)


def _prf(tp: float, fp: float, fn: float) -> tuple[float, float, float]:
    if fp == fn == 0:
        return 1.0, 1.0, 1.0
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def score_page(page: Page, pred: str) -> tuple[float, ...]:
    """A per-page record that ``score_corpus`` pools: (tp, fp, fn[, tn]) in the set's metric."""
    if page.set == "extraction-benchmark":
        t, p = shingles(page.truth), shingles(pred)
        tp, fp, fn = sum((t & p).values()), sum((p - t).values()), sum((t - p).values())
        total = tp + fp + fn
        return (tp / total, fp / total, fn / total) if total else (0.0, 0.0, 0.0)
    if page.set == "trafilatura-eval":
        out = " ".join((pred or "").split())
        got = [" ".join(s.split()) in out for s in page.truth["with"]] if out else [False] * len(page.truth["with"])
        bad = [" ".join(s.split()) in out for s in page.truth["without"]] if out else [False] * len(page.truth["without"])
        return (sum(got), sum(bad), len(got) - sum(got), len(bad) - sum(bad))
    t, p = Counter(tokens(page.truth)), Counter(tokens(pred))
    tp = sum((t & p).values())
    return (tp, sum(p.values()) - tp, sum(t.values()) - tp)


def score_corpus(set_name: str, records: list[tuple[float, ...]]) -> dict[str, float]:
    """F1, precision, recall of a set in its own metric (see the module's text)."""
    if not records:
        return {"f1": float("nan"), "precision": float("nan"), "recall": float("nan")}
    if set_name == "trafilatura-eval":  # pooled counts
        tp, fp, fn = (sum(r[i] for r in records) for i in range(3))
        p, r, f = _prf(tp, fp, fn)
        return {"f1": f, "precision": p, "recall": r}
    if set_name == "extraction-benchmark":  # means of P and R, F1 of the means
        ps = [_prf(*r)[0] for r in records if r[0] + r[1] > 0]
        rs = [_prf(*r)[1] for r in records if r[0] + r[2] > 0]
        p, r = (statistics.mean(ps) if ps else 0.0), (statistics.mean(rs) if rs else 0.0)
        return {"f1": 2 * p * r / (p + r) if p + r else 0.0, "precision": p, "recall": r}
    prf = [_prf(*r) for r in records]  # per-page F1, averaged
    return {"f1": statistics.mean(x[2] for x in prf), "precision": statistics.mean(x[0] for x in prf),
            "recall": statistics.mean(x[1] for x in prf)}


def page_f1(page: Page, record: tuple[float, ...]) -> float:
    if page.set == "trafilatura-eval":
        tp, fp, fn, tn = record
        return (tp + tn) / max(1, tp + fp + fn + tn)  # accuracy of the page's snippet decisions
    return _prf(*record[:3])[2]


# -- extractors ------------------------------------------------------------------------------


@dataclass
class Result:
    text: str
    #: the pipeline would dead-letter it (PermanentError, or under the real min_words)
    dead: str | None = None
    meta: dict = field(default_factory=dict)


def storyline(page: Page) -> Result:
    try:
        a = extract_document(page.raw, uri="page.html", url=page.url, content_type="text/html",
                             max_bytes=MAX_BYTES, min_words=1)
    except PermanentError as exc:
        return Result("", dead=f"{type(exc).__name__}: {exc}")
    # the pipeline's min_words, counted only that far (the full count is the publish stage's)
    n = sum(1 for _ in islice(iter_units(a.text), MIN_WORDS))
    dead = None if n >= MIN_WORDS else f"only {n} words (min_words {MIN_WORDS})"
    return Result(a.text, dead, {"title": a.title, "author": "; ".join(a.authors) or None, "date": a.published})


# Each extractor is handed the page's bytes, as Storyline is, and decodes them its own way
# (trafilatura and readability-lxml detect the encoding themselves): the cost of decoding is
# part of every extractor's figure.


def trafilatura_defaults(page: Page) -> Result:
    return Result(trafilatura.extract(page.raw) or "")


def trafilatura_fast(page: Page) -> Result:
    return Result(trafilatura.extract(page.raw, fast=True) or "")


def readability_lxml(page: Page) -> Result:
    return Result("\n".join(_readability_paragraphs(page.raw)))


def trafilatura_bare_metadata(page: Page) -> dict:
    """trafilatura's own metadata (``bare_extraction``, defaults, with metadata), for the
    metadata comparison (not timed: not a body extractor)."""
    doc = trafilatura.bare_extraction(page.raw, url=page.url, with_metadata=True)
    if not doc:
        return {}
    return {"title": doc.title, "author": doc.author, "date": doc.date}


EXTRACTORS: dict[str, Callable[[Page], Result]] = {
    "storyline": storyline, "trafilatura": trafilatura_defaults, "traf-fast": trafilatura_fast,
    "readability": readability_lxml,
}


def storyline_without_truncation_check(page: Page) -> Result:
    """Storyline with the truncation gate closed (readability asked on short bodies only): what
    the truncation check adds, in F1 and cost, measured in the same run. Not in the default run;
    ``--extractors st-no-trunc``."""
    import worker.extract.html as extract_html_module

    gate = extract_html_module._long_paragraphs_reach
    extract_html_module._long_paragraphs_reach = lambda html, target: False
    try:
        return storyline(page)
    finally:
        extract_html_module._long_paragraphs_reach = gate


#: measured only when named in --extractors
OPTIONAL: dict[str, Callable[[Page], Result]] = {"st-no-trunc": storyline_without_truncation_check}

try:  # optional: resiliparse's main-content mode (fast, lower quality)
    from resiliparse.extract.html2text import extract_plain_text

    from resiliparse.parse.encoding import bytes_to_str, detect_encoding

    def resiliparse_main(page: Page) -> Result:
        html = bytes_to_str(page.raw, detect_encoding(page.raw))
        return Result(extract_plain_text(html, main_content=True) or "")

    EXTRACTORS["resiliparse"] = resiliparse_main
except ImportError:  # pragma: no cover
    pass


# -- metadata matching -------------------------------------------------------------------------


def _norm_units(text: str | None) -> list[str]:
    return [u for u in tokens(text or "") if u not in ("by", "von", "par", "por")]


def meta_match(field_name: str, expected: str | None, got: str | None) -> bool | None:
    """None when the truth has no value. Title: same tokens in order. Byline: the expected
    names' tokens all in the found author(s) and vice versa (order and "By" aside). Date: the
    same calendar day."""
    expected, got = (("; ".join(map(str, v)) if isinstance(v, list) else v) for v in (expected, got))
    if not expected:
        return None
    if not got:
        return False
    if field_name == "date":
        return expected.strip()[:10] == got.strip()[:10]
    e, g = _norm_units(expected), _norm_units(got)
    if field_name == "title":
        return e == g
    return bool(e) and set(e) == set(g)


# -- the run ---------------------------------------------------------------------------------


@dataclass
class Run:
    pages: list[Page]
    records: dict[str, list[tuple[float, ...]]]
    ms: dict[str, list[float]]
    results: dict[str, list[Result]]
    traf_meta: list[dict]


def run_set(pages: list[Page], extractors: dict[str, Callable[[Page], Result]], metadata: bool = True,
            repeat: int = 1) -> Run:
    records: dict[str, list] = {n: [] for n in extractors}
    ms: dict[str, list[float]] = {n: [] for n in extractors}
    results: dict[str, list[Result]] = {n: [] for n in extractors}
    traf_meta = []
    for page in pages:
        took: dict[str, float] = {}
        # with repeat > 1 every extractor runs on the page that many times, in turn, and its
        # fastest run is its time: an interrupt or a stolen time slice lands on one run, not
        # on the figure (on this shared VM one run of the whole bench moved the ratio to
        # trafilatura by up to 0.08 between runs)
        for rep in range(repeat):
            for name, fn in extractors.items():
                # CPU time of this process, not wall time: the machine is shared, and other
                # processes' load would otherwise land on whichever extractor it fell on
                start = time.process_time()
                res = fn(page)
                took[name] = min(took.get(name, float("inf")), (time.process_time() - start) * 1000.0)
                if rep == 0:
                    results[name].append(res)
                    records[name].append(score_page(page, res.text))
        for name in extractors:
            ms[name].append(took[name])
        traf_meta.append(trafilatura_bare_metadata(page) if metadata and page.meta else {})
    return Run(pages, records, ms, results, traf_meta)


def dead_letters(run: Run, name: str = "storyline", scripts: Iterable[str] = WATCHED_SCRIPTS) -> list[tuple[Page, str]]:
    """Pages of the watched scripts that ``name`` dead-letters while trafilatura defaults find
    at least ``MIN_WORDS`` words of text on them."""
    out = []
    for i, page in enumerate(run.pages):
        res = run.results[name][i]
        if page.script in scripts and res.dead and word_count(run.results["trafilatura"][i].text) >= MIN_WORDS:
            out.append((page, res.dead))
    return out


def _p95(xs: list[float]) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(0.95 * (len(xs) - 1))))] if xs else float("nan")


def report(set_name: str, run: Run, worst: int = 0) -> None:
    n = len(run.pages)
    metric = {"extraction-benchmark": "token 4-gram F1 (benchmark's metric, Unicode tokens)",
              "trafilatura-eval": "snippet F1 (trafilatura's metric, pooled)",
              "readability-pages": "bag-of-tokens F1 vs expected.html (per-page mean)"}[set_name]
    print(f"\n== {set_name}: {n} pages, {metric}")
    base = statistics.median(run.ms["trafilatura"])
    print(f"{'extractor':<13}{'F1':>8}{'P':>8}{'R':>8}{'med ms':>9}{'p95 ms':>9}{'x traf':>8}{'dead':>6}")
    for name in run.records:
        m = score_corpus(set_name, run.records[name])
        med = statistics.median(run.ms[name])
        dead = sum(1 for r in run.results[name] if r.dead)
        print(f"{name:<13}{m['f1']:>8.4f}{m['precision']:>8.4f}{m['recall']:>8.4f}{med:>9.1f}"
              f"{_p95(run.ms[name]):>9.1f}{med / base:>8.2f}{dead if name == 'storyline' else '':>6}")
    # by language (languages with 5+ pages; the rest pooled as "other")
    langs = Counter(p.lang for p in run.pages)
    groups: dict[str, list[int]] = defaultdict(list)
    for i, p in enumerate(run.pages):
        groups[p.lang if langs[p.lang] >= 5 else "other"].append(i)
    names = list(run.records)
    print("  by language (F1): " + "  ".join(f"{nm}" for nm in names))
    for lang, idx in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        cells = "  ".join(f"{score_corpus(set_name, [run.records[nm][i] for i in idx])['f1']:.3f}" for nm in names)
        print(f"  {lang:<6}{len(idx):>4}  {cells}")
    scripts = Counter(p.script for p in run.pages)
    print("  scripts: " + ", ".join(f"{s} {c}" for s, c in scripts.most_common()))
    dl = dead_letters(run)
    print(f"  dead-lettered pages in CJK/Thai/Devanagari/Arabic/Hebrew/Cyrillic where trafilatura finds text: {len(dl)}")
    for page, why in dl[:10]:
        print(f"    {page.id} [{page.script}] {why}")
    # metadata: Storyline vs trafilatura's bare_extraction, on pages whose truth has the field
    with_meta = [i for i, p in enumerate(run.pages) if p.meta and run.traf_meta[i] is not None]
    if with_meta and any(k in run.pages[i].meta for i in with_meta for k in ("title", "author", "date")):
        print("  metadata (matches / pages with the field): storyline vs trafilatura bare_extraction")
        for fld in ("title", "author", "date"):
            s = t = total = 0
            for i in with_meta:
                exp = run.pages[i].meta.get(fld)
                ms_ = meta_match(fld, exp, run.results["storyline"][i].meta.get(fld))
                mt = meta_match(fld, exp, (run.traf_meta[i] or {}).get(fld))
                if ms_ is None:
                    continue
                total += 1
                s += ms_
                t += bool(mt)
            print(f"    {fld:<7} storyline {s}/{total}   trafilatura {t}/{total}")
    if worst:
        ranked = sorted(range(n), key=lambda i: page_f1(run.pages[i], run.records["storyline"][i])
                        - page_f1(run.pages[i], run.records["trafilatura"][i]))
        print(f"  pages where storyline loses most to trafilatura (page score storyline / trafilatura):")
        for i in ranked[:worst]:
            print(f"    {run.pages[i].id[:40]:<40} {page_f1(run.pages[i], run.records['storyline'][i]):.3f}"
                  f" / {page_f1(run.pages[i], run.records['trafilatura'][i]):.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=0, help="only the first N pages of each set")
    parser.add_argument("--sets", nargs="*", default=list(SETS), choices=SETS)
    parser.add_argument("--sample", action="store_true", help="the CI samples in bench/data, not ../shared/data")
    parser.add_argument("--worst", type=int, default=0, help="list the N pages where storyline loses most")
    parser.add_argument("--extractors", nargs="*", default=None, help=f"subset of {list(EXTRACTORS) + list(OPTIONAL)}")
    parser.add_argument("--repeat", type=int, default=1,
                        help="run each extractor N times a page, in turn, and time its fastest run (steadier ratios)")
    parser.add_argument("--jobs", type=int, default=1, help="sets run in parallel processes (CPU times are per process)")
    args = parser.parse_args()
    jobs = [(name, args) for name in args.sets]
    if args.jobs > 1 and len(jobs) > 1:
        # one process per set (each set's extractors still alternate page by page in its
        # process, timed in that process's CPU time), the reports printed in order
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=min(args.jobs, len(jobs))) as pool:
            for text in pool.map(_run_one, jobs):
                print(text, flush=True)
    else:
        for job in jobs:
            print(_run_one(job), flush=True)


def _run_one(job: tuple[str, argparse.Namespace]) -> str:
    import contextlib
    import io

    set_name, args = job
    extractors = {k: v for k, v in {**EXTRACTORS, **OPTIONAL}.items()
                  if (k in args.extractors if args.extractors else k in EXTRACTORS) or k == "trafilatura"}
    # warm-up: first calls load models (py3langid, trafilatura's config) outside the timings
    warm = load_benchmark(limit=1)
    for fn in extractors.values():
        fn(warm[0])
    pages = LOADERS[set_name](sample=args.sample, limit=args.limit)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        report(set_name, run_set(pages, extractors, repeat=args.repeat), worst=args.worst)
    return out.getvalue()


if __name__ == "__main__":
    main()
