"""The only network code: fetch one URL over an ``httpx.Client``, safely and within limits.

``fetch`` follows redirects itself (the client never does) so that every hop is checked by the
SSRF guard before connecting and counted against ``max_redirects``. The body is streamed and
decompressed here, counting decompressed bytes, so neither a huge page nor a gzip bomb is ever
held in memory past ``max_body_bytes``. Errors are translated at this boundary: timeouts, 429
and 5xx become TransientError (retried); everything a retry cannot fix becomes FetchRefused or
TooLarge (dead-lettered).
"""

from __future__ import annotations

import contextvars
import time
import zlib
from dataclasses import dataclass, field
from typing import Any, Literal

import httpcore
import httpx

from worker.errors import BadResponse, FetchRefused, FetchTimeout, TooLarge, TransientError
from worker.settings import FetchSettings
from worker.sources.guard import AddressPolicy, GuardedBackend
from worker.sources import telemetry as metrics

Kind = Literal["page", "feed", "robots"]

_REDIRECTS = (301, 302, 303, 307, 308)
#: bytes read from the socket per step; bounds how far past the limit one step can go
_CHUNK = 64 * 1024


@dataclass(frozen=True)
class FetchResult:
    """A fetched URL. ``status`` is 200 (or another 2xx) with a body, or 304 with none."""

    url: str
    status: int
    body: bytes = b""
    content_type: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    redirects: list[str] = field(default_factory=list)

    @property
    def not_modified(self) -> bool:
        return self.status == 304


def policy_for(settings: FetchSettings) -> AddressPolicy:
    return AddressPolicy(settings.allow_private_networks, settings.allowed_private_addresses)


#: the monotonic deadline of the fetch running in this thread (or task), None outside ``fetch``.
#: A contextvar, not an attribute of the connection: pooled connections outlive one fetch
_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar("storyline_fetch_deadline", default=None)


def _bounded(timeout: float | None, error: type[Exception]) -> float | None:
    """``timeout`` cut to what is left of this fetch's deadline; raises ``error`` once it passed."""
    deadline = _DEADLINE.get()
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise error("STORYLINE_FETCH__TOTAL_TIMEOUT passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    """A socket stream whose every read, write and TLS handshake waits at most until the fetch's
    deadline. httpx's timeouts are per operation (a server sending one byte a second never trips
    a 15 s read timeout), and httpcore gives no whole-request deadline, so each socket wait is
    bounded here: headers and body alike stop at ``total_timeout``, not at the Celery time limit."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _bounded(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _bounded(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        return _DeadlineStream(self._inner.start_tls(ssl_context, server_hostname,
                                                     _bounded(timeout, httpcore.ConnectTimeout)))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    """Wraps the guarded backend so that connecting, and every socket wait after, holds the deadline."""

    def __init__(self, inner: httpcore.NetworkBackend) -> None:
        self._inner = inner

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Any = None) -> httpcore.NetworkStream:
        return _DeadlineStream(self._inner.connect_tcp(host, port, _bounded(timeout, httpcore.ConnectTimeout),
                                                       local_address=local_address, socket_options=socket_options))

    def connect_unix_socket(self, path: str, timeout: float | None = None, socket_options: Any = None) -> httpcore.NetworkStream:
        return self._inner.connect_unix_socket(path, timeout, socket_options)

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class GuardedTransport(httpx.HTTPTransport):
    """httpx's transport with a connection pool that dials only addresses the policy accepts.
    httpx has no public hook for the network backend, so the pool is rebuilt here with
    httpcore's public constructor (the one attribute replaced is HTTPTransport's ``_pool``)."""

    def __init__(self, policy: AddressPolicy, limits: httpx.Limits = httpx.Limits(max_connections=50)) -> None:
        super().__init__(trust_env=False, limits=limits)
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_DeadlineBackend(GuardedBackend(policy)),
        )


def build_client(settings: FetchSettings) -> httpx.Client:
    """The client every fetch uses: guarded transport, our timeouts, no proxies from the
    environment (a proxy would dial for us, past the guard), redirects left to ``fetch``."""
    return httpx.Client(
        transport=GuardedTransport(policy_for(settings)),
        timeout=httpx.Timeout(settings.read_timeout, connect=settings.connect_timeout),
        follow_redirects=False,
        trust_env=False,
        headers={"User-Agent": settings.user_agent, "Accept-Encoding": "gzip, deflate"},
    )


def parse_url(url: str) -> httpx.URL:
    """``url`` parsed, or FetchRefused: a malformed URL (``http://[::1``, a bad port, a host that
    is no valid IDNA name, a lone surrogate) is the submitter's error, never an internal one."""
    try:
        return httpx.URL(url)
    except (httpx.InvalidURL, UnicodeError, ValueError, TypeError) as exc:
        raise FetchRefused(f"not a valid URL: {url!r} ({exc})") from exc


