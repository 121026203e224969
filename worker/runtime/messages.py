"""Task names and the JSON messages of tasks: the one place either is spelt."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from worker.model import InputDocument

#: one input end to end (worker/runtime/tasks.py); sent by replay, submit/consume, feeds, fetches, requeues
INGEST_TASK = "storyline.ingest"
#: poll one feed (worker/runtime/source_tasks.py); sent by beat and ``feeds add``
POLL_TASK = "storyline.poll_feed"
#: fetch one URL, then send it on as an ingest task (worker/runtime/source_tasks.py)
FETCH_TASK = "storyline.fetch_url"


def encode_document(doc: InputDocument) -> dict[str, Any]:
    """The JSON message of an ingest task."""
    return {
        "doc_id": doc.doc_id, "source_kind": doc.source_kind, "uri": doc.uri,
        "body": base64.b64encode(doc.body).decode("ascii"), "url": doc.url,
        "content_type": doc.content_type, "run_id": doc.run_id,
    }


def decode_document(message: Any) -> InputDocument:
    """The input of an ingest task's message; KeyError, TypeError or ValueError when malformed."""
    if not isinstance(message, dict):
        raise TypeError(f"an ingest message is a JSON object, not {type(message).__name__}")
    fields = {k: message[k] for k in ("doc_id", "source_kind", "uri")}
    if not all(isinstance(v, str) and v for v in fields.values()):
        raise TypeError("doc_id, source_kind and uri must be non-empty strings")
    if not isinstance(message["body"], str):
        raise TypeError("body must be a base64 string")
    return InputDocument(
        **fields, body=base64.b64decode(message["body"], validate=True), url=message.get("url"),
        content_type=message.get("content_type"), run_id=message.get("run_id"),
    )


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
