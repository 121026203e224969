"""Hostile input through the real CLI and a real worker: every file ends as a dead letter with a
clear reason, the replay carries on, and a good article in the same run is published."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import seed_paths
from tests.flow import events
from tests.reliability.hostile import write_corpus

pytestmark = pytest.mark.slow


def test_every_hostile_input_is_dead_lettered_with_its_reason(tmp_path, redis_url, prefix, client, keys):
    expected = write_corpus(tmp_path / "hostile")
    good = tmp_path / "hostile" / "good-article.txt"
    good.write_bytes(seed_paths()[1].read_bytes())
    # a real article in UTF-16 without a BOM is text, and is decoded rather than refused
    (tmp_path / "hostile" / "utf16-nobom-article.txt").write_bytes(seed_paths()[3].read_text().encode("utf-16-le"))
    run = subprocess.run(
        [sys.executable, "-m", "worker.cli", "replay", str(tmp_path / "hostile"), "--json", "--redis", redis_url,
         "--prefix", prefix, "--workers", "1", "-c", "2"],
        capture_output=True, text=True, timeout=600, env=dict(os.environ),
    )
    assert run.returncode == 0, run.stderr[-3000:]
    summary = json.loads(run.stdout)
    assert summary == {**summary, "inputs": len(expected) + 2, "articles": 2, "dead_letters": len(expected)}
    letters = {Path(d["source"]["uri"]).name: d for d in events(client, keys.dead_letter)}
    assert {name: d["error_type"] for name, d in letters.items()} == expected
    assert letters["page-50mb.html"]["stage"] == "read"
    assert all(len(d["message"]) > 10 for d in letters.values())
