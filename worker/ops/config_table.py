"""The README's configuration table, generated from ``worker.settings.Settings``.

Every field of Settings (and of its nested slices, recursively) becomes one row: its dotted path,
the environment variable pydantic-settings reads it from, its default, and its description: the
``#:`` comment block right above the field in ``worker/settings.py`` (read from the source, so
the settings keep their comments as they are). ``python -m worker.ops.config_table`` prints the
table; ``tests/test_config_table.py`` fails when the README's copy differs from it, or when a
field has no ``#:`` comment.
"""

from __future__ import annotations

import ast
import inspect
import json
import textwrap
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, cast

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from worker.settings import Settings


@dataclass(frozen=True)
class Row:
    path: str  #: dotted path, e.g. ``dedup.jaccard_threshold``
    env: str  #: environment variable, e.g. ``STORYLINE_DEDUP__JACCARD_THRESHOLD``
    default: Any
    description: str
    annotation: Any  #: the field's type (for tests that set every variable)


@lru_cache(maxsize=None)
def field_comments(model: type[BaseModel]) -> dict[str, str]:
    """Field name -> its ``#:`` comment block (lines joined with spaces), from the class source.

    A block is the run of ``#:`` lines directly above the field's annotated assignment; a field
    without one maps to "".
    """
    source = textwrap.dedent(inspect.getsource(model))
    lines = source.splitlines()
    (cls,) = [node for node in ast.parse(source).body if isinstance(node, ast.ClassDef)]
    comments: dict[str, str] = {}
    for node in cls.body:
        if not (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)):
            continue
        block: list[str] = []
        i = node.lineno - 2  # the line above the field (lineno is 1-based)
        while i >= 0 and lines[i].strip().startswith("#:"):
            block.insert(0, lines[i].strip()[2:].strip())
            i -= 1
        comments[node.target.id] = " ".join(part for part in block if part)
    return comments


def _default(field: Any) -> Any:
    if field.default is not PydanticUndefined:
        return field.default
    if field.default_factory is not None:
        return field.default_factory()
    return PydanticUndefined


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def rows(settings_cls: type[BaseModel] = Settings) -> list[Row]:
    """One row per leaf setting, in declaration order, nested slices walked recursively."""
    config = settings_cls.model_config
    prefix = str(config.get("env_prefix", ""))
    delimiter = str(config.get("env_nested_delimiter") or "__")
    out: list[Row] = []

    def walk(model: type[BaseModel], path: tuple[str, ...], env_parts: tuple[str, ...]) -> None:
        comments = field_comments(model)
        for name, field in model.model_fields.items():
            alias = field.validation_alias if isinstance(field.validation_alias, str) else None
            if _is_model(field.annotation):
                walk(cast(type[BaseModel], field.annotation), (*path, name), (*env_parts, alias or name))
                continue
            if not env_parts and alias:
                env = alias  # read as is, without the prefix (REDIS_URL)
            else:
                env = prefix + delimiter.join((*env_parts, alias or name))
            out.append(Row(".".join((*path, name)), env.upper(), _default(field), comments.get(name, ""),
                           field.annotation))

    walk(settings_cls, (), ())
    return out


def undocumented(settings_cls: type[BaseModel] = Settings) -> list[str]:
    """Dotted paths of settings that have no ``#:`` comment."""
    return [r.path for r in rows(settings_cls) if not r.description]


def _duration(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)} {unit}"
    return f"{seconds:g} s"


def render_default(name: str, value: Any) -> str:
    """A default as one would write it in the environment, with a readable size or duration."""
    if value is None or value is PydanticUndefined:
        return "none"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, (list, dict)):
        return f"`{json.dumps(value)}`"
    text = f"`{value}`"
    if isinstance(value, int) and name.endswith("_bytes") and value >= 1024:
        size: float = value
        unit = "B"
        for unit in ("KiB", "MiB", "GiB"):  # noqa: B007 (the unit the loop stops at is the one printed)
            size /= 1024
            if size < 1024:
                break
        text += f" ({size:g} {unit})"
    elif isinstance(value, (int, float)) and name.endswith("_seconds") and value >= 60:
        text += f" ({_duration(value)})"
    elif isinstance(value, (int, float)) and name.endswith("_ms") and value >= 1000:
        text += f" ({_duration(value / 1000)})"
    elif isinstance(value, (int, float)) and name.endswith("_hours") and value >= 24:
        text += f" ({_duration(value * 3600)})"
    return text


def _cell(text: str) -> str:
    """Markdown-safe table cell: no pipes, no HTML-looking <prefix>, no emphasis from ``**``."""
    return text.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;").replace("*", "\\*")


def markdown_table(settings_cls: type[BaseModel] = Settings) -> str:
    """The configuration table in Markdown (GitHub-flavoured), ending with a newline."""
    lines = ["| setting | environment variable | default | description |", "|---|---|---|---|"]
    for row in rows(settings_cls):
        name = row.path.rsplit(".", 1)[-1]
        lines.append(f"| `{row.path}` | `{row.env}` | {render_default(name, row.default)} | {_cell(row.description)} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    print(markdown_table(), end="")


if __name__ == "__main__":
    main()
