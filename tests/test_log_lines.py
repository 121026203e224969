"""JSON log lines of several processes sharing one stderr stay whole (fast, no Redis).

A Celery worker's pool processes all write to the stderr they inherited. With unbuffered
stdio (PYTHONUNBUFFERED=1, which deploy/Dockerfile and many CI runners set) a logger that
writes a line and its newline in two writes lets one process's line land between another's
text and newline: two JSON objects on one line. CI caught that once in the worker test."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

_CHILD = """
import structlog
from worker.ops.logs import configure_logging
configure_logging("INFO", json_logs=True)
log = structlog.get_logger()
for i in range(2000):
    log.info("article", doc_id="d" * 16, source="seeds/" + "x" * 40, i=i)
"""


def test_lines_of_two_unbuffered_processes_on_one_pipe_are_each_one_json_object():
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    root = Path(__file__).resolve().parents[1]
    read, write = os.pipe()
    procs = [subprocess.Popen([sys.executable, "-c", _CHILD], stderr=write, stdout=subprocess.DEVNULL,
                              env=env, cwd=root) for _ in range(2)]
    os.close(write)
    with os.fdopen(read, encoding="utf-8") as stream:
        text = stream.read()
    assert all(proc.wait(timeout=120) == 0 for proc in procs)
    lines = text.splitlines()
    assert len(lines) == 4000
    bad = []
    for line in lines:
        try:
            json.loads(line)
        except json.JSONDecodeError:
            bad.append(line)
    assert not bad, bad[:3]
