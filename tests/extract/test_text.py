"""The plain-text scrape cleaner on the seeds: real headlines, every body paragraph, no chrome."""

from __future__ import annotations

import re

import pytest

from tests.conftest import seed_paths
from worker.extract.text import clean_scrape

HEADLINES = {
    "000": "Trump and Zelenskiy clash again as the US warns of possible withdrawal from Ukraine talks",
    "001": "Trump’s proposal to join Russia-Ukraine peace talks ignites diplomatic efforts",
    "002": "JD Vance warns U.S. may withdraw support if Ukraine and Russia fail to agree",
    "003": "Trump claims both Putin and Zelenskiy are pursuing peace as phone talks begin to address the Ukraine conflict",
    "004": "Trump: Ukraine-Russia Discussions Reach Critical Point",
}
AUTHORS = {"000": ["Hammad Saeed"], "001": ["Asif Shahid"]}
CHROME = [
    "Wednesday, June 25, 2025", "Top 5 This Week", "Related Posts", "Home Globe", "by editor",
    "Discover more from", "Subscribe to get the latest posts", "LEAVE A REPLY", "Leave a Reply",
    "Please enter your comment", "Please enter your name here", "Popular Articles",
    "has been associated with journalism", "brings twenty-five years of journalism",
    "Your email address will not be published", "President Donald Trump and President Vladimir Putin.",
]


def _body_paragraphs(raw: str) -> list[str]:
    """Every line of 20+ words in a seed is a body paragraph, except the author bios."""
    lines = [re.sub(r"\s+", " ", ln).strip() for ln in raw.splitlines()]
    return [ln for ln in lines if len(ln.split()) >= 20 and "journalism" not in ln]


@pytest.mark.parametrize("path", seed_paths(), ids=lambda p: p.name[:3])
def test_seed_headline_body_and_chrome(path):
    raw = path.read_text()
    article = clean_scrape(raw)
    seed = path.name[:3]
    assert article.title == HEADLINES[seed]
    paragraphs = article.text.split("\n\n")
    for para in _body_paragraphs(raw):
        assert para in paragraphs, f"body paragraph lost: {para[:60]}"
    for chrome in CHROME:
        assert chrome not in article.text, f"chrome kept: {chrome}"
    assert not any(re.fullmatch(r"\d+", p) for p in paragraphs), "share counters kept"
    assert article.authors == AUTHORS.get(seed, [])


def test_seed_subheadings_inside_the_body_are_kept():
    article = clean_scrape(seed_paths()[2].read_text())
    assert "Diplomatic efforts struggle amidst rising tensions" in article.text.split("\n\n")


def test_breadcrumb_is_not_taken_for_the_headline():
    text = "Home World A long enough headline about talks\n\nA long enough headline about talks\n\n" + "word " * 40
    assert clean_scrape(text).title == "A long enough headline about talks"


def test_byline_gives_authors_and_is_not_body():
    text = "Markets rally after the central bank decision\n\nBy Jane Doe and John Roe\n\n" + "Stocks rose. " * 20
    article = clean_scrape(text)
    assert article.authors == ["Jane Doe", "John Roe"]
    assert "By Jane Doe" not in article.text
