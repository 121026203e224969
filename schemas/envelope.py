"""What every Storyline event carries, whatever its type."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

#: version of the event contract; bumped on any breaking change (the schemas say ``const``;
#: Event.schema_version's Literal must change with it)
SCHEMA_VERSION = 1

#: an id, a name or a body that is never empty
NonEmpty = Annotated[str, Field(min_length=1)]


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


class Event(BaseModel):
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
