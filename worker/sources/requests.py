"""The ingest request stream ``<prefix>:requests``: producers XADD, consumers in a group hand
each request to the workers (a fetch task for a URL, an ingest task for a file body).

Each entry has one field, ``data``: JSON ``{"kind": "url", "url": ...}`` or ``{"kind": "file",
"uri": ..., "body_b64": ..., "content_type": ...}``, with an optional ``run_id``. The body of a
file travels in the entry because a consumer may run on another machine than the submitter.

Delivery is at least once: an entry is acked only after it was handed on (or dead-lettered).
Entries left pending by a consumer that died are taken over with XAUTOCLAIM once idle for
``claim_idle_ms``. Each processing attempt is counted in a hash, so an entry that fails
``max_attempts`` times (or kills its consumer that often) is dead-lettered and acked, and an
entry that is not a valid request (poison) is dead-lettered and acked at once.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import redis

from schemas.envelope import printable
from worker.errors import BadRequest, PermanentError, TransientError
from worker.model import InputDocument
from worker.settings import RequestSettings
from worker.sources.files import content_type_for, read_file
from worker.store.client import read_block_ms
from worker.store.keys import Keys


@dataclass(frozen=True)
class IngestRequest:
    entry_id: str
    kind: str  # url | file
    uri: str
    body: bytes = b""
    content_type: str | None = None
    run_id: str | None = None

    @property
    def doc_id(self) -> str:
        """Derived from the entry id, so a request handed on twice is still one input."""
        return hashlib.blake2b(f"request|{self.entry_id}".encode(), digest_size=8).hexdigest()


def url_request(url: str, run_id: str | None = None) -> dict[str, str]:
    return {"data": json.dumps({"kind": "url", "url": url, "run_id": run_id})}


def file_request(uri: str, body: bytes, content_type: str | None, run_id: str | None = None) -> dict[str, str]:
    return {"data": json.dumps({"kind": "file", "uri": uri, "body_b64": base64.b64encode(body).decode("ascii"),
                                "content_type": content_type, "run_id": run_id})}


def requests_for(urls: list[str], files: list[Path], run_id: str, *, max_bytes: int
                 ) -> tuple[list[dict[str, str]], list[tuple[Path, str]]]:
    """The request entries of ``urls`` and ``files`` (each file read here, as ``submit`` does),
    and the files skipped with why (unreadable, too large)."""
    entries = [url_request(u, run_id) for u in urls]
    skipped: list[tuple[Path, str]] = []
    for path in files:
        try:
            body = read_file(path, max_bytes=max_bytes)
        except PermanentError as exc:
            skipped.append((path, str(exc)))
            continue
        entries.append(file_request(str(path), body, content_type_for(path), run_id))
    return entries, skipped


def parse_request(entry_id: str, fields: dict[bytes, bytes]) -> IngestRequest:
    """A stream entry as a request, or BadRequest saying what is wrong with it (pure)."""
    raw = fields.get(b"data")
    if raw is None:
        raise BadRequest(f"request {entry_id} has no 'data' field (fields: {sorted(k.decode('utf-8', 'replace') for k in fields)})")
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequest(f"request {entry_id}: 'data' is not JSON ({exc}): {raw[:80]!r}") from exc
    if not isinstance(data, dict):
        raise BadRequest(f"request {entry_id}: 'data' must be a JSON object, not {type(data).__name__}")
    run_id = printable(data["run_id"]) if isinstance(data.get("run_id"), str) else None
    kind = data.get("kind")
    if kind == "url":
        url = data.get("url")
        if not isinstance(url, str) or not url.lower().startswith(("http://", "https://")):
            raise BadRequest(f"request {entry_id}: 'url' must be an http(s) URL, not {url!r}")
        if printable(url) != url:
            # JSON can carry a lone surrogate ("\\ud800"); no URL holds one, and fetching an
            # escaped stand-in would fetch another URL than the one submitted
            raise BadRequest(f"request {entry_id}: 'url' is not valid Unicode (a lone surrogate): {printable(url)!r}")
        return IngestRequest(entry_id, "url", url, run_id=run_id)
    if kind == "file":
        uri, body = data.get("uri"), data.get("body_b64")
        if not isinstance(uri, str) or not isinstance(body, str):
            raise BadRequest(f"request {entry_id}: a file request needs string 'uri' and 'body_b64'")
        try:
            decoded = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise BadRequest(f"request {entry_id}: 'body_b64' is not base64 ({exc})") from exc
        content_type = printable(data["content_type"]) if isinstance(data.get("content_type"), str) else None
        # the file's name as sent, made printable: it is only a label here, the body came along
        return IngestRequest(entry_id, "file", printable(uri), decoded, content_type, run_id)
    raise BadRequest(f"request {entry_id}: 'kind' must be 'url' or 'file', not {kind!r}")


def submit(client: redis.Redis, keys: Keys, entries: list[dict[str, str]], maxlen: int = 1_000_000) -> list[str]:
    """XADD requests; returns their entry ids."""
    pipe = client.pipeline(transaction=False)
    for fields in entries:
        pipe.xadd(keys.requests, fields, maxlen=maxlen, approximate=True)
    return [i.decode() for i in pipe.execute()]


#: hands a request on (sends a task); raising leaves the entry pending for another attempt
Handler = Callable[[IngestRequest], None]
#: records a request that is given up on (publishes a dead letter)
DeadLetterer = Callable[[InputDocument, Exception, int], object]


class RequestConsumer:
    def __init__(self, client: redis.Redis, keys: Keys, settings: RequestSettings, handle: Handler,
                 dead_letter: DeadLetterer, name: str | None = None) -> None:
        self.client = client
        self.keys = keys
        self.settings = settings
        self.handle = handle
        self.dead_letter = dead_letter
        self.name = name or f"{socket.gethostname()}-{os.getpid()}"
        self.stream = keys.requests
        self.group = settings.group

    def ensure_group(self) -> None:
        try:
            self.client.xgroup_create(self.stream, self.group, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def read_new(self, count: int | None = None, block_ms: int | None = None) -> list[tuple[bytes, dict[bytes, bytes]]]:
        """Entries never delivered to any consumer, now pending on this one."""
        resp = self.client.xreadgroup(self.group, self.name, {self.stream: ">"}, count=count or self.settings.batch,
                                      block=read_block_ms(self.client, block_ms))
        return [entry for _, entries in resp or [] for entry in entries]

    def claim_stale(self, count: int | None = None) -> list[tuple[bytes, dict[bytes, bytes]]]:
        """Entries pending on any consumer (this one included) for over ``claim_idle_ms``: their
        consumer died or failed on them. XAUTOCLAIM moves them to this consumer."""
        claimed: list[tuple[bytes, dict[bytes, bytes]]] = []
        start = "0-0"
        while True:
            resp = self.client.xautoclaim(self.stream, self.group, self.name, self.settings.claim_idle_ms,
                                          start_id=start, count=count or self.settings.batch)
            start, entries = resp[0], resp[1]
            # entries deleted from the stream meanwhile come back as None (Redis 7 lists their ids apart)
            claimed += [e for e in entries if e and e[1] is not None]
            if start in (b"0-0", "0-0") or len(claimed) >= (count or self.settings.batch):
                return claimed

    def process(self, entry_id: bytes | str, fields: dict[bytes, bytes]) -> str:
        """Handle one entry; returns what became of it: handed_on | poison | dead_letter | failed."""
        eid = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
        attempts = int(self.client.hincrby(self.keys.request_attempts, eid, 1))
        try:
            request = parse_request(eid, fields)
        except BadRequest as exc:
            self.dead_letter(self._doc_for(eid, None), exc, attempts)
            self._ack(eid)
            return "poison"
        if attempts > self.settings.max_attempts:
            # counted but never finished: the consumer died on it every time
            self.dead_letter(self._doc_for(eid, request),
                             TransientError(f"taken {attempts - 1} times without finishing (its consumer may have crashed on it)"),
                             attempts - 1)
            self._ack(eid)
            return "dead_letter"
        try:
            self.handle(request)
        except Exception as exc:
            if attempts >= self.settings.max_attempts:
                self.dead_letter(self._doc_for(eid, request), exc, attempts)
                self._ack(eid)
                return "dead_letter"
            return "failed"  # stays pending; XAUTOCLAIM hands it out again after claim_idle_ms
        self._ack(eid)
        return "handed_on"

    def run_once(self, block_ms: int | None = None) -> dict[str, int]:
        """Reclaim stale entries, read new ones, process them all. Returns counts by outcome."""
        counts: dict[str, int] = {}
        entries = self.claim_stale() + self.read_new(block_ms=block_ms)
        for entry_id, fields in entries:
            what = self.process(entry_id, fields)
            counts[what] = counts.get(what, 0) + 1
        return counts

    def run(self, stop: threading.Event | None = None) -> None:
        self.ensure_group()
        stop = stop or threading.Event()
        while not stop.is_set():
            try:
                # heartbeat for the liveness probe (worker/ops/health.py): this loop is turning
                self.client.set(self.keys.consumer_alive(self.name), int(time.time()),
                                ex=max(30, 3 * self.settings.block_ms // 1000 + 10))
                self.run_once(block_ms=self.settings.block_ms)
            except (redis.ConnectionError, redis.TimeoutError):  # BusyLoadingError included
                stop.wait(1.0)  # Redis restarting: the client reconnects on the next call

    def _ack(self, entry_id: str) -> None:
        pipe = self.client.pipeline()
        pipe.xack(self.stream, self.group, entry_id)
        pipe.hdel(self.keys.request_attempts, entry_id)
        pipe.execute()

    @staticmethod
    def _doc_for(entry_id: str, request: IngestRequest | None) -> InputDocument:
        if request is None:
            return InputDocument(hashlib.blake2b(f"request|{entry_id}".encode(), digest_size=8).hexdigest(),
                                 "request", f"requests/{entry_id}", b"")
        kind = "url" if request.kind == "url" else "request"
        return InputDocument(request.doc_id, kind, request.uri, b"", run_id=request.run_id)