def media_type(content_type: str | None) -> str:
    """'text/html; charset=utf-8' -> 'text/html'."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def check_target(url: httpx.URL, settings: FetchSettings, policy: AddressPolicy) -> None:
    """Refuse a URL before any connection: scheme, host allow-list, then the SSRF guard on
    every address the host resolves to."""
    if url.scheme not in ("http", "https"):
        raise FetchRefused(f"only http and https URLs are fetched, not {url.scheme or 'a relative URL'!r}: {url}")
    host = url.host
    if not host:
        raise FetchRefused(f"no host in {url}")
    if settings.allowed_hosts is not None and host.lower() not in {h.lower() for h in settings.allowed_hosts}:
        raise FetchRefused(f"host {host} is not in STORYLINE_FETCH__ALLOWED_HOSTS")
    port = url.port or (443 if url.scheme == "https" else 80)
    policy.resolve_and_check(host, port)


class _BoundedDecoder:
    """Content-Encoding decoding that never produces more than ``limit`` bytes. httpx's own
    decoders inflate each network chunk without an output bound (one 64 KiB chunk of a gzip
    bomb can become 64 MiB), hence this hand-written one using zlib's ``max_length``."""

    def __init__(self, encoding: str, limit: int) -> None:
        self.limit = limit
        self.produced = 0
        enc = encoding.strip().lower()
        if enc in ("", "identity"):
            self._z = None
        elif enc in ("gzip", "x-gzip"):
            self._z = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif enc == "deflate":
            self._z = zlib.decompressobj(32 + zlib.MAX_WBITS)  # zlib- or gzip-wrapped, auto-detected
        else:
            raise FetchRefused(f"unsupported Content-Encoding {encoding!r} (only gzip and deflate are accepted)")

    def feed(self, chunk: bytes) -> bytes:
        if self._z is None:
            self._count(len(chunk))
            return chunk
        out: list[bytes] = []
        data = chunk
        try:
            while data:
                # at most one byte past the limit, which is enough to know it was passed
                part = self._z.decompress(data, self.limit - self.produced + 1)
                self._count(len(part))
                out.append(part)
                data = self._z.unconsumed_tail
        except zlib.error as exc:
            raise FetchRefused(f"the body does not decompress: {exc}") from exc
        return b"".join(out)

    def _count(self, n: int) -> None:
        self.produced += n
        if self.produced > self.limit:
            raise TooLarge(f"the body is over the {self.limit:,}-byte limit after decompression "
                           "(STORYLINE_FETCH__MAX_BODY_BYTES); a larger page or a decompression bomb")


def _accepted(kind: Kind, media: str, allowed: list[str]) -> bool:
    """Whether a response of this media type is read. Feeds are labelled loosely in the wild
    (text/rss+xml, application/xml-dtd ...), so for a feed any XML or JSON type is accepted too."""
    if media in allowed:
        return True
    return kind == "feed" and (media.endswith(("xml", "json")) or "+xml" in media or "xml-" in media)


def _read_body(response: httpx.Response, limit: int, deadline: float) -> bytes:
    decoder = _BoundedDecoder(response.headers.get("content-encoding", ""), limit)
    parts: list[bytes] = []
    for chunk in response.iter_raw(_CHUNK):
        parts.append(decoder.feed(chunk))
        if time.monotonic() > deadline:
            raise FetchTimeout("the response took longer than STORYLINE_FETCH__TOTAL_TIMEOUT to arrive")
    return b"".join(parts)


def fetch(
    client: httpx.Client,
    url: str,
    settings: FetchSettings,
    *,
    kind: Kind = "page",
    etag: str | None = None,
    last_modified: str | None = None,
    policy: AddressPolicy | None = None,
) -> FetchResult:
    """GET ``url`` following up to ``max_redirects`` redirects, each hop checked before
    connecting. With ``etag``/``last_modified`` the request is conditional and a 304 comes
    back as ``FetchResult(status=304)``. The whole fetch, redirects included, ends by
    ``total_timeout``: every socket wait is cut to what is left of it (see ``_DeadlineStream``)."""
    deadline = time.monotonic() + settings.total_timeout
    token = _DEADLINE.set(deadline)
    try:
        return _fetch(client, url, settings, kind, etag, last_modified, policy or policy_for(settings), deadline)
    finally:
        _DEADLINE.reset(token)


