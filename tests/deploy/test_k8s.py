"""deploy/k8s, parsed with pyyaml: kinds, replicas, images, commands, environment, probes and the
autoscaler's Redis list, checked against the real CLI, Settings and Celery app."""

from __future__ import annotations

import re

import pytest
import yaml

from tests.conftest import ROOT
from tests.deploy.contract import FOREIGN_ENV, apply_environment, check_command, check_environment
from worker.runtime.app import create_app
from worker.ops.metrics import RedisCollector
from worker.store.keys import Keys

K8S = ROOT / "deploy" / "k8s"


@pytest.fixture(scope="module")
def manifests() -> dict[tuple[str, str], dict]:
    """(kind, name) -> manifest, from every file kustomization.yaml lists."""
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    docs = {}
    for name in kustomization["resources"]:
        for doc in yaml.safe_load_all((K8S / name).read_text()):
            docs[(doc["kind"], doc["metadata"]["name"])] = doc
    return docs


def _container(deployment: dict) -> dict:
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return container


def _pod_env(manifests, deployment: dict) -> dict[str, str]:
    """The environment a container gets from its envFrom ConfigMaps/Secrets and env entries."""
    env: dict[str, str] = {}
    container = _container(deployment)
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            env.update(manifests[("ConfigMap", source["configMapRef"]["name"])]["data"])
        else:
            env.update(manifests[("Secret", source["secretRef"]["name"])]["stringData"])
    env.update({e["name"]: e["value"] for e in container.get("env", [])})
    return env


def test_kustomization_lists_every_manifest_in_the_folder(manifests):
    listed = set(yaml.safe_load((K8S / "kustomization.yaml").read_text())["resources"])
    assert listed == {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert {kind for kind, _ in manifests} == {"Namespace", "ConfigMap", "Secret", "Deployment", "ScaledObject"}
    assert not any(kind == "StatefulSet" or "redis" in name for kind, name in manifests if kind != "Secret"), \
        "Redis is an external dependency, not deployed here"


def test_worker_and_beat_run_the_image_non_root_with_real_commands(manifests):
    version = re.search(r'^version = "(.+)"', (ROOT / "pyproject.toml").read_text(), re.M).group(1)
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    uid = int(re.search(r"^USER (\d+)", dockerfile, re.M).group(1))
    for name in ("storyline-worker", "storyline-beat", "storyline-consume"):
        deployment = manifests[("Deployment", name)]
        container = _container(deployment)
        assert container["image"] == f"storyline:{version}"
        check_command(container["command"])
        pod_security = deployment["spec"]["template"]["spec"]["securityContext"]
        assert pod_security["runAsNonRoot"] is True and pod_security["runAsUser"] == uid
        assert container["securityContext"]["allowPrivilegeEscalation"] is False


def test_environment_from_configmap_and_secret_names_real_settings(manifests, monkeypatch):
    for name in ("storyline-worker", "storyline-beat", "storyline-consume"):
        env = _pod_env(manifests, manifests[("Deployment", name)])
        check_environment(env)
        settings = apply_environment({k: v for k, v in env.items() if k not in FOREIGN_ENV}, monkeypatch)
        assert settings.redis_url and settings.redis_url.startswith("redis://")


def test_worker_probes_hit_the_metrics_port_it_serves(manifests, monkeypatch):
    worker = manifests[("Deployment", "storyline-worker")]
    container = _container(worker)
    settings = apply_environment({k: v for k, v in _pod_env(manifests, worker).items() if k not in FOREIGN_ENV}, monkeypatch)
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports["metrics"] == settings.metrics_port > 0
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/metrics", "port": "metrics"}, probe
    annotations = worker["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == str(settings.metrics_port)
    # a warm shutdown outlives the longest task
    assert worker["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] > settings.task_time_limit
    assert any(m["mountPath"] == "/tmp" for m in container["volumeMounts"]), "multiprocess metrics need a writable /tmp"


def test_beat_has_exactly_one_replica_and_is_never_doubled_by_a_rollout(manifests):
    beat = manifests[("Deployment", "storyline-beat")]
    assert beat["spec"]["replicas"] == 1
    assert beat["spec"]["strategy"] == {"type": "Recreate"}
    assert _container(beat)["command"] == ["storyline", "beat"]
    assert not any(kind == "ScaledObject" and d["spec"]["scaleTargetRef"]["name"] == "storyline-beat"
                   for (kind, _), d in manifests.items())


def test_workers_scale_on_the_list_celery_really_queues_ingest_tasks_in(manifests, monkeypatch):
    scaled = manifests[("ScaledObject", "storyline-worker")]
    assert scaled["spec"]["scaleTargetRef"]["name"] == "storyline-worker"
    assert 1 <= scaled["spec"]["minReplicaCount"] < scaled["spec"]["maxReplicaCount"]
    (trigger,) = scaled["spec"]["triggers"]
    assert trigger["type"] == "redis"
    worker = manifests[("Deployment", "storyline-worker")]
    env = _pod_env(manifests, worker)
    settings = apply_environment({k: v for k, v in env.items() if k not in FOREIGN_ENV}, monkeypatch)
    conf = create_app(settings).conf
    celery_list = conf.broker_transport_options["global_keyprefix"] + conf.task_default_queue
    assert trigger["metadata"]["listName"] == celery_list == RedisCollector(None, Keys(settings.prefix)).queue_key
    assert int(trigger["metadata"]["listLength"]) > 0
    # KEDA reads these from the scaled container's environment
    for key in ("addressFromEnv", "passwordFromEnv"):
        assert trigger["metadata"][key] in env
    host, port = env["REDIS_ADDRESS"].rsplit(":", 1)
    assert env["REDIS_URL"].endswith(f"@{host}:{port}/{trigger['metadata']['databaseIndex']}"), \
        "the scaler watches the Redis (and database) the workers use"
