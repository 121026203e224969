"""A replay corpus of N documents for load and throughput benchmarks.

Made from the 181 real pages of the extraction benchmark (bench/data/extraction-benchmark, or
../shared/data/extraction-benchmark) and the seeds. So that dedup does not short-circuit
everything, most documents are unique variants: the page's HTML is kept as it is (extraction
costs the same) but every word of its visible text is mapped through a per-variant random
vocabulary substitution. About 10% are exact re-sends and 5% near copies (a paragraph dropped),
which dedup must catch.

    python bench/corpus.py OUT_DIR --count 5000
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import random
import re
import sys
from functools import lru_cache
from pathlib import Path

import lxml.html

ROOT = Path(__file__).resolve().parent.parent
_CANDIDATES = [ROOT / "bench/data/extraction-benchmark/html", ROOT.parent / "shared/data/extraction-benchmark/html"]
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)


def benchmark_pages() -> list[tuple[str, bytes]]:
    for folder in _CANDIDATES:
        if folder.is_dir():
            return [(p.name.split(".")[0], gzip.decompress(p.read_bytes())) for p in sorted(folder.glob("*.html.gz"))]
    sys.exit("extraction benchmark pages not found in bench/data/extraction-benchmark/html")


@lru_cache(maxsize=1)
def _vocabulary() -> list[str]:
    from wordfreq import top_n_list

    return [w for w in top_n_list("en", 40000) if w.isalpha()]


def _remap_words(text: str, salt: str) -> str:
    """Every word replaced by a real English word chosen by hash: a different text with a natural
    vocabulary (random letter strings would defeat every word-frequency cache unrealistically)."""
    vocab = _vocabulary()

    def sub(m: re.Match[str]) -> str:
        w = m.group(0)
        h = hashlib.blake2b((salt + w.lower()).encode(), digest_size=4).digest()
        out = vocab[int.from_bytes(h, "big") % len(vocab)]
        return out.capitalize() if w[0].isupper() else out

    return _WORD.sub(sub, text)


def variant(html: bytes, salt: str) -> bytes:
    """The page with every visible word remapped (structure, markup and size kept)."""
    try:
        tree = lxml.html.fromstring(html)
    except (ValueError, lxml.etree.ParserError):
        return html
    # a variant is another article: it must not claim the original's canonical URL
    for el in tree.iter("link", "meta"):
        if el.get("rel") == "canonical" and el.get("href"):
            el.set("href", el.get("href") + f"?variant={salt}")
        if el.get("property") == "og:url" and el.get("content"):
            el.set("content", el.get("content") + f"?variant={salt}")
    for el in tree.iter():
        if el.tag in ("script", "style") or not isinstance(el.tag, str):
            continue
        if el.text:
            el.text = _remap_words(el.text, salt)
        if el.tail:
            el.tail = _remap_words(el.tail, salt)
    return lxml.html.tostring(tree, encoding="utf-8", doctype="<!DOCTYPE html>")


def drop_a_paragraph(html: bytes) -> bytes:
    return re.sub(rb"<p[ >].*?</p>", b"", html, count=1, flags=re.S)


def build(out: Path, count: int, seed: int = 7) -> list[Path]:
    rnd = random.Random(seed)
    pages = benchmark_pages()
    seeds = sorted((ROOT / "seeds").glob("*.txt"))
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for i in range(count):
        roll = rnd.random()
        if written and roll < 0.10:  # exact re-send of an earlier document
            src = rnd.choice(written)
            path = out / f"{i:06d}-exact{src.suffix}"
            path.write_bytes(src.read_bytes())
        elif written and roll < 0.15 and any(p.suffix == ".html" for p in written[-50:]):
            src = rnd.choice([p for p in written[-50:] if p.suffix == ".html"])
            path = out / f"{i:06d}-near.html"
            path.write_bytes(drop_a_paragraph(src.read_bytes()))
        elif roll < 0.17:
            s = seeds[i % len(seeds)]
            path = out / f"{i:06d}-seed.txt"
            text = s.read_text()
            path.write_text(text if i < 50 else _remap_words(text, f"s{i}"))
        else:
            pid, html = pages[i % len(pages)]
            path = out / f"{i:06d}-{pid[:8]}.html"
            path.write_bytes(html if i < len(pages) else variant(html, f"v{i}"))
        written.append(path)
    return written


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", type=Path)
    ap.add_argument("--count", type=int, default=5000)
    args = ap.parse_args()
    files = build(args.out, args.count)
    print(f"wrote {len(files)} documents to {args.out}")


if __name__ == "__main__":
    main()
