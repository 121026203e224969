"""The monitoring assets: Prometheus alert rules (checked and unit-tested with the real
promtool), the Grafana dashboard, the compose and Kubernetes wiring, and every metric name,
label and matcher they use against what the code really exports."""

from __future__ import annotations

import json
import re
import subprocess
import uuid

import pytest
import yaml
from prometheus_client import generate_latest

from tests.conftest import ROOT
from tests.deploy import tools
from worker.ops import metrics
from worker.sources import telemetry as source_telemetry
from worker.store.keys import Keys

PROM = ROOT / "deploy" / "prometheus"
GRAFANA = ROOT / "deploy" / "grafana"
DASHBOARD = GRAFANA / "dashboards" / "storyline.json"
#: labels every scraped series has, whatever the code exports
TARGET_LABELS = {"instance", "job", "le"}


@pytest.fixture(scope="module")
def exported(redis_url) -> dict[str, set[str]]:
    """Sample name -> label names, of everything a worker's /metrics serves (Redis gauges with
    a real stream and group, so their label sets are seen too)."""
    import redis as redis_py

    client = redis_py.Redis.from_url(redis_url)
    keys = Keys(f"test-{uuid.uuid4().hex[:10]}")
    try:
        for stream in (*keys.output_streams, keys.requests):
            client.xadd(stream, {"x": "1"})
            client.xgroup_create(stream, "g", id="0")
        names: dict[str, set[str]] = {}
        source_telemetry.build_all()
        collectors = [*metrics.REGISTRY._collector_to_names, *source_telemetry.REGISTRY._collector_to_names]
        for collector in collectors:  # our Counter/Histogram objects
            base, kind, labels = collector._name, collector._type, set(collector._labelnames)
            suffixes = {"counter": ["_total", "_created"], "histogram": ["_bucket", "_sum", "_count", "_created"]}[kind]
            for suffix in suffixes:
                names[base + suffix] = labels | ({"le"} if suffix == "_bucket" else set())
        for collector in (metrics.RedisCollector(client, keys), metrics.BuildInfo()):
            for family in collector.collect():
                for sample in family.samples:
                    names.setdefault(sample.name, set()).update(sample.labels)
        return names
    finally:
        for key in client.scan_iter(f"{keys.prefix}:*"):
            client.delete(key)


def _dashboard_exprs() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]


def _alert_exprs() -> list[str]:
    return [r["expr"] for g in yaml.safe_load((PROM / "alerts.yml").read_text())["groups"] for r in g["rules"]]


def _check_expr(expr: str, exported: dict[str, set[str]]) -> list[str]:
    """What in a PromQL expression names a metric, a label or a matcher the code does not export."""
    problems = []
    used = set(re.findall(r"\b(storyline_[a-z0-9_]+)", expr))
    labels_of_expr = set(TARGET_LABELS)
    for name in used:
        if name not in exported:
            problems.append(f"{name} is not exported")
        else:
            labels_of_expr |= exported[name]
    for name, matchers in re.findall(r"\b(storyline_[a-z0-9_]+)\{([^}]*)\}", expr):
        for label in re.findall(r"([a-z_]+)\s*(?:=~|!~|!=|=)", matchers):
            if label not in exported.get(name, set()) | TARGET_LABELS:
                problems.append(f"{name} has no label {label}")
    for group in re.findall(r"\b(?:by|on)\s*\(([^)]*)\)", expr):
        for label in (g.strip() for g in group.split(",") if g.strip()):
            if label not in labels_of_expr:
                problems.append(f"`by ({label})` names a label none of {sorted(used)} has")
    if "up{" in expr or re.search(r"\bup\b", expr):
        pass  # Prometheus's own series of each target
    elif not used:
        problems.append("uses no Storyline metric")
    return problems


def test_every_dashboard_and_alert_query_uses_metrics_and_labels_the_code_exports(exported):
    problems = {expr: p for expr in _dashboard_exprs() + _alert_exprs() if (p := _check_expr(expr, exported))}
    assert problems == {}


def test_the_query_check_itself_catches_a_misspelt_metric_or_label(exported):
    assert _check_expr("rate(storyline_input_total[5m])", exported) == ["storyline_input_total is not exported"]
    assert _check_expr('sum by (colour) (rate(storyline_inputs_total{outcome="x"}[5m]))', exported)
    assert _check_expr('storyline_queue_length{stream="x"}', exported) == ["storyline_queue_length has no label stream"]


