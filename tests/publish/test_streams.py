from __future__ import annotations

import json

from schemas import DeadLetter, Source
from worker.publish.streams import Publisher, event_id
from worker.settings import StreamSettings


def _event(doc="d1"):
    return DeadLetter(event_id=event_id(doc, "dead_letter"), source=Source(kind="file", uri="/x"), stage="extract",
                      error_type="not_text", message="binary", attempts=1)


def test_an_event_is_published_once_per_event_id(client, keys):
    pub = Publisher(client, keys, StreamSettings())
    first = pub.publish([_event()])
    again = pub.publish([_event()])
    assert first[0] and again == [""]
    entries = client.xrange(keys.dead_letter)
    assert len(entries) == 1
    fields = entries[0][1]
    assert fields[b"type"] == b"dead_letter"
    assert json.loads(fields[b"data"])["error_type"] == "not_text"


def test_streams_are_trimmed_to_about_maxlen(client, keys):
    pub = Publisher(client, keys, StreamSettings(maxlen=10))
    for i in range(300):
        pub.publish([_event(f"d{i}")])
    assert client.xlen(keys.dead_letter) < 300
