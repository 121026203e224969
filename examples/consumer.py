"""Example consumer of Storyline's event streams, written the way a downstream service should.

It depends only on redis-py and jsonschema, and on the JSON Schemas in ``schemas/jsonschema/``,
not on Storyline's Python code, so it reads as a recipe for any language:

1. **Consumer group.** Every instance started with the same ``--group`` shares the stream:
   each entry goes to one of them. Start more instances to read faster; give each a distinct
   ``--consumer`` name (default: host-pid).
2. **Ack after handling.** An entry is XACKed only once it was handled (or judged unusable), so a
   consumer that crashes mid-entry leaves it in the group's pending list.
3. **Reclaim.** Before reading new entries, XAUTOCLAIM takes over entries another consumer
   received more than ``--min-idle-ms`` ago without acking (it died). An entry delivered
   ``--max-deliveries`` times is a poison entry: logged and acked, so it stops going round.
4. **Validate.** Each event is checked against its stream's JSON Schema; invalid entries are
   logged and acked (retrying cannot fix them). Events carry ``event_id``: a handler that must
   not see a repeat (after a reclaim, the same entry can be handled twice) keeps the ids it did.
5. **Outlive Redis restarts and idle streams.** The socket timeout is set longer than the read's
   BLOCK (redis-py's default of 5 s equals a 5 s BLOCK, so an idle read would time out), and a
   lost connection, a Redis still loading its data or a group lost with the data is waited out
   with back-off: the consumer reconnects and carries on from the group's position.

Run it (``REDIS_URL`` and ``STORYLINE_PREFIX`` as for the worker)::

    python examples/consumer.py --stream articles --group search-indexer

It prints one line per event on stdout; replace ``print_event`` with your own handler.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis
from jsonschema import Draft202012Validator

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schemas" / "jsonschema"
STREAMS = ("articles", "duplicates", "threads", "dead-letter")

Handler = Callable[[str, dict[str, Any]], None]


def load_validator(stream: str, schema_dir: Path = SCHEMA_DIR) -> Draft202012Validator:
    """The validator of one stream's events (pydantic exports JSON Schema draft 2020-12)."""
    schema = json.loads((schema_dir / f"{stream}.json").read_text())
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def log(event: str, **fields: Any) -> None:
    """One JSON line on stderr (stdout is for the handled events)."""
    print(json.dumps({"event": event, **fields}), file=sys.stderr, flush=True)


@dataclass
class Stats:
    handled: int = 0
    invalid: int = 0
    failed: int = 0
    reclaimed: int = 0
    poison: int = 0
    seen_ids: list[str] = field(default_factory=list)


