"""What every Storyline event carries, whatever its type."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

_SURROGATE = re.compile("[\ud800-\udfff]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    # U+DC80..U+DCFF is how Python keeps a byte that is not UTF-8 (a file name's b'\xff', read
    # with surrogateescape): shown as that byte; any other lone surrogate as its code point
    return f"\\x{code - 0xDC00:02x}" if 0xDC80 <= code <= 0xDCFF else f"\\u{code:04x}"


def printable(value: str) -> str:
    """``value`` with every lone surrogate written out as an escape (``bad\\xff.html``), so it
    encodes as UTF-8. A str holding one cannot be serialised as JSON or written to Redis, and an
    event that cannot be published leaves its input without any outcome."""
    return _SURROGATE.sub(_escape, value) if _SURROGATE.search(value) else value


def scrub(data: Any) -> Any:
    """``printable`` over every string in a model's input (dicts and lists walked)."""
    if isinstance(data, str):
        return printable(data)
    if isinstance(data, dict):
        return {k: scrub(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return type(data)(scrub(v) for v in data)
    return data


class Scrubbed(BaseModel):
    """A model whose strings always serialise: lone surrogates are escaped as it is built."""

    @model_validator(mode="before")
    @classmethod
    def _printable_strings(cls, data: Any) -> Any:
        return scrub(data)

#: version of the event contract; bumped on any breaking change (the schemas say ``const``;
#: Event.schema_version's Literal must change with it)
SCHEMA_VERSION = 1

#: an id, a name or a body that is never empty
NonEmpty = Annotated[str, Field(min_length=1)]


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


class Event(Scrubbed):
    """Base of every event. ``event_id`` is deterministic (derived from the input and the
    event's role), so a retried task republishes the same id and consumers can drop repeats."""

    # extra="forbid": additionalProperties false. json_schema_serialization_defaults_required:
    # a field with a default is still always present in the JSON an event is published as
    # (model_dump_json writes every field), so its exported schema lists it as required
    model_config = ConfigDict(extra="forbid", json_schema_serialization_defaults_required=True)

    #: stream-entry ``type`` field, e.g. ``article.ingested``
    TYPE: ClassVar[str] = "event"
    #: short name of the stream the event goes to (under the prefix)
    STREAM: ClassVar[str] = ""

    schema_version: Literal[1] = Field(1, description="Version of this event's schema; bumped on any breaking change.")
    event_id: NonEmpty = Field(description="Deterministic id of this event; the same input yields the same id on retry.")
    occurred_at: datetime = Field(default_factory=utc_now, description="When the event was produced (UTC).")
