"""Storyline's error tree. Stage code raises these; the task layer maps them to retry or dead letter.

    StorylineError
    ├── TransientError          try again later (Redis down, network timeout, 5xx)
    │   ├── FetchTimeout
    │   ├── HostBusy            every fetch slot of a host is taken: try again shortly
    │   └── RedisRefusedWrite   Redis full (OOM under noeviction) or read-only (a replica after a failover)
    └── PermanentError          retrying cannot help: dead-letter the input at once
        ├── EmptyInput          0 bytes, or only whitespace
        ├── TooLarge            over limits.max_bytes
        ├── NotText             binary content (NUL bytes, images, archives)
        ├── UndecodableText     no encoding gives readable text
        ├── NoContent           extraction found no article (too short, only chrome)
        ├── BadFeed             a feed that cannot be parsed into entries
        │   ├── EmptyFeed       a feed that parses but holds no entries
        │   └── FeedTruncated   more new entries than one poll takes (the rest wait, nothing is lost)
        ├── BadRequest          a poison entry on the request stream
        ├── IncompatibleIndex   the dedup index under the prefix was written with another scheme or layout
        └── FetchRefused        SSRF guard, robots.txt, content type, 4xx, an invalid URL
            └── BadResponse     a malformed answer: bad Content-Length, body cut short, illegal status line

    StageFailure                not a StorylineError: carries any error out of a pipeline stage,
                                with the stage's name and the timings so far (``error`` is the cause)
"""

from __future__ import annotations


class StorylineError(Exception):
    """Base of every error Storyline raises on purpose."""

    #: short machine-readable reason, the dead-letter event's ``error_type``
    code = "error"


class TransientError(StorylineError):
    code = "transient"


class FetchTimeout(TransientError):
    code = "fetch_timeout"


class HostBusy(TransientError):
    code = "host_busy"


class RedisRefusedWrite(TransientError):
    """Redis answered but refused a write: ``maxmemory`` reached under ``noeviction`` (OOM) or a
    replica after a failover (READONLY). An outage, retried like a lost connection; an input is
    dead-lettered with this code only if it ran out of attempts while Redis refused some writes."""

    code = "redis_refused_write"


class PermanentError(StorylineError):
    code = "permanent"


class EmptyInput(PermanentError):
    code = "empty_input"


class TooLarge(PermanentError):
    code = "too_large"


class NotText(PermanentError):
    code = "not_text"


class UndecodableText(PermanentError):
    code = "undecodable_text"


class NoContent(PermanentError):
    code = "no_content"


class BadFeed(PermanentError):
    code = "bad_feed"


class EmptyFeed(BadFeed):
    code = "empty_feed"


class FeedTruncated(BadFeed):
    code = "feed_truncated"


class BadRequest(PermanentError):
    code = "bad_request"


class IncompatibleIndex(PermanentError):
    """The dedup index under this prefix was written by a release with another shingle scheme,
    record layout or MinHash settings: mixing them would miss copies, so every input is refused
    until the operator points the release at a new prefix (README, "An index upgrade")."""

    code = "incompatible_index"


class FetchRefused(PermanentError):
    code = "fetch_refused"


class BadResponse(FetchRefused):
    """The server answered, but not in valid HTTP/1.1 (a bad, negative or conflicting
    Content-Length, a body cut short, an illegal status line): the same server answers the same
    way on a retry, so it is dead-lettered at once rather than retried ``max_attempts`` times."""

    code = "bad_response"


class StageFailure(Exception):
    """An error raised inside a pipeline stage, with where it happened: ``stage`` (the one that
    was running, a ``worker.model.Stage``; typed ``str`` so this module stays a leaf), ``timings_ms`` (the stages that ran, the failed one included) and ``error`` (the
    original exception, also its ``__cause__``). The pipeline raises it instead of patching
    attributes onto the original exception; the task layer maps ``error`` to retry or dead letter."""

    def __init__(self, stage: str, timings_ms: dict[str, float], error: BaseException) -> None:
        super().__init__(f"{stage}: {type(error).__name__}: {error}")
        self.stage = stage
        self.timings_ms = timings_ms
        self.error = error
