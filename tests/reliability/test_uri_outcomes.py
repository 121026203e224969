"""Issue 19, item 1: an input whose name is not valid UTF-8 (a file name's byte 0xff) or holds a
lone surrogate (JSON's "\\ud800" on the request stream) ends as exactly one outcome, through the
real CLI and a real worker, and every event about it is published with its name escaped."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import seed_paths
from tests.flow import events, wait_outcomes
from worker.sources.requests import submit

pytestmark = pytest.mark.slow


def test_a_file_name_that_is_not_utf8_ends_as_one_outcome(tmp_path, redis_url, prefix, client, keys):
    folder = tmp_path / "names"
    folder.mkdir()
    seeds = seed_paths()
    # names as bytes: b"bad\xff.txt" is no UTF-8, so Python's str of it holds the surrogate \udcff
    for raw, seed in ((b"bad\xff.txt", seeds[0]), (b"caf\xe9.txt", seeds[1]), (b"good.txt", seeds[2])):
        with open(os.path.join(os.fsencode(folder), raw), "wb") as fh:
            fh.write(seed.read_bytes())
    (folder / "short\udcfe.html").write_bytes(b"<html><body><p>some article text</p></body></html>")
    run = subprocess.run(
        [sys.executable, "-m", "worker.cli", "replay", str(folder), "--json", "--redis", redis_url, "--prefix", prefix,
         "--workers", "1", "-c", "1", "--timeout", "60"],
        capture_output=True, text=True, timeout=300, env=dict(os.environ),
    )
    # on the old code no event for these inputs could be published: replay resent them every
    # 5 s until --timeout, and exited 1 with 1 of 4 inputs done
    assert run.returncode == 0, run.stderr[-3000:]
    summary = json.loads(run.stdout)
    assert summary == {**summary, "inputs": 4, "articles": 3, "dead_letters": 1}
    uris = sorted(Path(a["source"]["uri"]).name for a in events(client, keys.articles))
    assert uris == ["bad\\xff.txt", "caf\\xe9.txt", "good.txt"]
    (letter,) = events(client, keys.dead_letter)
    assert Path(letter["source"]["uri"]).name == "short\\xfe.html" and letter["error_type"] == "no_content"


def test_a_request_holding_a_lone_surrogate_ends_as_one_outcome(celery_worker, client, keys, settings):
    from worker.runtime.sinks import build_consumer

    body = seed_paths()[4].read_text(encoding="utf-8")
    import base64

    entries = [
        # what a producer's JSON encoder writes for a str holding a lone surrogate
        {"data": json.dumps({"kind": "file", "uri": "upload-\ud800.txt", "run_id": "lone",
                             "body_b64": base64.b64encode(body.encode()).decode(), "content_type": "text/plain"})},
        {"data": json.dumps({"kind": "url", "url": "http://example.com/\udcff", "run_id": "lone"})},
    ]
    submit(client, keys, entries)
    consumer = build_consumer(settings, client, name="c-lone")
    consumer.ensure_group()
    # on the old code the URL's dead letter raised PydanticSerializationError inside run_once
    assert consumer.run_once() == {"handed_on": 1, "poison": 1}
    outcomes = wait_outcomes(client, keys, "lone", 1)
    assert [o["status"] for o in outcomes.values()] == ["article"]
    assert [a["source"]["uri"] for a in events(client, keys.articles)] == ["upload-\\ud800.txt"]
    (letter,) = events(client, keys.dead_letter)
    assert letter["error_type"] == "bad_request" and "lone surrogate" in letter["message"]
    assert client.xpending(keys.requests, settings.requests.group)["pending"] == 0
