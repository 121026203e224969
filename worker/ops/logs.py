"""Structured logs (structlog): JSON lines for services, readable lines for terminals.

With ``json_logs`` every line a process writes to stderr is one JSON object: structlog's own
events, and also the standard-library records of Celery, kombu, redis-py and the rest (their
messages and tracebacks, through structlog's ``ProcessorFormatter``), Python warnings
(Celery's superuser warning among them), and uncaught exceptions in any thread. A log shipper
then never sees a multi-line traceback or a banner it cannot parse.

Celery configures logging itself unless a ``setup_logging`` receiver is connected: in JSON mode
``take_over_celery_logging`` connects one (so Celery adds no plain-text handler), and hides the
worker's start-up banner (``celeryd_after_setup``); the banner of beat is turned off with
``CELERY_QUIET=1`` in its environment (Celery's command reads CELERY_* variables for its
global options), which ``celery_env`` adds.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import MutableMapping
from typing import Any

import structlog

_SHARED = (
    structlog.processors.add_log_level,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
)


def _level_number(level: str | int) -> int:
    if isinstance(level, int):
        return level
    number = logging.getLevelName(str(level).upper())
    return number if isinstance(number, int) else logging.INFO


def _task_fields(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """The Celery task a foreign record was logged in (what Celery's TaskFormatter shows)."""
    record = event.get("_record")
    logger_name = getattr(record, "name", "")
    if logger_name.startswith("celery"):
        try:
            from celery._state import get_current_task

            task = get_current_task()
        except Exception:  # pragma: no cover - no Celery here
            task = None
        if task is not None and task.request.id:
            event.setdefault("task_id", task.request.id)
            event.setdefault("task_name", task.name)
    return event


def json_formatter() -> logging.Formatter:
    """A stdlib formatter writing each record as one JSON object (its traceback in ``exception``)."""
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[structlog.stdlib.add_logger_name, *_SHARED, _task_fields],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
    )


def _route_stdlib_to_json(level: str | int) -> None:
    root = logging.getLogger()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(json_formatter())
    handler.set_name("storyline-json")
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(_level_number(level))
    # warnings.warn(...) (Celery's SecurityWarning for root, deprecations) become log records
    logging.captureWarnings(True)
    crash = logging.getLogger("storyline.crash")

    def excepthook(exc_type: type[BaseException], exc: BaseException, tb: Any) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            sys.__excepthook__(exc_type, exc, tb)
            return
        crash.critical("uncaught_exception", exc_info=(exc_type, exc, tb))

    def thread_excepthook(args: threading.ExceptHookArgs) -> None:
        if args.exc_type is SystemExit or args.exc_value is None:
            return
        crash.critical("uncaught_exception_in_thread", exc_info=(args.exc_type, args.exc_value, args.exc_traceback),
                       extra={"thread": getattr(args.thread, "name", None)})

    sys.excepthook = excepthook
    threading.excepthook = thread_excepthook


def configure_logging(level: str = "INFO", json_logs: bool = False) -> None:
    renderer = structlog.processors.JSONRenderer() if json_logs else structlog.dev.ConsoleRenderer(colors=False)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            *_SHARED,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(_level_number(level)),
        # WriteLogger writes a line and its newline in one write(); print() (PrintLogger) writes
        # them in two, and with unbuffered stderr (PYTHONUNBUFFERED=1, as in deploy/Dockerfile)
        # the pool processes sharing one stderr pipe then glue lines together. One write of a
        # line up to PIPE_BUF (4 KiB) is atomic on a pipe, so lines of several processes stay whole.
        logger_factory=structlog.WriteLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    if json_logs:
        _route_stdlib_to_json(level)


def _celery_setup_logging(loglevel: Any = None, **_: Any) -> None:
    """Celery's ``setup_logging`` signal (sent once a worker or beat process sets up logging):
    our JSON handler instead of Celery's own, and Celery's one plain-text writer outside
    logging (``safe_say``, the "worker: Warm shutdown" lines) as JSON too (no hook for it)."""
    from celery.apps import worker as celery_worker

    _route_stdlib_to_json(loglevel or logging.INFO)
    celery_worker.safe_say = _say_json


def _hide_worker_banner(sender: Any = None, instance: Any = None, **_: Any) -> None:
    """``celeryd_after_setup`` comes just before the worker prints its multi-line banner."""
    if instance is not None:
        instance.quiet = True


def _say_json(msg: str, f: Any = None) -> None:
    """Celery's ``safe_say`` (the "worker: Warm shutdown (MainProcess)" lines, written from its
    signal handlers with a raw os.write, so no lock is taken): the same, as one JSON line."""
    import json
    import os
    from datetime import datetime, timezone

    line = json.dumps({"event": str(msg).strip(), "logger": "celery.apps.worker", "level": "warning",
                       "timestamp": datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")})
    try:
        stream = f or sys.__stderr__
        if stream is not None:
            os.write(stream.fileno(), (line + "\n").encode())
    except (OSError, AttributeError, ValueError):
        pass


def take_over_celery_logging(level: str | int = "INFO") -> None:
    """JSON for every line of a Celery process built from this app (worker, beat, Flower).
    Only connects Celery's signals: nothing changes until a Celery process sets up its logging,
    so building a JSON-logging app elsewhere (a test, the CLI) leaves that process's logging be."""
    from celery import signals

    signals.setup_logging.connect(_celery_setup_logging, weak=False, dispatch_uid="storyline-json-logs")
    # celeryd_init comes just before the worker's superuser check warns, and before logging is
    # set up: JSON from there on
    signals.celeryd_init.connect(lambda **_: _celery_setup_logging(level), weak=False,
                                 dispatch_uid="storyline-json-early")
    signals.celeryd_after_setup.connect(_hide_worker_banner, weak=False, dispatch_uid="storyline-json-banner")


def celery_env(env: dict[str, str], json_logs: bool) -> dict[str, str]:
    """The environment of a Celery subprocess: quiet (no banner) when JSON is asked for."""
    if json_logs:
        env = {**env, "CELERY_QUIET": "1"}
    return env
