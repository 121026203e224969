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


_BODY = (
    "The council voted on the budget after a debate that lasted into the night, and the mayor said "
    "the plan would fund schools and roads.\n\n"
) * 3


@pytest.mark.parametrize(("dateline", "published", "authors"), [
    ("Posted on June 25, 2025 by Jane Doe", "2025-06-25", ["Jane Doe"]),
    ("Jane Doe · Published 25 June 2025", "2025-06-25", ["Jane Doe"]),
    ("Published: 2025-06-25 10:42", "2025-06-25", []),
    ("Published: 25/06/2025", "2025-06-25", []),
    ("Veröffentlicht am 25. Juni 2025 von Anna Schmidt", "2025-06-25", ["Anna Schmidt"]),
    ("Publié le 25 juin 2025 à 10h12", "2025-06-25", []),
    ("Publicado el 25 de junio de 2025", "2025-06-25", []),
    ("Opublikowano: 25 czerwca 2025", "2025-06-25", []),
    ("Опубликовано 25 июня 2025", "2025-06-25", []),
    ("Yayınlanma tarihi: 25.06.2025", "2025-06-25", []),
    ("نشر في 25 يونيو 2025", "2025-06-25", []),
    ("发布时间：2025-06-25 10:00", "2025-06-25", []),
    ("公開日：2025年6月25日", "2025-06-25", []),
    ("प्रकाशित: 25 जून 2025", "2025-06-25", []),
])
def test_a_publication_dateline_under_the_headline_dates_the_scrape(dateline, published, authors):
    article = clean_scrape(f"Council approves the new city budget\n\n{dateline}\n\n{_BODY}")
    assert article.published == published
    assert article.authors == authors
    assert dateline not in article.text  # a dateline is not body


@pytest.mark.parametrize("line", [
    "Wednesday, June 25, 2025",  # a date alone at the top: the site's header date, the scrape's day
    "Updated June 26, 2025",  # a later version's date, not the publication's
    "Posted 3 hours ago",  # relative to a time the scrape does not carry
    "Published: 03/04/2025",  # 3 April or March 4
    "Published reports in 2025 said the council had voted against it",  # a sentence, not a date
])
def test_no_publication_date_is_made_up(line):
    assert clean_scrape(f"Council approves the new city budget\n\n{line}\n\n{_BODY}").published is None


def test_a_dateline_after_today_is_no_publication_date():
    from datetime import date

    from worker.extract.text import dateline_date

    assert dateline_date("Published 25 June 2099", today=date(2026, 1, 1)) is None
    assert dateline_date("Published 25 June 2099", today=date(2100, 1, 1)) == "2099-06-25"
    # the cue names the language dateparser reads the date in: Portuguese, not Spanish, here
    assert dateline_date("Publicado em 25 de junho de 2025") == "2025-06-25"
