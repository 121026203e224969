"""parse_feed is pure: bytes in, entries (or BadFeed with a reason) out."""

from __future__ import annotations

import pytest

from tests.sources.conftest import FEEDS, rss
from worker.errors import BadFeed
from worker.sources.rss import entry_document, normalise_link, parse_feed


def test_atom_entries_get_absolute_normalised_links_guids_and_dates():
    feed = parse_feed((FEEDS / "atom.xml").read_bytes(), url="https://news.example.org/feed.atom")
    assert feed.version == "atom10" and feed.title == "Peace talks desk"
    london, istanbul = feed.entries
    assert london.link == "https://news.example.org/world/london-talks?id=7"  # tracker and fragment gone
    assert istanbul.link == "https://news.example.org/world/istanbul"  # host lower-cased, default port dropped
    assert london.guid == "tag:news.example.org,2025:london"
    assert london.published == "2025-06-25T09:30:00Z"
    assert "Delegations met in Istanbul" in istanbul.content_html


def test_rss_items_parse():
    feed = parse_feed(rss([("g1", "http://h.example/1", "One"), ("g2", "http://h.example/2", "Two")]))
    assert feed.version == "rss20"
    assert [(e.guid, e.link, e.title) for e in feed.entries] == [("g1", "http://h.example/1", "One"),
                                                                 ("g2", "http://h.example/2", "Two")]


def test_json_feed_items_map_to_entries():
    feed = parse_feed((FEEDS / "feed.json").read_bytes(), url="https://json.example.org/feed.json",
                      content_type="application/feed+json")
    assert feed.version == "json11" and feed.title == "JSON desk"
    first, second = feed.entries  # the non-object item is skipped
    assert first.link == "https://json.example.org/a" and first.content_html == "<p>Para one.</p><p>Para two.</p>"
    assert second.link == "https://json.example.org/b" and second.guid == "2"


@pytest.mark.parametrize("name, reason", [
    ("not-a-feed.html", "not a feed"),
    ("not-a-feed.json", "jsonfeed.org version"),
    ("garbage.bin", "not a feed"),
])
def test_things_that_are_not_feeds_raise_bad_feed_with_a_reason(name, reason):
    with pytest.raises(BadFeed, match=reason):
        parse_feed((FEEDS / name).read_bytes())


def test_an_empty_body_is_a_bad_feed():
    with pytest.raises(BadFeed, match="empty"):
        parse_feed(b"  \n")


def test_entries_are_capped_at_max_entries():
    items = [(f"g{i}", f"http://h.example/{i}", f"T{i}") for i in range(30)]
    feed = parse_feed(rss(items), max_entries=10)
    assert len(feed.entries) == 10 and feed.truncated == 20


def test_guid_keys_are_per_feed_and_link_keys_are_global():
    entry = parse_feed(rss([("g1", "http://h.example/1", "One")])).entries[0]
    a, b = entry.dedup_keys("feedA"), entry.dedup_keys("feedB")
    assert a[0] != b[0] and a[1] == b[1]


@pytest.mark.parametrize("link, expected", [
    ("javascript:alert(1)", None), ("mailto:x@y", None), ("", None),
    ("HTTP://Example.COM/a?b=2&a=1&utm_medium=x#top", "http://example.com/a?a=1&b=2"),
])
def test_normalise_link(link, expected):
    assert normalise_link(link) == expected


def test_an_entry_document_is_html_with_title_link_and_date():
    entry = parse_feed((FEEDS / "atom.xml").read_bytes(), url="https://news.example.org/").entries[1]
    page = entry_document(entry).decode()
    assert "<title>Istanbul round</title>" in page and 'rel="canonical"' in page and "2025-05-16" in page
