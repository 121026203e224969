"""Following an output stream through a consumer group, as ``storyline tail`` does: each
event's JSON is yielded, then acknowledged."""

from __future__ import annotations

from collections.abc import Iterator

import redis

from worker.store.client import read_block_ms


def ensure_group(client: redis.Redis, stream: str, group: str) -> None:
    """The consumer group, created at the stream's start (and the stream with it) if missing."""
    try:
        client.xgroup_create(stream, group, id="0", mkstream=True)
    except redis.ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


def follow(client: redis.Redis, stream: str, group: str, consumer: str, *, count: int = 0,
           block_ms: int = 5000) -> Iterator[str]:
    """Events of ``stream`` for ``consumer`` of ``group``, one JSON text each, acknowledged once
    the caller takes the next; stops after ``count`` (0: never) or, with a count, at the first
    read that waited ``block_ms`` for nothing."""
    seen = 0
    while not count or seen < count:
        resp = client.xreadgroup(group, consumer, {stream: ">"}, count=min(100, count - seen) if count else 100,
                                 block=read_block_ms(client, block_ms))
        if not resp and count:
            return
        for _, entries in resp or []:
            for entry_id, fields in entries:
                yield fields[b"data"].decode()
                client.xack(stream, group, entry_id)
                seen += 1