def test_the_dashboard_covers_flow_consumers_sources_and_fleet_with_a_question_per_panel():
    dashboard = json.loads(DASHBOARD.read_text())
    panels = [p for p in dashboard["panels"] if p["type"] != "row"]
    assert all(p["description"].endswith("?") for p in panels), "each panel says which question it answers"
    used = " ".join(_dashboard_exprs())
    for metric in ("storyline_inputs_total", "storyline_dead_letters_total", "storyline_stage_seconds_bucket",
                   "storyline_queue_length", "storyline_consumer_group_lag", "storyline_consumer_group_pending",
                   "storyline_fetch_responses_total", "storyline_robots_refusals_total",
                   "storyline_politeness_wait_seconds_bucket", "storyline_feed_polls_total",
                   "storyline_feed_poll_seconds_bucket", "storyline_redis_up", "storyline_build_info"):
        assert metric in used, metric
    assert 'code="304"' in used and 'stream="requests"' in used
    datasource = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text())["datasources"][0]
    assert {p["datasource"]["uid"] for p in panels} == {datasource["uid"]}


def test_compose_runs_prometheus_with_the_rules_and_grafana_with_the_dashboard():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    prometheus, grafana = compose["services"]["prometheus"], compose["services"]["grafana"]
    mounts = {v.split(":")[1]: ROOT / v.split(":")[0] for v in prometheus["volumes"] + grafana["volumes"]
              if v.startswith("./")}
    assert mounts["/etc/prometheus"] == ROOT / "deploy" / "prometheus"
    config = yaml.safe_load((PROM / "prometheus.yml").read_text())
    assert config["rule_files"] == ["alerts.yml"]
    (job,) = config["scrape_configs"]
    assert job["job_name"].startswith("storyline")  # the alerts match job=~"storyline.*"
    assert job["dns_sd_configs"][0]["names"] == ["worker"]
    assert job["dns_sd_configs"][0]["port"] == int(compose["services"]["worker"]["environment"]["STORYLINE_METRICS_PORT"])
    provider = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "storyline.yml").read_text())["providers"][0]
    assert mounts[provider["options"]["path"]] == DASHBOARD.parent
    assert mounts["/etc/grafana/provisioning"] == GRAFANA / "provisioning"


def test_the_prometheusrule_carries_exactly_the_rule_files_groups_and_the_servicemonitor_finds_the_workers():
    rule = yaml.safe_load((ROOT / "deploy" / "k8s" / "prometheusrule.yaml").read_text())
    assert rule["kind"] == "PrometheusRule"
    assert rule["spec"] == yaml.safe_load((PROM / "alerts.yml").read_text()), "copy alerts.yml's groups into it"
    monitor = yaml.safe_load((ROOT / "deploy" / "k8s" / "servicemonitor.yaml").read_text())
    service = yaml.safe_load((ROOT / "deploy" / "k8s" / "metrics-service.yaml").read_text())
    worker = yaml.safe_load((ROOT / "deploy" / "k8s" / "worker.yaml").read_text())
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert service["spec"]["selector"].items() <= worker["spec"]["template"]["metadata"]["labels"].items()
    assert service["metadata"]["name"].startswith("storyline")  # the job label the alerts match
    assert monitor["spec"]["endpoints"][0]["port"] == service["spec"]["ports"][0]["name"]
    assert service["spec"]["ports"][0]["targetPort"] in {p["name"] for p in worker["spec"]["template"]["spec"]["containers"][0]["ports"]}


def test_promtool_checks_the_rules_the_config_and_the_alerts_unit_tests():
    promtool = tools.promtool()
    for args in (["check", "rules", "alerts.yml"], ["check", "config", "prometheus.yml"],
                 ["test", "rules", "alerts.test.yml"]):
        run = subprocess.run([promtool, *args], cwd=PROM, capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, f"promtool {' '.join(args)}:\n{run.stdout}\n{run.stderr}"


def test_promtool_lints_what_the_endpoint_serves(redis_url):
    import redis as redis_py

    promtool = tools.promtool()
    text = generate_latest(metrics.serving_registry(redis_py.Redis.from_url(redis_url), Keys(f"t-{uuid.uuid4().hex[:8]}")))
    run = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, timeout=60)
    assert run.returncode == 0, run.stdout.decode() + run.stderr.decode()


def test_promtool_rejects_a_broken_rule(tmp_path):
    """The check bites: a rule with a PromQL syntax error fails `promtool check rules`."""
    promtool = tools.promtool()
    (tmp_path / "bad.yml").write_text("groups:\n  - name: x\n    rules:\n      - alert: X\n        expr: sum(rate(storyline_inputs_total[5m])\n")
    run = subprocess.run([promtool, "check", "rules", str(tmp_path / "bad.yml")], capture_output=True, text=True, timeout=60)
    assert run.returncode != 0
