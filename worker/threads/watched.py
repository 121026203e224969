"""Watched threads: named threads from a configuration file, into which matching articles go.

The file is TOML (read with the standard library's ``tomllib``), one ``[[thread]]`` table per
watched thread::

    [[thread]]
    name = "Russia-Ukraine peace talks"
    description = "US-brokered negotiations between Russia and Ukraine on a ceasefire."
    key_terms = ["ceasefire", "peace talks", "Zelensky", "Putin", "Kremlin"]

An article joins a watched thread when it mentions at least one of its key terms and its
vector is close enough to the thread's definition (``ThreadSettings.watched_threshold``); every
other article goes to a discovered thread. See ``watched.example.toml`` beside this file.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class WatchedThread:
    thread_id: str  # w_<slug of the name>: stable across restarts and workers
    name: str
    description: str
    key_terms: tuple[str, ...]


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:60]


def parse_watched(text: str) -> list[WatchedThread]:
    """Watched threads from TOML text; raises ValueError on a malformed entry."""
    data = tomllib.loads(text)
    out: list[WatchedThread] = []
    seen: set[str] = set()
    for i, entry in enumerate(data.get("thread", [])):
        name = str(entry.get("name", "")).strip()
        terms = tuple(str(t).strip() for t in entry.get("key_terms", []) if str(t).strip())
        if not name or not terms:
            raise ValueError(f"watched thread #{i + 1}: needs a name and at least one key term")
        thread_id = f"w_{_slug(name)}"
        if thread_id in seen:
            raise ValueError(f"watched thread #{i + 1}: duplicate name {name!r}")
        seen.add(thread_id)
        out.append(WatchedThread(thread_id, name, str(entry.get("description", "")).strip(), terms))
    return out


def load_watched(path: str | Path | None) -> list[WatchedThread]:
    """Watched threads from a TOML file; none when no path is configured."""
    if not path:
        return []
    return parse_watched(Path(path).read_text(encoding="utf-8"))