class StreamConsumer:
    """One member of a consumer group on one stream."""

    def __init__(self, client: redis.Redis, stream_key: str, group: str, consumer: str,
                 validator: Draft202012Validator, *, min_idle_ms: int = 60_000, max_deliveries: int = 5) -> None:
        self.client = client
        self.stream_key = stream_key
        self.group = group
        self.consumer = consumer
        self.validator = validator
        #: an unacked entry idle this long, in ms, belongs to a consumer presumed dead
        self.min_idle_ms = min_idle_ms
        #: deliveries after which an entry that keeps failing is dropped (logged, acked)
        self.max_deliveries = max_deliveries
        self.stats = Stats()

    def ensure_group(self, start: str = "0") -> None:
        """Create the group (from the stream's start by default, so nothing published before the
        first consumer is missed); an existing group keeps its position."""
        try:
            self.client.xgroup_create(self.stream_key, self.group, id=start, mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def reclaim(self, handler: Handler) -> int:
        """Take over and handle the entries other consumers left pending too long."""
        start, total = "0-0", 0
        while True:
            # Redis >= 7 answers [next start, entries, ids deleted from the stream meanwhile]
            reply = self.client.xautoclaim(self.stream_key, self.group, self.consumer, self.min_idle_ms,
                                           start_id=start, count=100)
            start, entries = reply[0], reply[1]
            for entry_id, fields in entries:
                if fields is None:  # trimmed away while pending (Redis 6.2 reports it so)
                    self.client.xack(self.stream_key, self.group, entry_id)
                    continue
                total += 1
                self.stats.reclaimed += 1
                self.handle(entry_id, fields, handler, deliveries=self._deliveries(entry_id))
            if start in (b"0-0", "0-0"):
                return total

    def read_new(self, handler: Handler, count: int = 100, block_ms: int = 5000) -> int:
        """Read and handle entries never delivered to this group; returns how many arrived."""
        reply = self.client.xreadgroup(self.group, self.consumer, {self.stream_key: ">"}, count=count, block=block_ms)
        n = 0
        for _, entries in reply or []:
            for entry_id, fields in entries:
                n += 1
                self.handle(entry_id, fields, handler, deliveries=1)
        return n

    def handle(self, entry_id: bytes, fields: dict[bytes, bytes], handler: Handler, deliveries: int) -> None:
        """Validate, handle, ack. A handler error leaves the entry pending for a later reclaim."""
        try:
            event = json.loads(fields[b"data"])
            errors = sorted(self.validator.iter_errors(event), key=lambda e: list(e.path))
        except (KeyError, ValueError) as exc:
            event, errors = None, [exc]
        if errors:
            self.stats.invalid += 1
            log("invalid_event", entry=entry_id.decode(), error=str(getattr(errors[0], "message", errors[0])))
            self.client.xack(self.stream_key, self.group, entry_id)
            return
        entry_type = fields.get(b"type", b"").decode()
        try:
            handler(entry_type, event)
        except Exception as exc:  # the handler's failure: keep it pending, unless it keeps failing
            self.stats.failed += 1
            if deliveries >= self.max_deliveries:
                self.stats.poison += 1
                log("gave_up", entry=entry_id.decode(), event_id=event.get("event_id"), deliveries=deliveries, error=str(exc))
                self.client.xack(self.stream_key, self.group, entry_id)
            else:
                log("handler_failed", entry=entry_id.decode(), event_id=event.get("event_id"), deliveries=deliveries, error=str(exc))
            return
        self.stats.handled += 1
        self.stats.seen_ids.append(event["event_id"])
        self.client.xack(self.stream_key, self.group, entry_id)

    def run(self, handler: Handler, *, count: int = 0, block_ms: int = 5000, max_wait_s: float = 5.0) -> Stats:
        """Reclaim, then read, until ``count`` events were handled (0: forever) or, with a count,
        a read times out with nothing new. Redis going away (restart, failover, still loading)
        is waited out, retrying with back-off up to ``max_wait_s`` between tries."""
        wait, ready = 0.1, False
        while not count or self.stats.handled < count:
            try:
                if not ready:
                    self.ensure_group()  # again after a reconnect: a Redis that lost its data lost the group
                    ready = True
                self.reclaim(handler)
                arrived = self.read_new(handler, count=min(100, count - self.stats.handled) if count else 100,
                                        block_ms=block_ms)
            except (redis.ConnectionError, redis.TimeoutError) as exc:  # BusyLoadingError is a ConnectionError
                log("redis_unavailable", error=str(exc), error_type=type(exc).__name__, retry_in_s=wait)
                time.sleep(wait)
                wait, ready = min(max_wait_s, wait * 2), False
                continue
            except redis.ResponseError as exc:
                if "NOGROUP" not in str(exc):
                    raise
                log("group_missing", error=str(exc))
                ready = False
                continue
            wait = 0.1
            if not arrived and count:
                break
        return self.stats

    def _deliveries(self, entry_id: bytes) -> int:
        pending = self.client.xpending_range(self.stream_key, self.group, min=entry_id, max=entry_id, count=1)
        return int(pending[0]["times_delivered"]) if pending else 1


def print_event(entry_type: str, event: dict[str, Any]) -> None:
    """The example's handler: one compact line per event."""
    summary = {"type": entry_type, "event_id": event["event_id"]}
    for name in ("article_id", "title", "thread_id", "duplicate_of", "label", "error_type"):
        if event.get(name) is not None:
            summary[name] = event[name]
    print(json.dumps(summary), flush=True)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--redis", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"), help="Redis URL (default: $REDIS_URL)")
    parser.add_argument("--prefix", default=os.environ.get("STORYLINE_PREFIX", "storyline"), help="Storyline's key prefix (default: $STORYLINE_PREFIX)")
    parser.add_argument("--stream", choices=STREAMS, default="articles")
    parser.add_argument("--group", default="example-consumer")
    parser.add_argument("--consumer", default=f"{socket.gethostname()}-{os.getpid()}")
    parser.add_argument("--count", type=int, default=0, help="Stop after this many events (0: run forever)")
    parser.add_argument("--block-ms", type=int, default=5000, help="How long one read waits for new entries, in ms")
    parser.add_argument("--min-idle-ms", type=int, default=60_000, help="Reclaim entries pending this long, in ms")
    parser.add_argument("--max-deliveries", type=int, default=5)
    parser.add_argument("--schemas", type=Path, default=SCHEMA_DIR, help="Folder of the JSON Schemas")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    # the socket timeout must outlast the read's BLOCK, or every idle read is a TimeoutError
    client = redis.Redis.from_url(args.redis, socket_timeout=args.block_ms / 1000 + 10, socket_connect_timeout=5,
                                  socket_keepalive=True, health_check_interval=30)
    consumer = StreamConsumer(client, f"{args.prefix}:{args.stream}", args.group, args.consumer,
                              load_validator(args.stream, args.schemas),
                              min_idle_ms=args.min_idle_ms, max_deliveries=args.max_deliveries)
    try:
        stats = consumer.run(print_event, count=args.count, block_ms=args.block_ms)
    except KeyboardInterrupt:
        stats = consumer.stats
    log("stopped", handled=stats.handled, invalid=stats.invalid, reclaimed=stats.reclaimed, poison=stats.poison)
    return 0


if __name__ == "__main__":
    sys.exit(main())
