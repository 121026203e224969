"""The checks the deployment tests rely on do reject what is wrong."""

from __future__ import annotations

import pytest

from tests.deploy.contract import check_command, check_environment, settings_env_fields


@pytest.mark.parametrize("argv", [
    ["storyline", "no-such-command"],
    ["storyline", "worker", "--no-such-option"],
    ["storyline", "worker", "--metrics-port", "91%i"],  # an unexpanded systemd specifier
    ["storyline", "beat", "--anything"],  # a pending command cannot carry unchecked options
    ["celery", "-A", "worker.app", "worker"],
    ["python", "examples/consumer.py", "--stream", "no-such-stream"],
])
def test_a_command_that_does_not_exist_or_parse_is_rejected(argv):
    with pytest.raises((AssertionError, SystemExit, Exception)):
        check_command(argv)


@pytest.mark.parametrize("env", [
    {"STORYLINE_NO_SUCH_SETTING": "1"},
    {"STORYLINE_DEDUP__NO_SUCH_SETTING": "1"},
    {"STORYLINE_METRICS_PORT": "ninety-one"},
    {"STORYLINE_REDIS_URL": "redis://x"},  # the URL is read as REDIS_URL only
])
def test_an_unknown_or_malformed_setting_is_rejected(env):
    with pytest.raises(Exception):
        check_environment(env)


def test_settings_env_names_cover_nested_slices_and_the_unprefixed_redis_url():
    names = settings_env_fields()
    assert names["REDIS_URL"] == ("redis_url",)
    assert names["STORYLINE_DEDUP__JACCARD_THRESHOLD"] == ("dedup", "jaccard_threshold")
    assert names["STORYLINE_METRICS_PORT"] == ("metrics_port",)
