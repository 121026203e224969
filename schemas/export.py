"""Write the JSON Schema of every event into schemas/jsonschema/ (``python -m schemas.export``).

A test regenerates them in memory and fails when the checked-in files drift.
"""

from __future__ import annotations

import json
from pathlib import Path

from schemas.events import ALL_EVENTS

OUT = Path(__file__).parent / "jsonschema"


def schema_documents() -> dict[str, str]:
    """File name -> JSON text of each event's schema."""
    docs = {}
    for model in ALL_EVENTS:
        schema = model.model_json_schema(mode="serialization")
        schema["$id"] = f"https://storyline.dev/schemas/{model.STREAM}.json"
        schema["x-stream"] = model.STREAM
        docs[f"{model.STREAM}.json"] = json.dumps(schema, indent=2, sort_keys=True) + "\n"
    return docs


def main() -> None:
    OUT.mkdir(exist_ok=True)
    for name, text in schema_documents().items():
        (OUT / name).write_text(text)
        print(f"wrote {OUT / name}")


if __name__ == "__main__":
    main()
