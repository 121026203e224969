"""The ``storyline`` command line: replay, worker, tail, threads (and feeds, submit, consume, beat)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from contextlib import contextmanager
from pathlib import Path
from collections.abc import Callable, Iterator
from typing import Any

import redis
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from worker.embedded import EmbeddedRedis
from worker.errors import PermanentError
from worker.settings import Settings
from worker.sources.files import content_type_for, expand_paths, read_file
from worker.store.client import connect
from worker.store.keys import Keys

app = typer.Typer(
    help="Storyline: news in (feeds, URLs, HTML, text scrapes), clean, deduplicated, threaded events out on Redis Streams.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console(stderr=True)

RedisOpt = typer.Option(None, "--redis", help="Redis URL (default: $REDIS_URL, else an embedded Redis in --data-dir).")
PrefixOpt = typer.Option(None, "--prefix", help="Prefix of every key, stream and queue (default: $STORYLINE_PREFIX or 'storyline').")
DataDirOpt = typer.Option(None, "--data-dir", help="Where the embedded Redis keeps its data (default: .storyline).")


def _settings(redis_url: str | None, prefix: str | None, data_dir: str | None = None) -> Settings:
    return Settings().with_overrides(redis_url=redis_url, prefix=prefix, data_dir=data_dir)


@contextmanager
def _redis(settings: Settings) -> Iterator[tuple[Settings, bool]]:
    """Settings with a reachable redis_url; starts the embedded Redis when none is configured.
    Yields (settings, embedded)."""
    if settings.redis_url:
        yield settings, False
        return
    server = EmbeddedRedis(settings.data_dir)
    try:
        url = server.start()
    except RuntimeError as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from exc
    console.print(f"[dim]embedded Redis at {url} (data in {server.data_dir}); set REDIS_URL to use your own[/]")
    try:
        yield settings.with_overrides(redis_url=url), True
    finally:
        server.stop()


def _client(settings: Settings) -> redis.Redis:
    try:
        return connect(settings.redis_url or "", wait_seconds=3)
    except Exception as exc:
        console.print(f"[red]error:[/] cannot reach Redis at {settings.redis_url}: {exc}\n"
                      "Start Redis, or fix REDIS_URL / --redis.")
        raise typer.Exit(2) from exc


def _worker_env(settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    env["REDIS_URL"] = settings.redis_url or ""
    env["STORYLINE_PREFIX"] = settings.prefix
    env["STORYLINE_METRICS_PORT"] = str(settings.metrics_port)
    return env


def start_worker_process(settings: Settings, concurrency: int, loglevel: str = "WARNING") -> subprocess.Popen[bytes]:
    """A Celery worker in a subprocess, on this settings' queue, logging at ``loglevel``."""
    cmd = [
        sys.executable, "-m", "celery", *(["-q"] if loglevel.upper() != "INFO" and loglevel.upper() != "DEBUG" else []),
        "-A", "worker.app", "worker", "-Q", Keys(settings.prefix).queue,
        "-c", str(concurrency), "-l", loglevel, "--without-gossip", "--without-mingle",
        "-n", f"storyline-replay-{uuid.uuid4().hex[:6]}@%h",
    ]
    env = _worker_env(settings)
    env["STORYLINE_LOG_LEVEL"] = loglevel
    # the worker's output goes to stderr, so `replay --json` keeps stdout for the summary
    return subprocess.Popen(cmd, env=env, stdout=sys.stderr, start_new_session=True)


def stop_worker_process(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)  # warm shutdown: finish the current task
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _workers_alive(settings: Settings) -> bool:
    from worker.app import create_app

    try:
        replies = create_app(settings).control.ping(timeout=1.0)
    except Exception:
        return False
    return bool(replies)


def summarise(outcomes: list[dict]) -> dict[str, int]:
    counts = Counter(o["status"] for o in outcomes)
    return {
        "inputs": len(outcomes),
        "articles": counts.get("article", 0),
        "duplicates": counts.get("duplicate", 0),
        "dead_letters": counts.get("dead_letter", 0),
        "threads": len({o["thread_id"] for o in outcomes if o.get("thread_id")}),
        "stories": len({o["story_id"] for o in outcomes if o.get("story_id")}),
    }


