"""The seed articles rewrapped in three made-up sites' chrome (tests/resources/rewrapped, built
by its generate.py) come out with the original headline, authors and body paragraphs, as
plain text and as HTML, once each site's own pitch has been learned from its other pages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from worker.extract import extract_document
from worker.extract.chrome import SiteChrome
from worker.settings import ChromeSettings

RESOURCES = Path(__file__).resolve().parents[1] / "resources" / "rewrapped"
MANIFEST = json.loads((RESOURCES / "manifest.json").read_text(encoding="utf-8"))
SITES = sorted(MANIFEST["sites"])
SEEDS = sorted(MANIFEST["articles"])
MAX = 10 * 1024 * 1024


def _extract(site: str, seed: str, ext: str, learned=None):
    path = RESOURCES / site / f"{seed}.{ext}"
    return extract_document(path.read_bytes(), uri=path.name, url=MANIFEST["sites"][site]["urls"][seed],
                            max_bytes=MAX, min_words=20, learned_chrome=learned)


@pytest.mark.parametrize("ext", ["txt", "html"])
@pytest.mark.parametrize("site", SITES)
def test_rewrapped_pages_give_the_original_article_once_site_chrome_is_learned(client, keys, site, ext):
    chrome = SiteChrome(client, keys, ChromeSettings())
    # the stream shows the site's pages once: that is how its own chrome becomes known
    for seed in SEEDS:
        _extract(site, seed, ext, lambda lines, s=seed: chrome.check_and_record(site, f"warm-{ext}-{s}", lines))
    for seed in SEEDS:
        expected = MANIFEST["articles"][seed]
        article = _extract(site, seed, ext, lambda lines, s=seed: chrome.check_and_record(site, f"{ext}-{s}", lines))
        assert article.title == expected["headline"]
        assert article.text.split("\n\n") == expected["paragraphs"], f"{site}/{seed}.{ext}: body differs"
        assert article.authors == expected["authors"]


@pytest.mark.parametrize("site", SITES)
def test_without_learning_only_the_sites_own_pitch_is_left(site):
    """Rules alone remove every chrome line but the one no rule can know."""
    pitch = MANIFEST["sites"][site]["learned_only_chrome"]
    for seed in SEEDS:
        for ext in ("txt", "html"):
            paragraphs = _extract(site, seed, ext).text.split("\n\n")
            assert [p for p in paragraphs if p != pitch] == MANIFEST["articles"][seed]["paragraphs"]


@pytest.mark.parametrize("site", SITES)
def test_html_metadata_of_rewrapped_pages(site):
    for seed in SEEDS:
        article = _extract(site, seed, "html")
        expected = MANIFEST["articles"][seed]
        # the page's own date (meta, JSON-LD or <time>), never one its body mentions
        assert article.published == expected["published"]
        assert article.url == MANIFEST["sites"][site]["urls"][seed]  # tracking query, case and fragment normalised away
        assert article.language == "en"
        assert article.site and site[:6] in article.site.lower().replace(" ", "")


def test_a_date_mentioned_in_the_body_is_not_the_publication_date():
    html = (RESOURCES / "harborledger" / "002.html").read_text(encoding="utf-8")
    assert "February 24, 2022" in html
    html = html.replace('<meta property="article:published_time" content="2025-04-18T10:42:00+01:00">', "")
    html = html.replace('<time datetime="2025-04-18">18 April 2025</time>', "")
    article = extract_document(html.encode(), uri="002.html", max_bytes=MAX, min_words=20)
    assert article.published != "2022-02-24"


def test_the_generator_rebuilds_the_committed_feed(monkeypatch):
    """The committed files are what generate.py makes from the seeds (no hand edits)."""
    import importlib.util
    import sys

    spec = importlib.util.spec_from_file_location("rewrapped_generate", RESOURCES / "generate.py")
    generate = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "rewrapped_generate", generate)  # dataclasses look the module up
    spec.loader.exec_module(generate)
    articles = {a.seed: a for a in generate.seed_articles()}
    for site, (pattern, to_txt, to_html) in generate.SITES.items():
        for seed, url in MANIFEST["sites"][site]["urls"].items():
            assert to_txt(articles[seed]) == (RESOURCES / site / f"{seed}.txt").read_text(encoding="utf-8")
            assert to_html(articles[seed], url) == (RESOURCES / site / f"{seed}.html").read_text(encoding="utf-8")
