"""deploy/systemd, parsed with configparser: every ExecStart runs a real command, the shared
environment file names real settings, and shutdown lets running tasks finish."""

from __future__ import annotations

import configparser
import shlex

import pytest

from tests.conftest import ROOT
from tests.deploy.contract import apply_environment, check_command, check_environment

SYSTEMD = ROOT / "deploy" / "systemd"
ENV_FILE = "/etc/storyline/storyline.env"


def _unit(name: str) -> configparser.ConfigParser:
    # systemd allows repeated keys (Environment=); keep key case; no % interpolation
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment]
    parser.read_string((SYSTEMD / name).read_text())
    return parser


def _env_file() -> dict[str, str]:
    lines = (SYSTEMD / "storyline.env").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line.strip() and not line.startswith("#"))


UNITS = ["storyline-worker@.service", "storyline-beat.service", "storyline-consume.service", "storyline-consumer.service"]


def test_the_units_are_a_worker_template_a_beat_the_request_consumer_and_the_example_consumer():
    assert sorted(p.name for p in SYSTEMD.glob("*.service")) == sorted(UNITS)


@pytest.mark.parametrize("name", UNITS)
def test_each_unit_runs_a_real_command_with_the_shared_environment(name):
    unit = _unit(name)
    service = unit["Service"]
    # systemd expands %i (the instance) before running: instance 1 of the template
    argv = shlex.split(service["ExecStart"].replace("%i", "1"))
    assert argv[0].startswith("/opt/storyline/venv/bin/"), "absolute paths: systemd does not search PATH"
    check_command([argv[0].rsplit("/", 1)[1], *argv[1:]])
    assert service["EnvironmentFile"] == ENV_FILE
    assert service["User"] == "storyline" and service["Restart"] == "always"
    assert unit["Install"]["WantedBy"] == "multi-user.target"


def test_the_environment_file_names_real_settings(monkeypatch):
    env = _env_file()
    check_environment(env)
    settings = apply_environment(env, monkeypatch)
    assert settings.redis_url and settings.json_logs is True


def test_a_worker_instance_stops_warm_and_keeps_its_metrics_files_to_itself(monkeypatch):
    service = _unit("storyline-worker@.service")["Service"]
    settings = apply_environment(_env_file(), monkeypatch)
    # SIGTERM to the main process only (it forwards to Celery); SIGKILL only after the longest task
    assert service["KillMode"] == "mixed" and service["KillSignal"] == "SIGTERM"
    assert int(service["TimeoutStopSec"]) > settings.task_time_limit
    # each instance its own multiprocess directory and its own metrics port
    assert service["Environment"] == "PROMETHEUS_MULTIPROC_DIR=%t/" + service["RuntimeDirectory"]
    assert "%i" in service["RuntimeDirectory"] and "--metrics-port 910%i" in service["ExecStart"]


def test_beat_is_a_single_unit_not_a_template():
    assert not list(SYSTEMD.glob("storyline-beat@*"))
    assert shlex.split(_unit("storyline-beat.service")["Service"]["ExecStart"])[1:] == ["beat"]


#: the highest `systemd-analyze security` exposure a unit may have ("OK" is below 4.0)
MAX_EXPOSURE = 2.0


def _exposure(path) -> float:
    import re
    import subprocess

    from tests.deploy import tools

    run = subprocess.run([tools.systemd_analyze(), "security", "--offline=true", "--no-pager", str(path)],
                         capture_output=True, text=True, timeout=120)
    found = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", run.stdout + run.stderr)
    assert found, run.stdout + run.stderr
    return float(found.group(1))


@pytest.mark.parametrize("name", UNITS)
def test_systemd_analyze_security_rates_each_unit_ok(name):
    assert _exposure(SYSTEMD / name) <= MAX_EXPOSURE


def test_the_security_check_bites_on_an_unsandboxed_unit(tmp_path):
    unit = (SYSTEMD / "storyline-beat.service").read_text().split("# Sandbox:")[0] + "\n[Install]\nWantedBy=multi-user.target\n"
    (tmp_path / "storyline-beat.service").write_text(unit)
    assert _exposure(tmp_path / "storyline-beat.service") > 5.0
