"""What every Storyline event carries, whatever its type."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


class Event(BaseModel):
    """Base of every event. ``event_id`` is deterministic (derived from the input and the
    event's role), so a retried task republishes the same id and consumers can drop repeats."""

    model_config = ConfigDict(extra="forbid")

    #: stream-entry ``type`` field, e.g. ``article.ingested``
    TYPE: ClassVar[str] = "event"
    #: short name of the stream the event goes to (under the prefix)
    STREAM: ClassVar[str] = ""

    schema_version: int = Field(1, description="Version of this event's schema; bumped on any breaking change.")
    event_id: str = Field(description="Deterministic id of this event; the same input yields the same id on retry.")
    occurred_at: datetime = Field(default_factory=utc_now, description="When the event was produced (UTC).")
