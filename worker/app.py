"""The entry point of Celery's own command line: ``celery -A worker.app worker|beat|flower``
(deploy/, docker-compose.yml, the README). Celery looks up this module's ``app``; it is built
from the environment's Settings on that first look-up (PEP 562 ``__getattr__``), not when the
module is imported. Storyline's code uses ``worker.runtime.app.create_app(settings)``."""

from __future__ import annotations

from typing import Any

from worker.runtime.app import default_app

__all__ = ["app"]  # noqa: F822 (provided by __getattr__ below, built on first look-up)


def __getattr__(name: str) -> Any:
    if name == "app":
        return default_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
