"""Publish stage: events -> Redis stream entries (``type``, ``id``, ``data``), exactly once per event id."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from importlib import resources

import redis

from schemas import Event, entry_type
from worker.settings import StreamSettings
from worker.store.keys import Keys

_SCRIPT = resources.files("worker.publish").joinpath("lua/publish.lua").read_text()


def event_id(*parts: str) -> str:
    """Deterministic event id: the same input and role give the same id on every retry."""
    return hashlib.blake2b("|".join(parts).encode(), digest_size=10).hexdigest()


def to_fields(event: Event) -> dict[str, str]:
    """The stream entry of an event."""
    return {"type": entry_type(event), "id": event.event_id, "data": event.model_dump_json()}


class Publisher:
    def __init__(self, client: redis.Redis, keys: Keys, settings: StreamSettings) -> None:
        self._keys = keys
        self._settings = settings
        self._script = client.register_script(_SCRIPT)

    def publish(self, events: Sequence[Event], client: redis.Redis | None = None) -> list[str] | None:
        """XADD each event not published before; returns entry ids ('' for repeats), or None
        when ``client`` is a pipeline (the ids then come from its ``execute()``)."""
        if not events:
            return []
        keys: list[str] = []
        args: list[str | int] = [self._settings.idempotency_ttl_seconds, self._settings.maxlen]
        for ev in events:
            keys += [self._keys.published(ev.event_id), self._keys.stream(ev.STREAM)]
            f = to_fields(ev)
            args += [f["type"], f["id"], f["data"]]
        ids = self._script(keys=keys, args=args, client=client)
        if isinstance(ids, redis.client.Pipeline):
            return None
        return [i.decode() if isinstance(i, bytes) else i for i in ids]
