"""trafilatura stopping early on a long body: the truncation gate asks readability, whose text
is kept when it holds over twice trafilatura's and contains it (worker/extract/html.py)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from worker.extract import extract_document
from worker.extract.html import LONG_PARAGRAPH_WORDS, _long_paragraphs_reach, extract_html
from worker.words import word_count

BENCH = Path(__file__).resolve().parents[2] / "bench" / "data" / "extraction-benchmark"

#: two Wired articles of the extraction benchmark where trafilatura's body ends at an inline
#: box a third of the way in (591 and 504 words of 1,300-1,450)
WIRED = [
    "2f42ef1d3ea0c96e56355d3db93d0e06b47e760b74f6f4261278b8cd1c246dd6",
    "d48aeb9cf2f2ff15769a57513249b4a6a669159f3e50b335e741d4206a824e88",
]


@pytest.mark.parametrize("page_id", WIRED)
def test_a_truncated_body_is_completed_by_readability(page_id):
    raw = gzip.decompress((BENCH / "html" / f"{page_id}.html.gz").read_bytes())
    truth = json.loads((BENCH / "ground-truth.json").read_text(encoding="utf-8"))[page_id]["articleBody"]
    article = extract_document(raw, uri="page.html", content_type="text/html", max_bytes=10_000_000, min_words=1)
    assert article.body_source == "readability:truncated"
    # the article's last paragraph, which trafilatura's body stopped well before, is there
    last = [p for p in truth.split("\n") if word_count(p) >= 15][-1]
    assert last.strip()[:80] in article.text
    assert word_count(article.text) >= 0.9 * word_count(truth)


def test_a_complete_long_body_does_not_ask_readability():
    paras = [f"Paragraph {i} of the report gives the council's reasons for closing road number {i} "
             f"to lorries, quoting residents, engineers and the police at length about it." for i in range(12)]
    html = ("<html><head><title>Roads</title></head><body><article>"
            + "".join(f"<p>{p}</p>" for p in paras)
            + "</article><footer><p>Contact us</p><p>Privacy</p></footer></body></html>")
    article = extract_html(html)
    assert article is not None and article.body_source == "trafilatura"


def _page(*paragraphs: str) -> str:
    return "<html><body>" + "".join(f"<p>{p}</p>" for p in paragraphs) + "</body></html>"


def test_only_long_paragraphs_count_towards_the_gate():
    long_en = " ".join(["word"] * (LONG_PARAGRAPH_WORDS + 5))
    short_en = " ".join(["word"] * (LONG_PARAGRAPH_WORDS - 5))
    assert _long_paragraphs_reach(_page(long_en, long_en), 2 * len(long_en.replace(" ", "")))
    # the same characters in many short paragraphs (captions, buttons, footer lines) do not
    many = _page(*([short_en] * 20))
    assert not _long_paragraphs_reach(many, len(short_en.replace(" ", "")) * 2)


def test_unspaced_paragraphs_are_measured_in_characters():
    # Japanese: a paragraph of ~100 characters is ~90 units, long; split by spaces it is one word
    ja = ("政府は十日、大雨の被害を受けた地域に救助隊を送り、住民の避難を支援すると発表した。川の水位は夜に上がった。"
          "市によると、午前中までに二百人以上が近くの学校に避難し、けが人の報告はないという。")
    assert word_count(ja) > LONG_PARAGRAPH_WORDS
    assert _long_paragraphs_reach(_page(ja, ja), 2 * len(ja) - 1)
    assert not _long_paragraphs_reach(_page(ja[:20], ja[:20]), 10)


def test_markup_inside_paragraphs_and_unclosed_paragraphs():
    long_ru = " ".join(["слово"] * (LONG_PARAGRAPH_WORDS + 1))
    html = f"<html><body><div><p>{long_ru.replace(' ', ' <b>', 3)}</div><p>{long_ru}</body></html>"
    solid = len(long_ru.replace(" ", ""))
    assert _long_paragraphs_reach(html, 2 * solid)
    assert not _long_paragraphs_reach(html, 2 * solid + 1)