def _timed_out(what: str, current: httpx.URL, exc: Exception, deadline: float, settings: FetchSettings) -> FetchTimeout:
    if time.monotonic() >= deadline - 0.01:
        return FetchTimeout(f"{what} {current} took longer than STORYLINE_FETCH__TOTAL_TIMEOUT "
                            f"({settings.total_timeout:g}s): a slow or trickling server")
    return FetchTimeout(f"timed out {what} {current}: {type(exc).__name__}")


#: the one protocol failure a retry can fix: the server (or a keep-alive connection it had
#: closed) went away before answering. Every other malformed answer (bad, negative or conflicting
#: Content-Length, an illegal status line or header, a body cut short) comes again on a retry
_GONE = "Server disconnected without sending a response"


def _fetch(client: httpx.Client, url: str, settings: FetchSettings, kind: Kind, etag: str | None,
           last_modified: str | None, policy: AddressPolicy, deadline: float) -> FetchResult:
    allowed_types = {
        "page": settings.page_content_types,
        "feed": settings.feed_content_types,
        "robots": None,  # robots.txt is parsed whatever its label; junk simply holds no rules
    }[kind]
    timeout = httpx.Timeout(settings.read_timeout, connect=settings.connect_timeout)
    headers: dict[str, str] = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    current = parse_url(url)
    hops: list[str] = []
    while True:
        check_target(current, settings, policy)
        request = client.build_request("GET", current, headers=headers, timeout=timeout)
        try:
            response = client.send(request, stream=True)
        except httpx.TimeoutException as exc:
            metrics.record_fetch(kind, "timeout")
            raise _timed_out("fetching", current, exc, deadline, settings) from exc
        except httpx.RemoteProtocolError as exc:
            if _GONE in str(exc):
                metrics.record_fetch(kind, "transport_error")
                raise TransientError(f"cannot fetch {current}: {exc}") from exc
            metrics.record_fetch(kind, "bad_response")
            raise BadResponse(f"the server at {current} broke HTTP/1.1: {exc}") from exc
        except httpx.TransportError as exc:
            metrics.record_fetch(kind, "transport_error")
            raise TransientError(f"cannot fetch {current}: {type(exc).__name__}: {exc}") from exc
        try:
            status = response.status_code
            metrics.record_fetch(kind, status)
            if status in _REDIRECTS:
                location = response.headers.get("location")
                if not location:
                    raise FetchRefused(f"HTTP {status} redirect without a Location header from {current}")
                if len(hops) >= settings.max_redirects:
                    raise FetchRefused(f"more than {settings.max_redirects} redirects (STORYLINE_FETCH__MAX_REDIRECTS), "
                                       f"last to {location}")
                hops.append(str(current))
                try:
                    current = current.join(location)
                except (httpx.InvalidURL, UnicodeError, ValueError) as exc:
                    raise FetchRefused(f"invalid redirect Location {location!r}") from exc
                continue
            validators = {"etag": response.headers.get("etag"), "last_modified": response.headers.get("last-modified")}
            if status == 304:
                return FetchResult(str(current), 304, redirects=hops, **validators)
            if status == 429 or status >= 500:
                raise TransientError(f"HTTP {status} from {current}"
                                     + (f" (Retry-After: {response.headers['retry-after']})"
                                        if "retry-after" in response.headers else ""))
            if not 200 <= status < 300:
                refused = FetchRefused(f"HTTP {status} from {current}")
                refused.http_status = status  # type: ignore[attr-defined]
                raise refused
            content_type = response.headers.get("content-type")
            if allowed_types is not None and content_type and not _accepted(kind, media_type(content_type), allowed_types):
                raise FetchRefused(f"content type {media_type(content_type)!r} is not accepted for a {kind} "
                                   f"(accepted: {', '.join(allowed_types)})")
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and not response.headers.get("content-encoding") and int(declared) > settings.max_body_bytes:
                raise TooLarge(f"Content-Length {int(declared):,} is over the {settings.max_body_bytes:,}-byte limit "
                               "(STORYLINE_FETCH__MAX_BODY_BYTES)")
            try:
                body = _read_body(response, settings.max_body_bytes, deadline)
            except httpx.TimeoutException as exc:
                raise _timed_out("reading", current, exc, deadline, settings) from exc
            except httpx.RemoteProtocolError as exc:
                # a body shorter than its Content-Length or an unfinished chunked body: a server
                # that sends it so sends it so again (a dropped connection is a ReadError, retried)
                raise BadResponse(f"the body from {current} is malformed or cut short: {exc}") from exc
            except httpx.TransportError as exc:
                raise TransientError(f"connection broke reading {current}: {exc}") from exc
            return FetchResult(str(current), status, body, content_type, redirects=hops, **validators)
        finally:
            response.close()
