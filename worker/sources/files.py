"""Files and folders as inputs (the read stage for ``replay`` and ``submit``)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from schemas.envelope import printable
from worker.errors import EmptyInput, PermanentError, TooLarge

#: file endings that replay picks up from a folder
SUFFIXES = (".txt", ".html", ".htm")


def expand_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Files named directly, plus every .txt/.html/.htm file under named folders, sorted.
    Raises FileNotFoundError naming the first path that does not exist."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out += sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in SUFFIXES)
        elif p.is_file():
            out.append(p)
        else:
            raise FileNotFoundError(str(p))
    return out


def path_uri(path: Path | str) -> str:
    """The input's ``uri`` for a file: its path, with any byte of the name that is not UTF-8
    written as ``\\xNN`` (Python keeps such bytes as lone surrogates, which no event, log line or
    Redis write can carry). The file itself is still read through its ``Path``."""
    return printable(str(path))


def read_file(path: Path, *, max_bytes: int) -> bytes:
    """The file's bytes, refusing ones over ``max_bytes`` without reading them whole."""
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise TooLarge(f"{size:,} bytes is over the {max_bytes:,}-byte limit (STORYLINE_LIMITS__MAX_BYTES)")
        if size == 0:
            raise EmptyInput("the file is empty (0 bytes)")
        with path.open("rb") as fh:
            return fh.read(max_bytes + 1)
    except PermanentError:
        raise
    except OSError as exc:
        raise PermanentError(f"cannot read {path}: {exc.strerror or exc}") from exc


def content_type_for(path: Path) -> str | None:
    suffix = path.suffix.lower()
    if suffix in (".html", ".htm"):
        return "text/html"
    if suffix == ".txt":
        return "text/plain"
    return None
