"""docker-compose.yml, checked without a Docker engine: services, images, commands and
environment against the real CLI and Settings."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
import yaml

from tests.conftest import ROOT
from tests.deploy.contract import apply_environment, check_command, check_environment
from worker.runtime.app import create_app

COMPOSE = ROOT / "docker-compose.yml"


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


#: services of other images (monitoring: tests/deploy/test_monitoring.py)
OTHER_IMAGES = {"redis", "prometheus", "grafana"}


def _storyline_services(compose: dict) -> dict[str, dict]:
    return {name: s for name, s in compose["services"].items() if name not in OTHER_IMAGES}


def test_compose_runs_redis_worker_beat_flower_and_the_example_consumer(compose):
    assert set(compose["services"]) == {"redis", "worker", "beat", "requests", "flower", "consumer", "prometheus", "grafana"}
    for name in OTHER_IMAGES - {"redis"}:
        assert re.fullmatch(r"[a-z/]+:v?\d+\.\d+\.\d+", compose["services"][name]["image"]), "pinned releases"


def test_redis_keeps_an_append_only_file_and_never_evicts(compose):
    redis = compose["services"]["redis"]
    command = " ".join(redis["command"])
    assert "--appendonly yes" in command and "--maxmemory-policy noeviction" in command
    # noeviction only protects anything with a limit (storyline doctor calls its absence an error)
    assert re.search(r"--maxmemory \d+(gb|mb)\b", command), command
    assert re.fullmatch(r"redis:7\.\d+\.\d+-alpine", redis["image"]), "a pinned Redis 7 (XAUTOCLAIM, XINFO lag)"
    assert any(v.endswith(":/data") for v in redis["volumes"]), "the AOF lives on a volume"


def test_every_storyline_service_runs_the_one_image_and_a_real_command(compose):
    version = re.search(r'^version = "(.+)"', (ROOT / "pyproject.toml").read_text(), re.M).group(1)
    for name, service in _storyline_services(compose).items():
        assert service["image"] == f"storyline:{version}", name
        assert service["build"]["dockerfile"] == "deploy/Dockerfile" and (ROOT / "deploy/Dockerfile").is_file()
        check_command(service["command"])
        assert service["depends_on"]["redis"]["condition"] == "service_healthy", name


def test_environment_names_only_real_settings_and_parses(compose, monkeypatch):
    for name, service in _storyline_services(compose).items():
        env = service["environment"]
        check_environment(env)
        settings = apply_environment(env, monkeypatch)
        assert settings.redis_url == "redis://redis:6379/0", name
        assert settings.json_logs is True, name
    worker_settings = apply_environment(compose["services"]["worker"]["environment"], monkeypatch)
    assert worker_settings.metrics_port == 9100
    assert str(worker_settings.metrics_port) in compose["services"]["worker"]["expose"]


def test_the_worker_scales_and_beat_stays_single(compose):
    worker, beat = compose["services"]["worker"], compose["services"]["beat"]
    # `--scale worker=N` needs no fixed container name and no host port per replica
    assert "container_name" not in worker and "ports" not in worker
    assert worker["command"][:2] == ["storyline", "worker"]
    assert beat["command"] == ["storyline", "beat"] and beat["deploy"]["replicas"] == 1
    # a warm shutdown outlives the longest task
    limit = int(worker["environment"]["STORYLINE_TASK_TIME_LIMIT"])
    minutes, seconds = re.fullmatch(r"(\d+)m(\d+)s", worker["stop_grace_period"]).groups()
    assert int(minutes) * 60 + int(seconds) > limit


def test_flower_loads_the_storyline_app_so_it_sees_the_prefixed_broker_keys(compose, monkeypatch):
    flower = compose["services"]["flower"]
    assert flower["command"][:4] == ["celery", "-A", "worker.app", "flower"]
    settings = apply_environment(flower["environment"], monkeypatch)
    assert create_app(settings).conf.broker_transport_options["global_keyprefix"] == f"{settings.prefix}:celery:"
    assert "flower" in (ROOT / "pyproject.toml").read_text().split("ops = [")[1].split("]")[0]


@pytest.mark.skipif(not shutil.which("docker") or subprocess.run(["docker", "compose", "version"], capture_output=True).returncode != 0,
                    reason="the docker compose plugin is not installed (no engine is needed for `config`)")
def test_docker_compose_itself_accepts_the_file():
    run = subprocess.run(["docker", "compose", "-f", str(COMPOSE), "config", "--quiet"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
