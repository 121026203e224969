"""deploy/k8s, parsed with pyyaml: kinds, replicas, images, commands, environment, probes and the
autoscaler's Redis list, checked against the real CLI, Settings and Celery app."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT
from tests.deploy import tools
from tests.deploy.contract import FOREIGN_ENV, apply_environment, check_command, check_environment
from worker.runtime.app import create_app
from worker.ops.metrics import RedisCollector
from worker.store.keys import Keys

K8S = ROOT / "deploy" / "k8s"


def env_file(path) -> dict[str, str]:
    lines = path.read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line.strip() and not line.lstrip().startswith("#"))


def generated(folder, kustomization: dict) -> list[dict]:
    """The Secrets and ConfigMaps of kustomize's generators (from the committed *.example env
    files, since the real ones hold secrets and are git-ignored)."""
    out = []
    for kind, key in (("Secret", "secretGenerator"), ("ConfigMap", "configMapGenerator")):
        for gen in kustomization.get(key, []):
            data: dict[str, str] = {}
            for env in gen.get("envs", []):
                data.update(env_file(folder / f"{env}.example"))
            for name in gen.get("files", []):
                data[name] = (folder / name).read_text()
            out.append({"apiVersion": "v1", "kind": kind, "metadata": {"name": gen["name"]},
                        ("stringData" if kind == "Secret" else "data"): data})
    return out


def load_kustomization(folder) -> dict[tuple[str, str], dict]:
    """(kind, name) -> manifest, from every file a kustomization.yaml lists and its generators."""
    kustomization = yaml.safe_load((folder / "kustomization.yaml").read_text())
    docs = {}
    for name in kustomization["resources"]:
        for doc in yaml.safe_load_all((folder / name).read_text()):
            docs[(doc["kind"], doc["metadata"]["name"])] = doc
    for doc in generated(folder, kustomization):
        docs[(doc["kind"], doc["metadata"]["name"])] = doc
    return docs


@pytest.fixture(scope="module")
def manifests() -> dict[tuple[str, str], dict]:
    return load_kustomization(K8S)


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
    assert {kind for kind, _ in manifests} == {"Namespace", "ConfigMap", "Secret", "Deployment", "ScaledObject",
                                               "Service", "ServiceMonitor", "PrometheusRule", "PodDisruptionBudget",
                                               "NetworkPolicy"}
    assert not any(kind == "StatefulSet" or "redis" in name for kind, name in manifests if kind != "Secret"), \
        "Redis is an external dependency, not deployed here (redis-example/ is a separate kustomization)"


def test_no_secret_is_committed_the_generator_reads_a_git_ignored_env_file():
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    (gen,) = kustomization["secretGenerator"]
    assert gen["name"] == "storyline-redis" and gen["envs"] == ["redis.env"]
    assert (K8S / "redis.env.example").is_file()
    ignored = subprocess.run(["git", "check-ignore", "-q", str(K8S / "redis.env")], cwd=ROOT)
    assert ignored.returncode == 0, "deploy/k8s/redis.env must be git-ignored"
    assert not any(doc.get("kind") == "Secret" for p in K8S.glob("*.yaml") for doc in yaml.safe_load_all(p.read_text()))


def test_worker_and_beat_run_the_image_non_root_with_real_commands(manifests):
    version = re.search(r'^version = "(.+)"', (ROOT / "pyproject.toml").read_text(), re.M).group(1)
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    uid = int(re.search(r"^USER (\d+)", dockerfile, re.M).group(1))
    for name in ("storyline-worker", "storyline-beat", "storyline-consume"):
        deployment = manifests[("Deployment", name)]
        container = _container(deployment)
        assert container["image"] == f"storyline:{version}"
        assert "command" not in container, "args, so the image's ENTRYPOINT (tini) stays PID 1"
        check_command(container["args"])
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
    assert _container(beat)["args"] == ["storyline", "beat"]
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


def _selects(selector: dict, labels: dict) -> bool:
    ok = selector.get("matchLabels", {}).items() <= labels.items()
    for expr in selector.get("matchExpressions", []):
        assert expr["operator"] == "In"
        ok = ok and labels.get(expr["key"]) in expr["values"]
    return ok


def test_disruption_budgets_and_network_policies_cover_the_pods_they_should(manifests, monkeypatch):
    pods = {name: manifests[("Deployment", name)]["spec"]["template"]["metadata"]["labels"]
            for name in ("storyline-worker", "storyline-beat", "storyline-consume")}
    budgets = [d for (kind, _), d in manifests.items() if kind == "PodDisruptionBudget"]
    assert {n for n, labels in pods.items() if any(_selects(b["spec"]["selector"], labels) for b in budgets)} == \
        {"storyline-worker", "storyline-consume"}, "beat has one replica: a budget would only block drains"
    assert all(b["spec"]["maxUnavailable"] == 1 for b in budgets)

    policies = [d for (kind, _), d in manifests.items() if kind == "NetworkPolicy"]
    worker = manifests[("Deployment", "storyline-worker")]
    settings = apply_environment({k: v for k, v in _pod_env(manifests, worker).items() if k not in FOREIGN_ENV}, monkeypatch)
    redis_port = int(settings.redis_url.rsplit(":", 1)[1].split("/")[0])

    def egress_ports(labels: dict) -> set[int]:
        return {p["port"] for pol in policies if _selects(pol["spec"]["podSelector"], labels)
                for rule in pol["spec"].get("egress", []) for p in rule.get("ports", [])}

    for name, labels in pods.items():
        assert any(_selects(p["spec"]["podSelector"], labels) and "Ingress" in p["spec"]["policyTypes"] for p in policies), name
        assert {53, redis_port} <= egress_ports(labels), name
    assert {80, 443} <= egress_ports(pods["storyline-worker"]), "workers fetch feeds and pages"
    assert not {80, 443} & egress_ports(pods["storyline-beat"])
    ingress_ports = {p["port"] for pol in policies for rule in pol["spec"].get("ingress", []) for p in rule["ports"]}
    assert ingress_ports == {settings.metrics_port}, "only Prometheus's scrapes come in"


def test_the_example_redis_keeps_an_aof_never_evicts_and_has_a_limit_doctor_accepts():
    from worker.store.doctor import assess

    folder = K8S / "redis-example"
    docs = load_kustomization(folder)
    conf = docs[("ConfigMap", "storyline-redis-conf")]["data"]["redis.conf"]
    config = {}
    for line in conf.splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, value = line.partition(" ")
            config[key] = value.strip().strip('"')
    config["maxmemory"] = str(int(config["maxmemory"].removesuffix("mb")) * 2**20)
    findings = {f.check: f for f in assess({"redis_version": "7.2.5", "used_memory": 2**20}, config)}
    assert all(f.level == "ok" for f in findings.values()), findings
    (redis_set,) = [d for (kind, _), d in docs.items() if kind == "StatefulSet"]
    container = redis_set["spec"]["template"]["spec"]["containers"][0]
    limit_mib = int(container["resources"]["limits"]["memory"].removesuffix("Gi")) * 1024
    assert int(config["maxmemory"]) / 2**20 < limit_mib, "maxmemory under the container's memory limit"
    assert any(m["mountPath"] == config["dir"] for m in container["volumeMounts"]), "the AOF lives on the volume"
    assert (folder / "password.env.example").is_file()


def _rendered(folder) -> str:
    """The kustomize output: `kubectl kustomize` when kubectl is here, else the same resources
    with the namespace set (what kustomize adds that a schema checks)."""
    import shutil
    import tempfile

    if shutil.which("kubectl"):
        with tempfile.TemporaryDirectory() as tmp:
            copy = Path(shutil.copytree(folder, f"{tmp}/k", ignore=shutil.ignore_patterns("redis.env", "password.env")))
            for example in copy.rglob("*.env.example"):
                shutil.copy(example, example.with_suffix(""))
            run = subprocess.run(["kubectl", "kustomize", str(copy)], capture_output=True, text=True, timeout=120)
            assert run.returncode == 0, run.stderr
            return run.stdout
    namespace = yaml.safe_load((folder / "kustomization.yaml").read_text()).get("namespace")
    docs = []
    for doc in load_kustomization(folder).values():
        if doc["kind"] != "Namespace" and namespace:
            doc.setdefault("metadata", {})["namespace"] = namespace
        docs.append(doc)
    return yaml.safe_dump_all(docs)


@pytest.mark.parametrize("folder", ["", "redis-example"])
def test_kubernetes_validate_strict_accepts_the_kustomize_output(folder, tmp_path):
    exe = tools.kubernetes_validate()
    out = tmp_path / "rendered.yaml"
    out.write_text(_rendered(K8S / folder if folder else K8S))
    run = subprocess.run([*exe, "--strict", "--quiet", str(out)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr


def test_kubernetes_validate_strict_rejects_a_misspelt_field(tmp_path):
    """The check bites: strict mode refuses a Deployment field that does not exist."""
    exe = tools.kubernetes_validate()
    worker = yaml.safe_load((K8S / "worker.yaml").read_text())
    worker["spec"]["template"]["spec"]["containers"][0]["livenesProbe"] = {"tcpSocket": {"port": 9100}}
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(worker))
    run = subprocess.run([*exe, "--strict", "--quiet", str(tmp_path / "bad.yaml")], capture_output=True, text=True, timeout=300)
    assert run.returncode != 0 and "livenesProbe" in run.stdout + run.stderr


def test_beat_and_consume_have_exec_probes_of_their_own_kind(manifests):
    from worker.ops import health

    for name, kind in (("storyline-beat", "beat"), ("storyline-consume", "consume")):
        container = _container(manifests[("Deployment", name)])
        for probe in ("readinessProbe", "livenessProbe"):
            argv = container[probe]["exec"]["command"]
            assert argv[:3] == ["python", "-m", "worker.ops.health"], argv
            assert argv[argv.index("--kind") + 1] == kind and kind in health.KINDS
            assert container[probe]["timeoutSeconds"] > float(argv[argv.index("--timeout") + 1])
