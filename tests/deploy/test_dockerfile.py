"""deploy/Dockerfile, without a Docker engine: base pinned by digest, OCI labels, tini as PID 1,
a HEALTHCHECK that runs the real probe, a real default command; and hadolint's verdict."""

from __future__ import annotations

import json
import re
import subprocess
import sys

from tests.conftest import ROOT
from tests.deploy import tools
from tests.deploy.contract import check_command

DOCKERFILE = ROOT / "deploy" / "Dockerfile"


def _text() -> str:
    return DOCKERFILE.read_text()


def test_the_base_image_is_pinned_by_digest_in_every_stage():
    text = _text()
    (base,) = re.findall(r"^ARG PYTHON_IMAGE=(\S+)$", text, re.M)
    assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm@sha256:[0-9a-f]{64}", base), base
    froms = re.findall(r"^FROM (\S+)", text, re.M)
    assert froms and all(f == "${PYTHON_IMAGE}" for f in froms), froms


def test_oci_labels_name_the_version_revision_and_licence():
    text = _text()
    labels = dict(re.findall(r'(org\.opencontainers\.image\.[a-z.]+)="([^"]*)"', text))
    for key in ("title", "description", "version", "revision", "created", "licenses", "base.name"):
        assert f"org.opencontainers.image.{key}" in labels, key
    version = re.search(r'^version = "(.+)"', (ROOT / "pyproject.toml").read_text(), re.M).group(1)
    assert re.search(rf"^ARG VERSION={re.escape(version)}$", text, re.M), "the label's default is pyproject's version"


def test_tini_is_pid_1_and_the_default_command_is_a_real_one():
    text = _text()
    assert json.loads(re.search(r"^ENTRYPOINT (.+)$", text, re.M).group(1)) == ["/usr/bin/tini", "--"]
    assert re.search(r"apt-get install -y --no-install-recommends tini=\S+", text)
    check_command(json.loads(re.search(r"^CMD (.+)$", text, re.M).group(1)))


def test_the_healthcheck_runs_the_health_module_the_image_installs():
    text = _text()
    command = json.loads(re.search(r"HEALTHCHECK [^\n]*\\\n\s*CMD (.+)$", text, re.M).group(1))
    assert command[:3] == ["python", "-m", "worker.ops.health"]
    assert (ROOT / "worker" / "ops" / "health.py").is_file() and "COPY worker worker" in text
    run = subprocess.run([sys.executable, "-c", "import sys; sys.path.insert(0, '.'); from worker.ops.health import main; "
                          f"main({command[3:]!r} + ['--help'])"], cwd=ROOT, capture_output=True, text=True)
    assert "--kind" in run.stdout, run.stderr


def test_hadolint_accepts_the_dockerfile():
    exe = tools.hadolint()
    run = subprocess.run([exe, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
