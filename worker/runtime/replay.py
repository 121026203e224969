"""A replay: send files as ingest tasks of one run, then wait until every input has an outcome,
supervising the worker processes the replay started and sending again the inputs the broker
lost. The CLI's ``replay`` parses its options, calls ``Replay.run`` and prints the summary."""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis
from celery import Celery

from worker.errors import PermanentError
from worker.model import InputDocument, Stage
from worker.pipeline import DeadLetterWriter
from worker.runtime.app import create_app
from worker.runtime.messages import INGEST_TASK, encode_document
from worker.runtime.processes import start_worker_process, stop_worker_process, workers_alive
from worker.settings import Settings
from worker.sources.files import content_type_for, path_uri, read_file
from worker.store.keys import Keys

#: restarts of a worker that `replay` started and that exited before the replay finished
MAX_WORKER_RESTARTS = 5
#: seconds the queue and the in-flight hash must stay empty, with outcomes missing, before the
#: inputs without one are taken as lost and sent again
LOST_AFTER_SECONDS = 5.0
#: how often the outcomes are counted while waiting, in seconds
POLL_SECONDS = 0.1


def summarise(outcomes: Iterable[dict[str, Any]]) -> dict[str, int]:
    """Counts of a run's outcomes: inputs, articles, duplicates, dead letters, threads, stories."""
    outcomes = list(outcomes)
    counts = Counter(o["status"] for o in outcomes)
    return {
        "inputs": len(outcomes),
        "articles": counts.get("article", 0),
        "duplicates": counts.get("duplicate", 0),
        "dead_letters": counts.get("dead_letter", 0),
        "threads": len({o["thread_id"] for o in outcomes if o.get("thread_id")}),
        "stories": len({o["story_id"] for o in outcomes if o.get("story_id")}),
    }


def send_files(celery_app: Celery, client: redis.Redis, settings: Settings, run_id: str,
               items: list[tuple[str, Path]]) -> dict[str, Path]:
    """Send each (doc id, file) as an ingest task of the run ``run_id``; a file that cannot be
    read (gone, too large) is dead-lettered at once (stage read). Returns the files sent, by doc id."""
    keys = Keys(settings.prefix)
    dead_letters = DeadLetterWriter.for_settings(client, settings)
    sent: dict[str, Path] = {}
    with celery_app.producer_or_acquire() as producer:
        for doc_id, path in items:
            try:
                body = read_file(path, max_bytes=settings.limits.max_bytes)
            except PermanentError as exc:
                dead_letters.dead_letter(InputDocument(doc_id, "file", path_uri(path), b"", run_id=run_id), exc, 1, Stage.READ)
                continue
            doc = InputDocument(doc_id, "file", path_uri(path), body, content_type=content_type_for(path), run_id=run_id)
            celery_app.send_task(INGEST_TASK, args=[encode_document(doc)], queue=keys.queue,
                                 task_id=doc_id, producer=producer)
            sent[doc_id] = path
    return sent


