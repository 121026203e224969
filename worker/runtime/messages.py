"""Task names and the JSON messages of tasks: the one place either is spelt."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from typing import Any

import zstandard

from worker.model import InputDocument
from worker.settings import LimitSettings

#: one input end to end (worker/runtime/tasks.py); sent by replay, submit/consume, feeds, fetches, requeues
INGEST_TASK = "storyline.ingest"
#: poll one feed (worker/runtime/source_tasks.py); sent by beat and ``feeds add``
POLL_TASK = "storyline.poll_feed"
#: fetch one URL, then send it on as an ingest task (worker/runtime/source_tasks.py)
FETCH_TASK = "storyline.fetch_url"


#: the body travels zstd-compressed (``"body_codec": "zstd"``), then base64 in the JSON. The body
#: crosses Redis three times (the queue push, the unacked copy acks_late keeps, the worker's
#: pop), so its size was most of Redis's bytes and networking per document; on the 250 pages
#: of trafilatura-eval (141 KiB of HTML on average) level 3, zstd's default, shrinks a body
#: 5.2x in 0.40 ms on the sender and costs 0.14 ms to undo in the worker, less than the base64
#: decode of the uncompressed body it replaces (0.17 ms); zlib at level 1 made 4.4x in 0.98 ms.
#: Bodies that zstd does not shrink (tiny ones) go as they are, with no codec named.
BODY_CODEC = "zstd"
_ZSTD_LEVEL = 3
#: zstandard's (de)compressor objects are not for concurrent use: one of each per thread
_local = threading.local()


def _zstd() -> tuple[zstandard.ZstdCompressor, zstandard.ZstdDecompressor]:
    pair = getattr(_local, "pair", None)
    if pair is None:
        pair = _local.pair = (zstandard.ZstdCompressor(level=_ZSTD_LEVEL), zstandard.ZstdDecompressor())
    return pair


def encode_document(doc: InputDocument) -> dict[str, Any]:
    """The JSON message of an ingest task."""
    body, codec = doc.body, None
    if len(body) > 64:
        packed = _zstd()[0].compress(body)
        if len(packed) < len(body):
            body, codec = packed, BODY_CODEC
    message = {
        "doc_id": doc.doc_id, "source_kind": doc.source_kind, "uri": doc.uri,
        "body": base64.b64encode(body).decode("ascii"), "url": doc.url,
        "content_type": doc.content_type, "run_id": doc.run_id,
    }
    if codec:
        message["body_codec"] = codec
    if doc.published_hint:
        message["published_hint"] = doc.published_hint
    return message


def decode_document(message: Any, max_bytes: int = LimitSettings().max_bytes) -> InputDocument:
    """The input of an ingest task's message; KeyError, TypeError or ValueError when malformed.

    A compressed body is inflated to at most ``max_bytes + 1`` bytes (a compression bomb stops
    there), so that the extract stage's size limit, the one place it is checked, dead-letters it
    as too large. A message without ``body_codec`` (an older sender's) carries the body as is."""
    if not isinstance(message, dict):
        raise TypeError(f"an ingest message is a JSON object, not {type(message).__name__}")
    fields = {k: message[k] for k in ("doc_id", "source_kind", "uri")}
    if not all(isinstance(v, str) and v for v in fields.values()):
        raise TypeError("doc_id, source_kind and uri must be non-empty strings")
    if not isinstance(message["body"], str):
        raise TypeError("body must be a base64 string")
    body = base64.b64decode(message["body"], validate=True)
    codec = message.get("body_codec")
    if codec == BODY_CODEC:
        body = _inflate(body, max_bytes + 1)
    elif codec is not None:
        raise ValueError(f"unknown body_codec {codec!r} (this worker reads {BODY_CODEC!r} or none)")
    hint = message.get("published_hint")
    if hint is not None and not isinstance(hint, str):
        raise TypeError("published_hint must be a string")
    return InputDocument(
        **fields, body=body, url=message.get("url"),
        content_type=message.get("content_type"), run_id=message.get("run_id"), published_hint=hint,
    )


def _inflate(packed: bytes, limit: int) -> bytes:
    """The first ``limit`` bytes of one zstd frame; ValueError when it is not one."""
    try:
        with _zstd()[1].stream_reader(packed) as reader:
            parts, got = [], 0
            while got < limit:
                part = reader.read(limit - got)
                if not part:
                    break
                parts.append(part)
                got += len(part)
    except zstandard.ZstdError as exc:
        raise ValueError(f"body is not a zstd frame: {exc}") from exc
    return b"".join(parts)


def malformed_document(message: Any) -> InputDocument:
    """What a malformed message's dead letter names: its doc id and source when it has usable
    ones, else a digest of the message (so a redelivery publishes the same event, once)."""
    fields = message if isinstance(message, dict) else {}
    doc_id = fields.get("doc_id")
    if not (isinstance(doc_id, str) and doc_id):
        raw = json.dumps(message, sort_keys=True, default=repr)
        doc_id = hashlib.blake2b(raw.encode(), digest_size=8).hexdigest()
    given_uri = fields.get("uri")
    uri = given_uri if isinstance(given_uri, str) and given_uri else f"message:{doc_id}"
    run_id = fields.get("run_id") if isinstance(fields.get("run_id"), str) else None
    return InputDocument(doc_id, "request", uri, b"", run_id=run_id)
