"""Write the JSON Schema of every event into schemas/jsonschema/ (``python -m schemas.export``).

A test regenerates them in memory and fails when the checked-in files drift.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from schemas.events import ALL_EVENTS

OUT = Path(__file__).parent / "jsonschema"
DIALECT = "https://json-schema.org/draft/2020-12/schema"
#: how a schema names its stream: a ``$comment`` (a core keyword every validator accepts, strict
#: ones included) in this exact form; a custom ``x-stream`` keyword fails ajv's strict mode
STREAM_COMMENT = "Events of the stream <prefix>:{stream}."


def stream_of(schema: dict[str, Any]) -> str:
    """The stream a schema document is for, read back from its ``$comment``."""
    head, _, tail = STREAM_COMMENT.partition("{stream}")
    comment = str(schema["$comment"])
    assert comment.startswith(head) and comment.endswith(tail), comment
    return comment[len(head):len(comment) - len(tail)]


def schema_documents() -> dict[str, str]:
    """File name -> JSON text of each event's schema."""
    docs = {}
    for model in ALL_EVENTS:
        schema = model.model_json_schema(mode="serialization")
        schema = {"$schema": DIALECT, "$id": f"https://storyline.dev/schemas/{model.STREAM}.json",
                  "$comment": STREAM_COMMENT.format(stream=model.STREAM), **schema}
        docs[f"{model.STREAM}.json"] = json.dumps(schema, indent=2, sort_keys=True) + "\n"
    return docs


def main() -> None:
    OUT.mkdir(exist_ok=True)
    for name, text in schema_documents().items():
        (OUT / name).write_text(text)
        print(f"wrote {OUT / name}")


if __name__ == "__main__":
    main()
