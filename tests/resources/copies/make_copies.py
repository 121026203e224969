"""Build the copy feed: for each seed, the copies a news stream really carries.

    .venv/bin/python tests/resources/copies/make_copies.py   # rewrites the files beside it

Per seed NNN (clean title and body from the scrape cleaner):
  NNN_chrome.txt     another site's chrome around it (menu, byline, share bar, related links)
  NNN_chrome.html    the same as an HTML page (nav, article, aside, footer)
  NNN_quotes.txt     straight instead of curly quotes and dashes
  NNN_headline.txt   a new headline
  NNN_edited.txt     a few words edited
  NNN_truncated.txt  the first 70% of the body behind a wire dateline
  NNN_truncated.html the same as an HTML page
Deterministic: the same seeds give the same files.
"""

from __future__ import annotations

import html
import random
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
sys.path.insert(0, str(ROOT))

from worker.extract.text import clean_scrape  # noqa: E402

_STRAIGHT = str.maketrans({"‘": "'", "’": "'", "“": '"', "”": '"', "—": "-", "–": "-", "…": "..."})
_EDITS = {"said": "stated", "would": "could", "talks": "negotiations", "Russia": "Moscow",
          "officials": "aides", "President": "Mr", "on": "upon", "the": "this"}
_DATELINES = ["KYIV, April 24 (Wire) - ", "ISTANBUL (Reuters) - ", "LONDON, April 23 (AP) - ",
              "WASHINGTON - ", "PARIS, April 18 (AFP) - "]


def _paragraphs(body: str) -> list[str]:
    return [p.strip() for p in body.split("\n") if p.strip()]


def _chrome_text(title: str, paras: list[str]) -> str:
    return "\n\n".join([
        "MENU  Home  World  Politics  Business  Opinion  Subscribe",
        "The Daily Ledger | Independent news since 1921",
        title,
        "By Staff Writer | Updated 3 hours ago | 5 min read",
        *paras,
        "Share this: Facebook Twitter Email WhatsApp",
        "You may also like",
        "Ten gadgets to buy before summer",
        "Local council approves new cycle lanes",
        "Sign up for our morning briefing",
        "© 2025 The Daily Ledger. All rights reserved. Privacy | Terms | Contact",
    ]) + "\n"


def _page(title: str, paras: list[str], site: str) -> str:
    body = "\n".join(f"<p>{html.escape(p)}</p>" for p in paras)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)} | {site}</title></head>
<body>
<header><nav><a href="/">Home</a> <a href="/world">World</a> <a href="/politics">Politics</a>
<a href="/subscribe">Subscribe</a></nav></header>
<main><article>
<h1>{html.escape(title)}</h1>
<p class="byline">By Staff Writer, {site}</p>
{body}
</article></main>
<aside><h2>Most read</h2><ul><li><a href="/a">Ten gadgets to buy before summer</a></li>
<li><a href="/b">Local council approves new cycle lanes</a></li></ul></aside>
<footer><p>&copy; 2025 {site}. All rights reserved.</p><a href="/privacy">Privacy</a></footer>
</body></html>
"""


def _edit(body: str, rng: random.Random) -> str:
    """Replace a handful of words (at most 6) with near-synonyms."""
    words = body.split(" ")
    spots = [i for i, w in enumerate(words) if w in _EDITS]
    for i in sorted(rng.sample(spots, min(6, len(spots)))):
        words[i] = _EDITS[words[i]]
    return " ".join(words)


def _truncate(paras: list[str], share: float) -> list[str]:
    """The first ``share`` of the words, cut at a word boundary, paragraphs kept."""
    total = sum(len(p.split()) for p in paras)
    keep, out = int(total * share), []
    for p in paras:
        words = p.split()
        if keep <= 0:
            break
        out.append(" ".join(words[:keep]))
        keep -= len(words)
    return out


def make(seed: Path, index: int) -> dict[str, str]:
    article = clean_scrape(seed.read_text(encoding="utf-8"))
    title, paras = article.title or "", _paragraphs(article.text)
    body = "\n\n".join(paras)
    rng = random.Random(index)
    cut = _truncate(paras, 0.7)
    cut[0] = _DATELINES[index % len(_DATELINES)] + cut[0]
    stem = seed.name[:3]
    return {
        f"{stem}_chrome.txt": _chrome_text(title, paras),
        f"{stem}_chrome.html": _page(title, paras, "The Daily Ledger"),
        f"{stem}_quotes.txt": f"{title.translate(_STRAIGHT)}\n\n{body.translate(_STRAIGHT)}\n",
        f"{stem}_headline.txt": f"Breaking: a new turn in the Ukraine peace effort\n\n{body}\n",
        f"{stem}_edited.txt": f"{title}\n\n{_edit(body, rng)}\n",
        f"{stem}_truncated.txt": f"{title}\n\n" + "\n\n".join(cut) + "\n",
        f"{stem}_truncated.html": _page(title, cut, "Wire Service Online"),
    }


def main() -> None:
    seeds = sorted((ROOT / "seeds").glob("*.txt"))
    for i, seed in enumerate(seeds):
        for name, text in make(seed, i).items():
            (HERE / name).write_text(text, encoding="utf-8")
    print(f"wrote {len(list(HERE.glob('[0-9]*_*')))} copies of {len(seeds)} seeds to {HERE}")


if __name__ == "__main__":
    main()
