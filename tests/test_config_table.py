"""The README's configuration table is the one generated from Settings, every setting has a
description, and every environment variable the table names really reaches Settings."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import types
import typing

import pytest
from pydantic import TypeAdapter, ValidationError

from tests.conftest import ROOT
from worker.ops.config_table import Row, markdown_table, rows, undocumented
from worker.settings import Settings


def _section(markdown: str, heading: str) -> str:
    match = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", markdown, re.M | re.S)
    assert match, f"the README has no '## {heading}' section"
    return match.group(1)


def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.upper().startswith("STORYLINE_") or name.upper() == "REDIS_URL":
            monkeypatch.delenv(name)


def _value_at(settings: Settings, path: str) -> object:
    value: object = settings
    for part in path.split("."):
        value = getattr(value, part)
    return value


def test_the_readme_configuration_section_holds_exactly_the_generated_table():
    section = _section((ROOT / "README.md").read_text(), "Configuration")
    table = [line for line in section.splitlines() if line.startswith("|")]
    assert "\n".join(table) + "\n" == markdown_table(), \
        "README.md is out of date: paste the output of `python -m worker.ops.config_table` into '## Configuration'"
    assert "python -m worker.ops.config_table" in section


def test_the_module_prints_the_table():
    run = subprocess.run([sys.executable, "-m", "worker.ops.config_table"], capture_output=True, text=True, cwd=ROOT,
                         timeout=60, env={k: v for k, v in os.environ.items() if not k.startswith("STORYLINE_")})
    assert run.returncode == 0, run.stderr
    assert run.stdout == markdown_table()


def test_every_setting_has_a_description_comment():
    assert undocumented() == [], "add a `#:` comment above each of these fields in worker/settings.py"


def test_every_leaf_setting_is_a_row_once():
    paths = [r.path for r in rows()]
    assert len(paths) == len(set(paths))
    assert {"redis_url", "prefix", "dedup.jaccard_threshold", "fetch.allowed_private_addresses",
            "requests.claim_idle_ms", "metrics_port", "json_logs"} <= set(paths)
    assert not any(p in {"limits", "dedup", "threads", "streams", "fetch", "feeds", "requests", "chrome"} for p in paths), \
        "nested slices are walked, not listed"


def _origin(row: Row) -> object:
    """The setting's type, without ``| None``."""
    annotation = row.annotation
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        annotation = args[0]
    return typing.get_origin(annotation) or annotation


def _candidates(row: Row) -> list[str]:
    """Environment strings for ``row`` whose parsed value differs from the default, most telling first."""
    origin = _origin(row)
    if origin is bool:
        return ["false" if row.default else "true"]
    if origin is int:
        return [str((row.default or 0) + 7)]
    if origin is float:
        # some must stay within others (a thread's bar under its story's): a smaller change then
        return [str((row.default or 0.0) + 0.25), str((row.default or 0.0) + 0.01), str((row.default or 0.0) / 2)]
    if origin is list:
        return [json.dumps(["10.1.2.3:8080", "news.example.org"])]
    if origin is str:
        if row.env == "REDIS_URL":
            return ["redis://config-table.invalid:6379/3"]
        return ["config-table-test", "DEBUG"]
    raise AssertionError(f"{row.path}: no test value for {row.annotation}")  # pragma: no cover - teach this test


def _another_value(row: Row, monkeypatch) -> tuple[str, object]:
    """The first candidate the settings' cross-field rules accept, and its parsed value."""
    origin = _origin(row)
    for text in _candidates(row):
        monkeypatch.setenv(row.env, text)
        try:
            Settings()
        except ValidationError:
            continue
        finally:
            monkeypatch.delenv(row.env)
        return text, TypeAdapter(row.annotation).validate_python(json.loads(text) if origin is list else text)
    raise AssertionError(f"{row.env}: every test value was refused by the settings' rules")


@pytest.mark.parametrize("row", rows(), ids=lambda r: r.env)
def test_every_environment_variable_in_the_table_reaches_its_setting(row: Row, monkeypatch):
    _clean_environment(monkeypatch)
    assert _value_at(Settings(), row.path) == row.default, "the table's default is the real default"
    text, expected = _another_value(row, monkeypatch)
    assert expected != row.default
    monkeypatch.setenv(row.env, text)
    assert _value_at(Settings(), row.path) == expected


def test_representative_nested_variables_arrive(monkeypatch):
    _clean_environment(monkeypatch)
    monkeypatch.setenv("REDIS_URL", "redis://redis.internal:6379/2")
    monkeypatch.setenv("STORYLINE_DEDUP__JACCARD_THRESHOLD", "0.8")
    monkeypatch.setenv("STORYLINE_FETCH__ALLOWED_PRIVATE_ADDRESSES", '["10.1.2.3:8080"]')
    monkeypatch.setenv("STORYLINE_REQUESTS__CLAIM_IDLE_MS", "30000")
    monkeypatch.setenv("STORYLINE_THREADS__WATCHED_PATH", "/etc/storyline/watched.toml")
    settings = Settings()
    assert settings.redis_url == "redis://redis.internal:6379/2"
    assert settings.dedup.jaccard_threshold == 0.8
    assert settings.dedup.containment_threshold == 0.65, "the rest of the slice keeps its defaults"
    assert settings.fetch.allowed_private_addresses == ["10.1.2.3:8080"]
    assert settings.requests.claim_idle_ms == 30000
    assert settings.threads.watched_path == "/etc/storyline/watched.toml"


def test_the_redis_url_is_read_without_the_prefix_only(monkeypatch):
    _clean_environment(monkeypatch)
    monkeypatch.setenv("STORYLINE_REDIS_URL", "redis://prefixed.invalid:6379/0")
    assert Settings().redis_url is None
    assert [r.env for r in rows() if r.path == "redis_url"] == ["REDIS_URL"]
