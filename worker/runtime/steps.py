"""A Celery bootstep that runs one daemon thread while it is started: the lease renewal
(runtime/lease.py) and the consumer watchdog (runtime/watchdog.py) are both one."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from celery import bootsteps


class ThreadStep(bootsteps.StartStopStep):
    """Start ``target(*args)`` in a daemon thread with ``_start_thread``; ``stop`` (and Celery's
    shutdown) sets ``self._stop``, which the target waits on, and joins the thread."""

    def __init__(self, parent: Any, **kwargs: Any) -> None:
        super().__init__(parent, **kwargs)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _start_thread(self, target: Callable[..., None], args: tuple[Any, ...], name: str) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        self._thread.start()

    def stop(self, parent: Any) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def shutdown(self, parent: Any) -> None:
        self.stop(parent)
