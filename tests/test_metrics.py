"""The Prometheus endpoint, scraped over real HTTP while real documents go through a real worker:
in-process (threads pool, one registry) and as `storyline worker` (prefork pool, multiprocess
mode), which also checks the JSON logs and the warm shutdown on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import seed_paths
from tests.flow import submit, submit_files, wait_outcomes
from worker.ops import metrics
from worker.runtime.app import create_app

BINARY = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """GET /metrics and parse it: {(sample name, sorted labels): value}."""
    response = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
    response.raise_for_status()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.text) for s in family.samples
    }


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_endpoint_counts_outcomes_stages_and_stream_backlog(celery_worker, settings, client, keys, prefix):
    port = _free_port()
    server, thread = metrics.serve(port, client, keys, addr="127.0.0.1")
    try:
        before = scrape(port)  # counters are process-wide: other tests may have moved them
        run_id = uuid.uuid4().hex
        submit_files(celery_worker, keys, run_id, seed_paths())
        submit(celery_worker, keys, run_id, "broken.png", BINARY)
        wait_outcomes(client, keys, run_id, 6)
        # a consumer that read two articles and acknowledged neither
        client.xgroup_create(keys.articles, "dashboards", id="0")
        client.xreadgroup("dashboards", "c1", {keys.articles: ">"}, count=2)

        deadline = time.monotonic() + 30
        while True:  # the run hash is written just before the task records its metrics
            after = scrape(port)
            done = value(after, "storyline_inputs_total", outcome="article") - value(before, "storyline_inputs_total", outcome="article")
            if done >= 5 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
    finally:
        server.shutdown()
        server.server_close()  # shutdown() only stops serving; the unclosed socket is a ResourceWarning

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("storyline_inputs_total", outcome="article") == 5
    assert delta("storyline_inputs_total", outcome="dead_letter") == 1
    assert delta("storyline_dead_letters_total", stage="extract", error_type="not_text") == 1
    assert delta("storyline_stage_runs_total", stage="extract", outcome="ok") == 5
    assert delta("storyline_stage_runs_total", stage="extract", outcome="error") == 1
    assert delta("storyline_stage_runs_total", stage="thread", outcome="ok") == 5
    assert delta("storyline_stage_seconds_count", stage="publish") == 5
    assert delta("storyline_stage_seconds_count", stage="extract") == 6
    assert value(after, "storyline_redis_up") == 1
    assert value(after, "storyline_queue_length", queue=f"{prefix}.ingest") == 0
    assert value(after, "storyline_stream_length", stream="articles") == 5
    assert value(after, "storyline_stream_length", stream="dead-letter") == 1
    assert value(after, "storyline_consumer_group_pending", stream="articles", group="dashboards") == 2
    assert value(after, "storyline_consumer_group_lag", stream="articles", group="dashboards") == 3


def test_queue_length_gauge_counts_tasks_nobody_consumes_yet(settings, client, keys, prefix):
    """The autoscaling signal: tasks waiting in the Celery list (KEDA reads the same key)."""
    app = create_app(settings)
    run_id = uuid.uuid4().hex
    submit_files(app, keys, run_id, seed_paths()[:3])
    collector = metrics.RedisCollector(client, keys)
    assert collector.queue_key == f"{prefix}:celery:{prefix}.ingest"
    families = {f.name: f for f in collector.collect()}
    assert [s.value for s in families["storyline_queue_length"].samples] == [3]


def test_storyline_worker_serves_the_counters_of_its_prefork_pool_and_logs_json(redis_url, settings, client, keys, tmp_path):
    port = _free_port()
    env = dict(os.environ, STORYLINE_JSON_LOGS="true", STORYLINE_LOG_LEVEL="INFO",
               PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "prom"))
    worker = subprocess.Popen(
        [sys.executable, "-m", "worker.cli", "worker", "-c", "2", "-l", "INFO", "--metrics-port", str(port),
         "--redis", redis_url, "--prefix", settings.prefix],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env,
    )
    try:
        run_id = uuid.uuid4().hex
        submit_files(create_app(settings), keys, run_id, seed_paths())
        wait_outcomes(client, keys, run_id, 5)
        deadline = time.monotonic() + 30
        while True:
            try:
                samples = scrape(port)
            except httpx.TransportError:
                samples = {}
            if value(samples, "storyline_inputs_total", outcome="article") >= 5 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        # the tasks ran in pool processes, the endpoint is served by the main process: only the
        # multiprocess files carry the counts across
        assert value(samples, "storyline_inputs_total", outcome="article") == 5
        assert value(samples, "storyline_stage_seconds_count", stage="dedup") == 5
        assert list((tmp_path / "prom").glob("counter_*.db"))
    finally:
        worker.send_signal(signal.SIGTERM)  # forwarded to the Celery worker: warm shutdown
        _, stderr = worker.communicate(timeout=60)
    assert worker.returncode == 0, stderr[-3000:]

    lines = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    finished = [line for line in lines if line.get("event") == "article"]
    assert len(finished) == 5, stderr[-3000:]
    assert {line["source"] for line in finished} == {str(p) for p in seed_paths()}
    assert all(line["article_id"] == line["doc_id"] and line["source_kind"] == "file" for line in finished)
    assert all(line["thread_id"] and "ms_extract" in line for line in finished)
