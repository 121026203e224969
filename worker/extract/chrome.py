"""Site chrome learned from the stream: a line that recurs on many pages of one site is chrome.

Rules in ``text.py`` know chrome that every site shares ("Related Posts", "Leave a reply").
Each site also has its own: a newsletter pitch, a "reader-funded" appeal, a tagline. No rule
can know those, but the stream shows them: they come back on most pages of the site, while
article lines do not. The counts live in Redis, shared by every worker, so each worker
learns from all the pages any worker has seen.

``chrome_lines`` is the decision (pure). ``SiteChrome`` keeps the counts in Redis: per site,
a sorted set line-fingerprint -> number of pages it was seen on (capped to the most frequent,
then most recent, lines), and the number of pages seen.
"""

from __future__ import annotations

import hashlib
import re
import time
from importlib import resources
from collections.abc import Collection, Iterable, Mapping, Sequence
from urllib.parse import urlsplit

import redis
from courlan import extract_domain

from worker.settings import ChromeSettings
from worker.store.keys import Keys

_SCRIPT = resources.files("worker.extract").joinpath("lua/record_chrome.lua").read_text()
_SPACE = re.compile(r"\s+")
_DIGITS = re.compile(r"\d+")


def fingerprint(line: str) -> str:
    """Identity of a line for counting: case, spacing and digits ignored (a share counter or
    "© 2025" still matches next year), 16 hex digits of BLAKE2b (64 bits: no collisions at
    the tens of thousands of lines a site keeps)."""
    norm = _DIGITS.sub("0", _SPACE.sub(" ", line.strip().lower()))
    return hashlib.blake2b(norm.encode("utf-8"), digest_size=8).hexdigest()


def site_of(url: str | None) -> str | None:
    """The site a page belongs to: its registered domain (``www.bbc.co.uk`` -> ``bbc.co.uk``),
    so that a site's sections and mobile host share what they learn."""
    if not url:
        return None
    try:
        domain = extract_domain(url)
        host = urlsplit(url).hostname
    except ValueError:
        return None
    # courlan knows public suffixes only; for other hosts (intranets, reserved test domains)
    # the host without "www." is the site
    return domain or (host.removeprefix("www.") if host else None)


def chrome_lines(
    lines: Sequence[str], pages_seen_on: Mapping[str, int], site_pages: int, settings: ChromeSettings
) -> set[str]:
    """The lines of one page that are chrome for its site: seen on at least ``min_pages`` of
    the site's pages and on at least ``min_share`` of them. ``pages_seen_on`` maps a line's
    fingerprint to its count (this page included or not, the caller says which)."""
    if site_pages < settings.min_pages:
        return set()
    found = set()
    for line in lines:
        count = pages_seen_on.get(fingerprint(line), 0)
        if count >= settings.min_pages and count / site_pages >= settings.min_share:
            found.add(line)
    return found


class SiteChrome:
    """Per-site line counts in Redis, shared by every worker."""

    def __init__(self, client: redis.Redis, keys: Keys, settings: ChromeSettings) -> None:
        self.client = client
        self.keys = keys
        self.settings = settings
        self._record = client.register_script(_SCRIPT)

    def check_and_record(self, site: str | None, doc_id: str, lines: Iterable[str]) -> set[str]:
        """The lines of this page already known as chrome for ``site``, then count the page.

        The page is counted once per ``doc_id`` (a redelivered task does not count twice),
        atomically by ``lua/record_chrome.lua``.
        The answer comes from what was learned before this page, so the first pages of a new
        site lose nothing they would not have lost anyway.
        """
        if not site:
            return set()
        distinct = list(dict.fromkeys(ln.strip() for ln in lines if ln.strip()))
        if not distinct:
            return set()
        prints = [fingerprint(ln) for ln in distinct]
        lines_key, pages_key = self.keys.chrome_lines(site), self.keys.chrome_pages(site)
        pipe = self.client.pipeline(transaction=False)
        pipe.get(pages_key)
        pipe.zmscore(lines_key, prints)
        site_pages_raw, scores = pipe.execute()
        counts = {fp: int(s) for fp, s in zip(prints, scores) if s}
        found = chrome_lines(distinct, counts, int(site_pages_raw or 0), self.settings)
        # recency as a fraction below 1: seconds / 1e10, kept to 7 decimals (ties broken at
        # about 1,000 s resolution; a double keeps them exact next to counts up to 1e6)
        recency = round((time.time() % 1e9) / 1e10, 7)
        self._record(
            keys=[lines_key, pages_key, self.keys.chrome_seen(doc_id)],
            args=[recency, self.settings.max_lines_per_site, self.settings.ttl_seconds, *sorted(set(prints))],
        )
        return found

    def known(self, site: str, lines: Collection[str]) -> set[str]:
        """The lines known as chrome for ``site`` (read only; for inspection and tests)."""
        distinct = list(dict.fromkeys(ln.strip() for ln in lines if ln.strip()))
        if not distinct:
            return set()
        prints = [fingerprint(ln) for ln in distinct]
        site_pages = int(self.client.get(self.keys.chrome_pages(site)) or 0)
        scores = self.client.zmscore(self.keys.chrome_lines(site), prints)
        counts = {fp: int(s) for fp, s in zip(prints, scores) if s}
        return chrome_lines(distinct, counts, site_pages, self.settings)