@dataclass
class Replay:
    """One replay of ``files`` on ``settings``' Redis. ``progress(done, total)`` and ``warn(text)``
    are how it reports (the CLI draws a bar and prints); it never prints itself."""

    settings: Settings
    client: redis.Redis
    progress: Callable[[int, int], None] = lambda done, total: None
    warn: Callable[[str], None] = lambda text: None
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    #: where the workers started here write their output (not the user's terminal); None: stderr
    log_file: Path | None = None

    def run(self, files: list[Path], *, workers: int, concurrency: int, timeout: float,
            embedded: bool) -> list[dict[str, Any]]:
        """Start ``workers`` worker processes here (-1: one unless workers already answer on this
        Redis and prefix, or the Redis is embedded), send the files, wait; the run's outcomes."""
        celery_app = create_app(self.settings)
        keys = Keys(self.settings.prefix)
        start_here = workers if workers >= 0 else (0 if (not embedded and workers_alive(self.settings)) else 1)
        procs = [start_worker_process(self.settings, concurrency, log_file=self.log_file) for _ in range(start_here)]
        if start_here:
            self.warn(f"[dim]started {start_here} worker process group(s) with {concurrency} process(es) each[/]")
        sent: dict[str, Path] = {}

        def resend_lost() -> int:
            """Send again the inputs that have no outcome while nothing is queued or in flight."""
            done = {k.decode() for k in self.client.hkeys(keys.run(self.run_id))}
            lost = [(doc_id, path) for doc_id, path in sent.items() if doc_id not in done]
            send_files(celery_app, self.client, self.settings, self.run_id, lost)
            return len(lost)

        try:
            sent.update(send_files(celery_app, self.client, self.settings, self.run_id,
                                   [(uuid.uuid4().hex[:16], path) for path in files]))
            # the resend watches kombu's Redis queue and unacked hash: with another broker
            # (RabbitMQ) both stay empty while tasks run, and nothing is popped unrecorded there
            self.wait(len(files), procs, timeout, restart=lambda: start_worker_process(self.settings, concurrency, log_file=self.log_file),
                      resend_lost=None if self.settings.broker_url else resend_lost)
        finally:
            for p in procs:
                stop_worker_process(p)
        return [json.loads(v) for v in self.client.hvals(keys.run(self.run_id))]

    def wait(self, total: int, procs: list[subprocess.Popen[bytes]], timeout: float,
             restart: Callable[[], subprocess.Popen[bytes]] | None = None,
             resend_lost: Callable[[], int] | None = None) -> None:
        """Report progress until every input has an outcome. Supervises the worker processes
        this replay started (restarted when one exits, as systemd or Kubernetes would), and sends
        again the inputs that have no outcome while nothing is queued or unacknowledged: kombu's
        Redis transport pops a message and then records it as unacknowledged, so a Redis that
        goes away between the two loses it. Sending an input again is safe: its id drives every
        decision (dedup, threads, event ids), so a repeat changes nothing that a first run did."""
        client, keys = self.client, Keys(self.settings.prefix)
        run_key = keys.run(self.run_id)
        last_done, last_change = -1, time.monotonic()
        restarts, idle_since = 0, None
        while True:
            try:
                done = client.hlen(run_key)
            except redis.RedisError as exc:  # Redis restarting: the workers wait for it, so do we
                if timeout and time.monotonic() - last_change > timeout:
                    # a Redis gone for good must not hold a replay asked to give up (--timeout)
                    self.warn(f"[red]error:[/] Redis has not answered for {timeout:.0f}s ({exc}); check that it "
                              "is running (storyline doctor)")
                    return
                time.sleep(0.5)
                continue
            self.progress(done, total)
            if done >= total:
                return
            now = time.monotonic()
            if done != last_done:
                last_done, last_change, idle_since = done, now, None
            for i, p in enumerate(procs):
                if p.poll() is not None and restart and restarts < MAX_WORKER_RESTARTS:
                    restarts += 1
                    self.warn(f"[yellow]warning:[/] the worker exited (code {p.returncode}); restarting it "
                              f"({restarts}/{MAX_WORKER_RESTARTS}); its unacknowledged inputs come back after "
                              "the visibility timeout")
                    procs[i] = restart()
            if procs and all(p.poll() is not None for p in procs):
                self.warn("[red]error:[/] the worker exited before finishing; run with a visible worker "
                          "(storyline worker) to see why")
                return
            if resend_lost:
                try:
                    idle = client.llen(keys.broker_queue) == 0 and client.hlen(keys.broker_unacked) == 0
                except redis.RedisError:
                    idle = False
                if not idle:
                    idle_since = None
                elif idle_since is None:
                    idle_since = now
                elif now - idle_since > LOST_AFTER_SECONDS and done == client.hlen(run_key) < total:
                    lost = resend_lost()
                    self.warn(f"[yellow]warning:[/] {lost} input(s) had no outcome with nothing queued or in "
                              "flight (lost by the broker during a Redis outage): sent again")
                    idle_since = None
            if timeout and now - last_change > timeout:
                self.warn(f"[red]error:[/] no progress for {timeout:.0f}s ({done}/{total} done). Are workers running "
                          "on this Redis and prefix? Start one with: storyline worker")
                return
            time.sleep(POLL_SECONDS)
