"""The event contract: checked-in JSON Schemas match the models, and events validate against them."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema

import schemas
from schemas.export import OUT, schema_documents
from worker.publish.streams import to_fields


def test_checked_in_json_schemas_match_the_models():
    docs = schema_documents()
    on_disk = {p.name: p.read_text() for p in Path(OUT).glob("*.json")}
    assert on_disk == docs, "run: python -m schemas.export"


def test_every_event_has_a_schema_version_and_validates():
    ev = schemas.DeadLetter(event_id="e1", source=schemas.Source(kind="url", uri="http://x"), stage="fetch",
                            error_type="fetch_refused", message="private address", attempts=1)
    assert ev.schema_version == 1
    schema = json.loads((Path(OUT) / "dead-letter.json").read_text())
    jsonschema.validate(json.loads(to_fields(ev)["data"]), schema)


def test_exported_names():
    assert set(schemas.__all__) >= {"ArticleIngested", "DuplicateFound", "ThreadEvent", "DeadLetter"}
