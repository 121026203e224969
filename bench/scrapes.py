"""Plain-text scrapes: how well the scrape cleaner keeps the article and drops the chrome, on pages
nobody tuned it on, against what a user could use instead.

    .venv/bin/python bench/scrapes.py            # the three sets' samples in bench/data (561 pages)

A scrape is made from each page of the three extraction sets the way a scraper or a browser's
"save as text" makes one: the visible text of the whole page (script, style, head dropped), one
line per block element, chrome and all. Each is then scored against the set's own truth, in the
set's own metric (bench/extraction.py), for:

* **raw**: the scrape as it is (what a pipeline without a cleaner publishes);
* **storyline**: ``extract_document`` on the scrape as a ``.txt`` input (``worker/extract/text.py``);
* **justext**: jusText's paragraph classifier over the scrape's lines (its stop-word list of the
  page's language, by py3langid; its defaults), the boilerplate remover trafilatura itself falls back on;
* **trafilatura**: ``trafilatura.extract`` over the lines as ``<p>`` elements.

Pages whose truth is empty, or whose scrape is empty, are skipped.
"""

from __future__ import annotations

import argparse
import html as html_lib
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

import justext
import lxml.html
import py3langid
import trafilatura

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.extraction import LOADERS, SETS, Page, score_corpus, score_page  # noqa: E402
from worker.errors import PermanentError  # noqa: E402
from worker.extract import extract_document  # noqa: E402

_BLOCKS = frozenset("p div h1 h2 h3 h4 h5 h6 li ul ol blockquote pre table tr td th dl dt dd figure figcaption "
                    "section article header footer aside main br hr nav form".split())
_DROP = ("script", "style", "noscript", "template", "head", "svg", "iframe")


def scrape_of(page: Page) -> str:
    """The visible text of the whole page, a line per block element."""
    # the page is decoded already (bench/extraction.py); parsed as bytes, lxml would take a page
    # without a charset declaration for Latin-1
    parser = lxml.html.HTMLParser(encoding="utf-8")
    try:
        tree = lxml.html.fromstring(page.html.encode("utf-8", "replace"), parser=parser)
    except (ValueError, lxml.etree.LxmlError):
        return ""
    for el in list(tree.iter(*_DROP)):
        if el.getparent() is not None:
            el.drop_tree()
    for el in tree.iter():
        # whitespace inside a block is the source's layout, not the page's lines
        el.text = " ".join(el.text.split()) + (" " if el.text[-1:].isspace() else "") if el.text else el.text
        el.tail = (" " if el.tail[:1].isspace() else "") + " ".join(el.tail.split()) + (" " if el.tail[-1:].isspace() else "") if el.tail else el.tail
        if isinstance(el.tag, str) and el.tag.lower() in _BLOCKS:
            el.tail = "\n" + (el.tail or "")
            el.text = "\n" + (el.text or "")
    return "\n".join(" ".join(ln.split()) for ln in tree.text_content().split("\n") if ln.strip())


def storyline(scrape: str) -> str:
    try:
        return extract_document(scrape.encode("utf-8"), uri="page.txt", max_bytes=10 << 20, min_words=1).text
    except PermanentError:
        return ""


_STOPLISTS = {name.lower(): name for name in justext.get_stoplists()}
_LANG_NAMES = {"en": "English", "de": "German", "fr": "French", "es": "Spanish", "it": "Italian", "pt": "Portuguese",
               "nl": "Dutch", "pl": "Polish", "ru": "Russian", "cs": "Czech", "sv": "Swedish", "da": "Danish",
               "no": "Norwegian_Bokmal", "fi": "Finnish", "tr": "Turkish", "hu": "Hungarian", "ro": "Romanian",
               "el": "Greek", "uk": "Ukrainian", "ar": "Arabic", "he": "Hebrew", "hi": "Hindi", "id": "Indonesian",
               "ja": "Japanese", "zh": "Chinese", "ko": "Korean", "vi": "Vietnamese", "th": "Thai", "fa": "Persian"}


def justext_lines(scrape: str) -> str:
    lang = py3langid.classify(scrape[:2000])[0]
    name = _LANG_NAMES.get(lang)
    stoplist = justext.get_stoplist(name) if name and name.lower() in _STOPLISTS else frozenset()
    doc = "<html><body>" + "".join(f"<p>{html_lib.escape(ln)}</p>" for ln in scrape.split("\n")) + "</body></html>"
    try:
        paras = justext.justext(doc.encode("utf-8"), stoplist, encoding="utf-8")
    except Exception:  # noqa: BLE001 - a reference extractor's failure is an empty answer
        return ""
    return "\n".join(p.text for p in paras if not p.is_boilerplate)


def trafilatura_lines(scrape: str) -> str:
    doc = "<html><body>" + "".join(f"<p>{html_lib.escape(ln)}</p>" for ln in scrape.split("\n")) + "</body></html>"
    return trafilatura.extract(doc) or ""


EXTRACTORS = {"raw": lambda s: s, "storyline": storyline, "justext": justext_lines, "trafilatura": trafilatura_lines}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=0, help="pages per set (0: all of the sample)")
    args = parser.parse_args()
    print(f"{'set':22} {'pages':>5} " + " ".join(f"{name:>12}" for name in EXTRACTORS) + "   (F1, set's own metric)")
    for set_name in SETS:
        pages = [p for p in LOADERS[set_name](sample=True, limit=args.limit) if p.truth_text.strip()]
        records: dict[str, list] = defaultdict(list)
        ms: dict[str, list[float]] = defaultdict(list)
        by_script: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
        n = 0
        for page in pages:
            scrape = scrape_of(page)
            if not scrape:
                continue
            n += 1
            for name, fn in EXTRACTORS.items():
                began = time.perf_counter()
                out = fn(scrape)
                ms[name].append((time.perf_counter() - began) * 1000)
                rec = score_page(page, out)
                records[name].append(rec)
                by_script[page.script if page.script != "latin" else "latin"][name].append(rec)
        row = " ".join(f"{score_corpus(set_name, records[name])['f1']:>12.4f}" for name in EXTRACTORS)
        print(f"{set_name:22} {n:>5} {row}")
        print(f"{'  median ms':28} " + " ".join(f"{statistics.median(ms[name]):>12.2f}" for name in EXTRACTORS))
        for script, recs in sorted(by_script.items()):
            if script == "latin":
                continue
            row = " ".join(f"{score_corpus(set_name, recs[name])['f1']:>12.4f}" for name in EXTRACTORS)
            print(f"  {script:20} {len(recs['raw']):>5} {row}")


if __name__ == "__main__":
    main()
