"""Which inputs of the development sets the extract stage refuses as a cookie or consent notice
or as a registration or paywall page, by set, with the start of each refused text.

The refusals are rules over phrases (worker/extract/__init__.py ``consent_signals`` and
``_ACCESS_WALL``): what they must never do is refuse an article. Every input of every set runs
through ``extract_document`` as the pipeline runs it (HTML pages as HTML, AllSides articles and
SemEval texts as .txt scrapes), and each refused text is printed so that a reader can check it
is a notice or wall and not news.

    .venv/bin/python bench/walls.py

No Redis. About two minutes.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.extraction import load_benchmark, load_readability, load_tfeval  # noqa: E402
from bench.threads import load, load_pairs  # noqa: E402
from worker.errors import PermanentError  # noqa: E402
from worker.extract import extract_document  # noqa: E402


def main() -> None:
    total: Counter[str] = Counter()
    refused: Counter[tuple[str, str]] = Counter()
    shown: list[tuple[str, str, str, str]] = []

    def run(set_name: str, raw: bytes, uri: str, content_type: str | None = None) -> None:
        total[set_name] += 1
        try:
            extract_document(raw, uri=uri, content_type=content_type, max_bytes=10 << 20, min_words=1)
        except PermanentError as exc:
            message = str(exc)
            kind = ("consent" if "consent notice" in message else "wall" if "paywall" in message
                    else "block" if "bot check" in message else None)
            if kind:
                refused[(set_name, kind)] += 1
                shown.append((set_name, kind, message, raw[:200].decode("utf-8", "replace")))

    for loader, name in ((load_benchmark, "extraction-benchmark"), (load_tfeval, "trafilatura-eval"),
                         (load_readability, "readability-pages")):
        for page in loader():
            run(name, page.raw, "page.html", "text/html")
    for article in load():
        run("allsides", f"{article.title}\n\n{article.text}".encode(), "article.txt")
    for pair in load_pairs():
        for text in pair.texts:
            run(f"semeval {pair.languages}", text.encode(), "pair.txt")
    print(f"{'set':<24} {'inputs':>6} {'consent':>8} {'wall':>5} {'block':>6}")
    for name, n in total.items():
        print(f"{name:<24} {n:>6} {refused[(name, 'consent')]:>8} {refused[(name, 'wall')]:>5} {refused[(name, 'block')]:>6}")
    print(f"{'all':<24} {sum(total.values()):>6} " + " ".join(
        f"{sum(v for (_, k), v in refused.items() if k == kind):>{w}}" for kind, w in (("consent", 8), ("wall", 5), ("block", 6))))
    print("\nthe refused texts:")
    for name, kind, message, start in shown:
        print(f"- {name}, {kind}: {message[:120]}\n    {start[:160]!r}")


if __name__ == "__main__":
    main()
