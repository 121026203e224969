"""robots.txt, honoured for pages and cached in Redis per origin (urllib.robotparser parses it).

Per RFC 9309: a 4xx robots.txt (none there) allows everything; a 5xx or a timeout means "try
again later" (TransientError), never "allowed".
"""

from __future__ import annotations

from urllib.robotparser import RobotFileParser

import httpx
import redis

from worker.errors import FetchRefused
from worker.settings import FetchSettings
from worker.sources.http import fetch
from worker.store.keys import Keys
from worker.sources import telemetry as metrics

#: the product token matched against User-agent lines
ROBOTS_AGENT = "Storyline"
#: robots.txt bytes read; RFC 9309 asks crawlers to parse at least 500 KiB
ROBOTS_MAX_BYTES = 512 * 1024


def origin_of(url: httpx.URL) -> str:
    port = f":{url.port}" if url.port else ""
    return f"{url.scheme}://{url.host}{port}"


def allows(robots_txt: str, url: str, agent: str = ROBOTS_AGENT) -> bool:
    """Whether ``robots_txt`` lets ``agent`` fetch ``url`` (pure)."""
    parser = RobotFileParser()
    parser.parse(robots_txt.splitlines())
    return parser.can_fetch(agent, url)


class RobotsCache:
    def __init__(self, client: redis.Redis, keys: Keys, http_client: httpx.Client, settings: FetchSettings) -> None:
        self.client = client
        self.keys = keys
        self.http_client = http_client
        self.settings = settings

    def robots_txt(self, url: httpx.URL) -> str:
        origin = origin_of(url)
        key = self.keys.robots(origin)
        cached = self.client.get(key)
        if cached is not None:
            return str(cached.decode("utf-8", "replace"))
        limited = self.settings.model_copy(update={"max_body_bytes": ROBOTS_MAX_BYTES})
        try:
            text = fetch(self.http_client, f"{origin}/robots.txt", limited, kind="robots").body.decode("utf-8", "replace")
        except FetchRefused as exc:
            if not 400 <= getattr(exc, "http_status", 0) < 500:
                raise
            text = ""  # no robots.txt: everything is allowed
        self.client.set(key, text, ex=self.settings.robots_ttl_seconds)
        return text

    def crawl_delay(self, url: str, agent: str = ROBOTS_AGENT) -> float | None:
        """The host's ``Crawl-delay`` for ``agent`` (or ``*``), in seconds; None when it sets none.
        Not in RFC 9309, but widely set and honoured; urllib.robotparser reads it."""
        parser = RobotFileParser()
        parser.parse(self.robots_txt(httpx.URL(url)).splitlines())
        try:
            delay = parser.crawl_delay(agent)
        except (TypeError, ValueError):
            return None
        return float(delay) if delay is not None and float(delay) > 0 else None

    def check(self, url: str) -> None:
        """Raise FetchRefused when the host's robots.txt disallows ``url``."""
        if not allows(self.robots_txt(httpx.URL(url)), url):
            metrics.ROBOTS_REFUSALS.inc()
            raise FetchRefused(f"robots.txt of {origin_of(httpx.URL(url))} disallows {url} for {ROBOTS_AGENT}")
