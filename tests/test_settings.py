"""Cross-field rules of the settings: a contradictory environment stops a process at start with a
line naming the variable, instead of misbehaving later (issue 15: rules checked outside Settings)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from pydantic import ValidationError

from worker.settings import FeedSettings, FetchSettings, LimitSettings, Settings, ThreadSettings


def test_the_defaults_are_consistent():
    Settings()  # would raise if a default broke a rule


@pytest.mark.parametrize("build, named", [
    (lambda: LimitSettings(min_words=600, max_words=500), "STORYLINE_LIMITS__MIN_WORDS"),
    (lambda: LimitSettings(min_words=0), "STORYLINE_LIMITS__MIN_WORDS"),
    (lambda: ThreadSettings(thread_threshold=0.5), "THREAD_THRESHOLD"),
    (lambda: ThreadSettings(story_threshold=1.5), "STORY_THRESHOLD"),
    (lambda: ThreadSettings(story_half_life_hours=0), "HALF_LIFE"),
    (lambda: FetchSettings(connect_timeout=0), "CONNECT_TIMEOUT"),
    (lambda: FeedSettings(min_every_seconds=900, default_every_seconds=600), "MIN_EVERY_SECONDS"),
    (lambda: Settings(visibility_timeout=1), "STORYLINE_VISIBILITY_TIMEOUT"),
    (lambda: Settings(run_ttl_seconds=0), "STORYLINE_RUN_TTL_SECONDS"),
    (lambda: Settings(log_level="LOUD"), "STORYLINE_LOG_LEVEL"),
])
def test_a_contradictory_setting_is_refused_naming_its_variable(build, named):
    with pytest.raises(ValidationError, match=named):
        build()


def test_the_cli_says_which_variable_is_wrong_without_a_traceback():
    env = {**os.environ, "STORYLINE_LIMITS__MIN_WORDS": "90000"}
    proc = subprocess.run([sys.executable, "-m", "worker.cli", "doctor"], capture_output=True, text=True, env=env,
                          timeout=60)
    assert proc.returncode == 2
    assert "STORYLINE_LIMITS__MIN_WORDS (90000) must not exceed STORYLINE_LIMITS__MAX_WORDS" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_runs_outcomes_are_kept_for_the_configured_time(client, keys):
    from worker.store import runs

    runs.record_outcome(client, keys, "ttlrun", "doc1", '{"status": "article"}', 1234)
    assert 1200 <= client.ttl(keys.run("ttlrun")) <= 1234
