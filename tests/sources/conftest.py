"""Fixtures for the sources tests: settings that let fetches reach the local test server
(127.0.0.1, refused by default by the SSRF guard) without per-host delays, and pages made from
the seeds."""

from __future__ import annotations

import html
from pathlib import Path

import pytest

from tests.conftest import RESOURCES, seed_paths
from worker.settings import FetchSettings, Settings

FEEDS = RESOURCES / "feeds"


@pytest.fixture
def fetch_settings() -> FetchSettings:
    return FetchSettings(allow_private_networks=True, per_host_delay_seconds=0.0, per_host_concurrency=8,
                         connect_timeout=2.0, read_timeout=5.0)


@pytest.fixture
def settings(redis_url: str, prefix: str, fetch_settings: FetchSettings) -> Settings:
    """Overrides the root fixture, so the celery_worker fixture's worker uses these too."""
    return Settings(redis_url=redis_url, prefix=prefix, fetch=fetch_settings)


def seed_page(path: Path) -> bytes:
    """A seed scrape as an HTML page: its longest early line as the title, paragraphs as <p>."""
    paragraphs = [p.strip() for p in path.read_text(encoding="utf-8").split("\n\n") if p.strip()]
    title = next((p for p in paragraphs[:8] if len(p.split()) >= 6), paragraphs[0])
    body = "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title></head>"
            f"<body><article><h1>{html.escape(title)}</h1>{body}</article></body></html>").encode("utf-8")


def rss(items: list[tuple[str, str, str]], title: str = "Seed wire") -> bytes:
    """An RSS 2.0 feed of (guid, link, title) items carrying only a one-line teaser each."""
    entries = "".join(
        f"<item><guid isPermaLink='false'>{html.escape(g)}</guid><link>{html.escape(link)}</link>"
        f"<title>{html.escape(t)}</title><description>{html.escape(t[:60])}</description></item>"
        for g, link, t in items
    )
    return (f"<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>{title}</title>"
            f"<link>http://example.invalid/</link><description>seed pages</description>{entries}</channel></rss>").encode()


__all__ = ["seed_paths", "seed_page", "rss", "FEEDS"]
