"""The domain model every layer shares: one accepted input, what became of it, and the names of
the stages and statuses (enums, so a misspelt ``"thread"`` fails at once, not in a dashboard).

No I/O and no imports of other Storyline modules except ``schemas`` (the event contract), so
stages, the pipeline, the runtime and the CLI can all depend on it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from enum import StrEnum

from schemas import Source


class Stage(StrEnum):
    """Where an input is, in pipeline order, as named in ``Outcome.timings_ms``, metrics and the
    dead-letter event's ``stage`` (schemas.events.DeadLetter)."""

    READ = "read"        # a file read by the CLI
    FETCH = "fetch"      # a URL fetched by the fetch task
    FEED = "feed"        # a feed poll
    REQUEST = "request"  # an entry of the request stream
    EXTRACT = "extract"
    DEDUP = "dedup"
    THREAD = "thread"
    PUBLISH = "publish"


class Status(StrEnum):
    """What an input became (``Outcome.status``, the run hash, the inputs counter)."""

    ARTICLE = "article"
    DUPLICATE = "duplicate"
    DEAD_LETTER = "dead_letter"


@dataclass(frozen=True)
class InputDocument:
    """One accepted input. ``doc_id`` is fixed when the input is accepted and drives every
    derived id, so redelivering the same input repeats the same decisions and event ids."""

    doc_id: str
    source_kind: str  # file | url | feed | request
    uri: str
    body: bytes
    url: str | None = None
    content_type: str | None = None
    run_id: str | None = None
    #: a publication date the source gave beside the body (a feed entry's, ISO 8601), taken
    #: when the page itself gives none: a summary feed's entry is fetched from its link, and
    #: the page's markup may carry no date where the feed did
    published_hint: str | None = None

    @property
    def source(self) -> Source:
        return Source(kind=self.source_kind, uri=self.uri)


@dataclass
class Outcome:
    doc_id: str
    status: Status
    article_id: str | None = None
    duplicate_of: str | None = None
    thread_id: str | None = None
    story_id: str | None = None
    error_type: str | None = None
    timings_ms: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self))