@app.command()
def replay(
    paths: list[Path] = typer.Argument(..., help="Files and folders (.txt, .html, .htm) to feed through the workers."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON on stdout."),
    workers: int = typer.Option(-1, "--workers", help="Worker processes to start here: -1 = auto (start one unless workers already serve this Redis and prefix), 0 = none."),
    concurrency: int = typer.Option(os.cpu_count() or 1, "--concurrency", "-c", help="Processes of a started worker."),
    timeout: float = typer.Option(0, "--timeout", help="Give up after this many seconds without progress (0: never)."),
    redis_url: str | None = RedisOpt, prefix: str | None = PrefixOpt, data_dir: str | None = DataDirOpt,
) -> None:
    """Replay files through the workers into the streams, wait for every input, print a summary."""
    try:
        files = expand_paths(paths)
    except FileNotFoundError as exc:
        console.print(f"[red]error:[/] no such file or folder: {exc}")
        raise typer.Exit(2) from exc
    if not files:
        console.print("[red]error:[/] no .txt, .html or .htm files under the given paths")
        raise typer.Exit(2)
    with _redis(_settings(redis_url, prefix, data_dir)) as (settings, embedded):
        client = _client(settings)
        from worker.app import create_app
        from worker.pipeline import Pipeline

        celery_app = create_app(settings)
        keys = Keys(settings.prefix)
        start_here = workers if workers >= 0 else (0 if (not embedded and _workers_alive(settings)) else 1)
        procs = [start_worker_process(settings, concurrency) for _ in range(start_here)]
        if start_here:
            console.print(f"[dim]started {start_here} worker process group(s) with {concurrency} process(es) each[/]")
        run_id = uuid.uuid4().hex[:12]
        pipeline = Pipeline(client, settings)
        sent: dict[str, Path] = {}

        def resend_lost() -> int:
            """Send again the inputs that have no outcome while nothing is queued or in flight."""
            done = {k.decode() for k in client.hkeys(keys.run(run_id))}
            lost = [(doc_id, path) for doc_id, path in sent.items() if doc_id not in done]
            send_files(celery_app, pipeline, run_id, lost)
            return len(lost)

        try:
            sent.update(send_files(celery_app, pipeline, run_id, [(uuid.uuid4().hex[:16], path) for path in files]))
            _wait_for_run(client, keys, keys.run(run_id), len(files), procs, timeout, quiet=as_json,
                          restart=lambda: start_worker_process(settings, concurrency), resend_lost=resend_lost)
        finally:
            for p in procs:
                stop_worker_process(p)
        outcomes = [json.loads(v) for v in client.hvals(keys.run(run_id))]
    summary = summarise(outcomes)
    if as_json:
        print(json.dumps(summary))
    else:
        table = Table(title=f"replay of {len(files)} input(s)")
        for col in ("articles", "duplicates", "threads", "dead letters"):
            table.add_column(col, justify="right")
        table.add_row(*(str(summary[k]) for k in ("articles", "duplicates", "threads", "dead_letters")))
        Console().print(table)
    if summary["inputs"] < len(files):
        raise typer.Exit(1)


def send_files(celery_app: Any, pipeline: Any, run_id: str, items: list[tuple[str, Path]]) -> dict[str, Path]:
    """Send each (doc id, file) as an ingest task of the run ``run_id``, as `replay` does; a file
    that cannot be read (gone, too large) is dead-lettered at once (stage read). Returns the
    files sent, by doc id."""
    from worker.pipeline import InputDocument
    from worker.tasks import encode_document

    settings, keys = pipeline.settings, pipeline.keys
    sent: dict[str, Path] = {}
    with celery_app.producer_or_acquire() as producer:
        for doc_id, path in items:
            try:
                body = read_file(path, max_bytes=settings.limits.max_bytes)
            except PermanentError as exc:
                pipeline.dead_letter(InputDocument(doc_id, "file", str(path), b"", run_id=run_id), exc,
                                     attempts=1, stage="read")
                continue
            doc = InputDocument(doc_id, "file", str(path), body, content_type=content_type_for(path), run_id=run_id)
            celery_app.send_task("storyline.ingest", args=[encode_document(doc)], queue=keys.queue,
                                 task_id=doc_id, producer=producer)
            sent[doc_id] = path
    return sent


#: restarts of a worker that `replay` started and that exited before the replay finished
MAX_WORKER_RESTARTS = 5
#: seconds the queue and the in-flight hash must stay empty, with outcomes missing, before the
#: inputs without one are taken as lost and sent again
LOST_AFTER_SECONDS = 5.0


def _wait_for_run(client: redis.Redis, keys: Keys, run_key: str, total: int, procs: list, timeout: float,
                  quiet: bool, restart: Callable[[], subprocess.Popen[bytes]] | None = None,
                  resend_lost: Callable[[], int] | None = None) -> None:
    """Show progress until every input has an outcome. Supervises the worker processes this
    replay started (restarted when one exits, as systemd or Kubernetes would), and sends again
    the inputs that have no outcome while nothing is queued or unacknowledged: kombu's Redis
    transport pops a message and then records it as unacknowledged, so a Redis that goes away
    between the two loses it. Sending an input again is safe: its id drives every decision
    (dedup, threads, event ids), so a repeat changes nothing that a first run did."""
    last_done, last_change = -1, time.monotonic()
    restarts, idle_since = 0, None
    with Progress(TextColumn("replay"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, disable=quiet) as progress:
        task = progress.add_task("replay", total=total)
        while True:
            try:
                done = client.hlen(run_key)
            except redis.RedisError:  # Redis restarting: the workers wait for it, so do we
                time.sleep(0.5)
                continue
            progress.update(task, completed=done)
            if done >= total:
                return
            now = time.monotonic()
            if done != last_done:
                last_done, last_change, idle_since = done, now, None
            for i, p in enumerate(procs):
                if p.poll() is not None and restart and restarts < MAX_WORKER_RESTARTS:
                    restarts += 1
                    console.print(f"[yellow]warning:[/] the worker exited (code {p.returncode}); restarting it "
                                  f"({restarts}/{MAX_WORKER_RESTARTS}); its unacknowledged inputs come back after "
                                  "the visibility timeout")
                    procs[i] = restart()
            if procs and all(p.poll() is not None for p in procs):
                console.print("[red]error:[/] the worker exited before finishing; run with a visible worker (storyline worker) to see why")
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
                    console.print(f"[yellow]warning:[/] {lost} input(s) had no outcome with nothing queued or in "
                                  "flight (lost by the broker during a Redis outage): sent again")
                    idle_since = None
            if timeout and now - last_change > timeout:
                console.print(f"[red]error:[/] no progress for {timeout:.0f}s ({done}/{total} done). Are workers running on this Redis and prefix? Start one with: storyline worker")
                return
            time.sleep(0.1)


@app.command()
def worker(
    concurrency: int = typer.Option(os.cpu_count() or 1, "--concurrency", "-c", help="Worker processes."),
    loglevel: str = typer.Option("INFO", "--loglevel", "-l", help="Celery log level."),
    metrics_port: int | None = typer.Option(None, "--metrics-port", help="Serve Prometheus metrics on this port (default: $STORYLINE_METRICS_PORT; 0 = off)."),
    redis_url: str | None = RedisOpt, prefix: str | None = PrefixOpt, data_dir: str | None = DataDirOpt,
) -> None:
    """Run a Celery worker that processes ingest tasks (scale out by running more, anywhere)."""
    base = _settings(redis_url, prefix, data_dir).with_overrides(metrics_port=metrics_port)
    with _redis(base) as (settings, _embedded), _metrics_dir(settings.metrics_port):
        proc = start_worker_process(settings, concurrency, loglevel)
        # SIGTERM (systemd, Kubernetes, docker stop) reaches this process only: pass it on so the
        # Celery worker shuts down warm (finishes its tasks) instead of being orphaned
        signal.signal(signal.SIGTERM, lambda *_: os.killpg(proc.pid, signal.SIGTERM) if proc.poll() is None else None)
        try:
            raise typer.Exit(proc.wait())
        except KeyboardInterrupt:
            stop_worker_process(proc)


@contextmanager
def _metrics_dir(metrics_port: int) -> Iterator[None]:
    """PROMETHEUS_MULTIPROC_DIR for the worker's pool processes (see worker/metrics.py): the one
    given in the environment, else a fresh temporary directory removed afterwards."""
    if metrics_port <= 0 or os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        yield
        return
    import shutil
    import tempfile

    path = tempfile.mkdtemp(prefix="storyline-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = path  # inherited by the worker subprocess only
    try:
        yield
    finally:
        os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
        shutil.rmtree(path, ignore_errors=True)


@app.command()
def tail(
    stream: str = typer.Argument("articles", help="articles, duplicates, threads or dead-letter."),
    group: str = typer.Option("storyline-tail", "--group", help="Consumer group (created at the stream's start if missing)."),
    consumer: str = typer.Option("", "--consumer", help="Consumer name (default: host-pid)."),
    count: int = typer.Option(0, "--count", "-n", help="Stop after this many events (0: follow forever)."),
    block_ms: int = typer.Option(5000, "--block", help="How long one read waits for new events, in ms."),
    redis_url: str | None = RedisOpt, prefix: str | None = PrefixOpt, data_dir: str | None = DataDirOpt,
) -> None:
    """Follow a stream through a consumer group, printing one JSON event per line and acking it."""
    with _redis(_settings(redis_url, prefix, data_dir)) as (settings, _embedded):
        client = _client(settings)
        key = Keys(settings.prefix).stream(stream)
        name = consumer or f"{os.uname().nodename}-{os.getpid()}"
        try:
            client.xgroup_create(key, group, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        seen = 0
        try:
            while not count or seen < count:
                resp = client.xreadgroup(group, name, {key: ">"}, count=min(100, count - seen) if count else 100, block=block_ms)
                if not resp and count:
                    break
                for _, entries in resp or []:
                    for entry_id, fields in entries:
                        print(fields[b"data"].decode(), flush=True)
                        client.xack(key, group, entry_id)
                        seen += 1
        except KeyboardInterrupt:
            pass


@app.command()
def threads(
    limit: int = typer.Option(50, "--limit", help="How many threads, most recently active first."),
    level: str = typer.Option("thread", "--level", help="thread or story."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    redis_url: str | None = RedisOpt, prefix: str | None = PrefixOpt, data_dir: str | None = DataDirOpt,
) -> None:
    """List threads (or stories) with their size and label."""
    from worker.threads.state import ThreadState

    with _redis(_settings(redis_url, prefix, data_dir)) as (settings, _embedded):
        state = ThreadState(_client(settings), Keys(settings.prefix), settings.threads)
        rows = state.list_clusters(level, limit)
    if as_json:
        print(json.dumps(rows))
        return
    table = Table(title=f"{level}s")
    for col in ("id", "size", "label", "key terms", "last seen"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["id"], str(r["size"]), r["label"], ", ".join(r["key_terms"][:6]),
                      time.strftime("%Y-%m-%d %H:%M", time.gmtime(r["last_seen"])))
    Console().print(table)


@app.command()
def doctor(
    redis_url: str | None = RedisOpt, prefix: str | None = PrefixOpt, data_dir: str | None = DataDirOpt,
) -> None:
    """Check the connected Redis (eviction policy, persistence, memory), workers and streams."""
    from worker.dedup.index import DedupIndex, IncompatibleIndex
    from worker.store.doctor import Finding, inspect

    with _redis(_settings(redis_url, prefix, data_dir)) as (settings, _embedded):
        client = _client(settings)
        findings = inspect(client)
        keys = Keys(settings.prefix)
        alive = _workers_alive(settings)
        findings.append(Finding("ok" if alive else "warn", "workers",
                                "workers answer on this prefix" if alive else "no worker answers: start one with `storyline worker`"))
        try:
            DedupIndex(client, keys, settings.dedup).ensure_scheme()
            findings.append(Finding("ok", "dedup index", "written with this release's MinHash scheme and layout (or not yet written)"))
        except IncompatibleIndex as exc:
            # every input would be dead-lettered as incompatible_index: say so before that happens
            findings.append(Finding("error", "dedup index", str(exc)))
        queued = client.llen(f"{settings.prefix}:celery:{keys.queue}")
        findings.append(Finding("ok", "queue", f"{queued} task(s) waiting in {keys.queue}"))
        for stream in keys.output_streams:
            findings.append(Finding("ok", "stream", f"{stream}: {client.xlen(stream) if client.exists(stream) else 0} entries"))
    table = Table(title="storyline doctor")
    for col in ("", "check", "detail"):
        table.add_column(col)
    marks = {"ok": "[green]ok[/]", "warn": "[yellow]warn[/]", "error": "[red]error[/]"}
    for f in findings:
        table.add_row(marks[f.level], f.check, f.detail)
    Console().print(table)
    if any(f.level == "error" for f in findings):
        raise typer.Exit(1)


dead_letters_app = typer.Typer(help="Inputs that could not be used: list them, requeue the ones whose file can be read again.",
                               no_args_is_help=True)
app.add_typer(dead_letters_app, name="dead-letters")


@dead_letters_app.command("list")
def dead_letters_list(
    count: int = typer.Option(50, "--count", "-n", help="How many, newest first."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per line instead of a table."),
    redis_url: str | None = RedisOpt, prefix: str | None = PrefixOpt, data_dir: str | None = DataDirOpt,
) -> None:
    """The newest dead letters: source, stage, error type, message, and what each was requeued as."""
    from worker import deadletters

    with _redis(_settings(redis_url, prefix, data_dir)) as (settings, _embedded):
        entries = deadletters.latest(_client(settings), Keys(settings.prefix), count)
    if as_json:
        for e in entries:
            print(json.dumps({**e.event, "entry_id": e.entry_id, "requeued_as": e.requeued_as}))
        return
    table = Table(title=f"dead letters (newest {len(entries)})")
    for col in ("event id", "when", "source", "stage", "error", "message", "requeued as"):
        table.add_column(col)
    for e in entries:
        ev = e.event
        table.add_row(ev["event_id"], ev["occurred_at"][:19], ev["source"]["uri"], ev["stage"], ev["error_type"],
                      ev["message"][:80], e.requeued_as or "")
    Console().print(table)


@dead_letters_app.command("requeue")
def dead_letters_requeue(
    event_ids: list[str] = typer.Argument(None, help="Event ids (from `storyline dead-letters list`)."),
    every: bool = typer.Option(False, "--all", help="Every dead letter not requeued yet (with --error-type: of that type)."),
    error_type: str | None = typer.Option(None, "--error-type", help="Only dead letters of this error type."),
    force: bool = typer.Option(False, "--force", help="Requeue even if requeued before."),
    redis_url: str | None = RedisOpt, prefix: str | None = PrefixOpt, data_dir: str | None = DataDirOpt,
) -> None:
    """Send dead-lettered file inputs back to the workers (the file is read again, here); prints
    one JSON line per dead letter: requeued (with its new doc id) or skipped (with why)."""
    from worker import deadletters
    from worker.app import create_app

    if not event_ids and not every:
        console.print("[red]error:[/] name event ids, or pass --all")
        raise typer.Exit(2)
    with _redis(_settings(redis_url, prefix, data_dir)) as (settings, _embedded):
        client = _client(settings)
        entries = deadletters.find(client, Keys(settings.prefix), None if every else set(event_ids), error_type)
        run_id = uuid.uuid4().hex[:12]
        results = deadletters.requeue(client, create_app(settings), settings, entries, run_id=run_id, force=force)
    for event_id in (event_ids or []):
        results.setdefault(event_id, {"status": "skipped", "reason": "no such dead letter"})
    for event_id, result in results.items():
        print(json.dumps({"event_id": event_id, **result, "run_id": run_id}))
    if event_ids and any(r["status"] != "requeued" for r in results.values()):
        raise typer.Exit(1)


# feeds, submit, consume, beat (worker/sources/cli.py); imported last, it uses the helpers above
from worker.sources.cli import register as _register_sources  # noqa: E402

_register_sources(app)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
