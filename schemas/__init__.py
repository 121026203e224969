"""Storyline's event contract: pydantic models, and JSON Schema exported from them into
``schemas/jsonschema/`` for consumers in other languages."""

from schemas.envelope import SCHEMA_VERSION, Event
from schemas.events import (
    ALL_EVENTS,
    ArticleIngested,
    DeadLetter,
    DuplicateFound,
    Source,
    ThreadEvent,
    entry_type,
)



__all__ = [
    "ALL_EVENTS",
    "ArticleIngested",
    "DeadLetter",
    "DuplicateFound",
    "Event",
    "SCHEMA_VERSION",
    "Source",
    "ThreadEvent",
    "entry_type",
]
