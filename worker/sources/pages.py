"""Fetching pages politely: robots.txt, per-host slots across workers, conditional re-fetches.

Composes ``http.fetch`` (the network) with the Redis-backed parts (robots cache, host slots,
stored validators). The result becomes an InputDocument for the ingest task.
"""

from __future__ import annotations

import hashlib

import httpx
import redis

from worker.model import InputDocument
from worker.settings import FetchSettings
from worker.sources.http import FetchResult, build_client, check_target, fetch, parse_url, policy_for
from worker.sources.politeness import HostSlots
from worker.sources.robots import RobotsCache
from worker.store.keys import Keys


def url_digest(url: str) -> str:
    return hashlib.blake2b(url.encode("utf-8", "surrogatepass"), digest_size=12).hexdigest()


class PageFetcher:
    """Per-process fetcher: one httpx client (a connection pool), one Redis client."""

    def __init__(self, client: redis.Redis, keys: Keys, settings: FetchSettings,
                 http_client: httpx.Client | None = None) -> None:
        self.client = client
        self.keys = keys
        self.settings = settings
        self.http = http_client or build_client(settings)
        self.policy = policy_for(settings)
        self.robots = RobotsCache(client, keys, self.http, settings)
        self.slots = HostSlots(client, keys, settings)

    def fetch(self, url: str, *, kind: str = "page", etag: str | None = None,
              last_modified: str | None = None) -> FetchResult:
        """One polite fetch: the host's slot held for its duration; robots.txt checked for pages."""
        parsed = parse_url(url)  # a malformed URL is refused here, before robots.txt or a host slot
        host = (parsed.host or "").lower()
        crawl_delay = None
        if kind == "page" and self.settings.respect_robots:
            # the guard and allow-list run inside fetch too; checking them first keeps a refused
            # URL from costing a robots.txt request
            check_target(parsed, self.settings, self.policy)
            self.robots.check(url)
            # robots.txt's Crawl-delay spaces this host's fetches (a long one makes the task wait
            # on the queue, through HostBusy, rather than hold a worker)
            crawl_delay = self.robots.crawl_delay(url)
        with self.slots.slot(host, crawl_delay):
            return fetch(self.http, url, self.settings, kind=kind, etag=etag,  # type: ignore[arg-type]
                         last_modified=last_modified, policy=self.policy)

    def fetch_page(self, url: str, *, conditional: bool = True) -> FetchResult:
        """Fetch a page, conditionally when it was fetched before; remembers its validators."""
        key = self.keys.page_validators(url_digest(url))
        stored = {k.decode(): v.decode() for k, v in self.client.hgetall(key).items()} if conditional else {}
        result = self.fetch(url, etag=stored.get("etag"), last_modified=stored.get("last_modified"))
        if not result.not_modified and (result.etag or result.last_modified):
            pipe = self.client.pipeline()
            pipe.delete(key)
            pipe.hset(key, mapping={k: v for k, v in (("etag", result.etag), ("last_modified", result.last_modified)) if v})
            pipe.expire(key, self.settings.validators_ttl_seconds)
            pipe.execute()
        return result

    def close(self) -> None:
        self.http.close()


def page_document(result: FetchResult, *, doc_id: str, source_kind: str, uri: str, run_id: str | None,
                  published_hint: str | None = None) -> InputDocument:
    """A fetched page as an input; the extract stage decodes it using the Content-Type's charset
    (or detects one) and reads the final URL after redirects. ``published_hint``: the date the
    feed that linked the page gave it, if any."""
    return InputDocument(doc_id=doc_id, source_kind=source_kind, uri=uri, body=result.body, url=result.url,
                         content_type=result.content_type, run_id=run_id, published_hint=published_hint)
