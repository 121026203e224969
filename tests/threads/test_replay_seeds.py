"""The seeds replayed undated through the real worker: the thread stage's decision on text alone."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import seed_paths
from tests.flow import submit_files, wait_outcomes


def test_seeds_replayed_undated_make_one_thread_and_four_stories(celery_worker, client, keys):
    paths = seed_paths()
    ids = submit_files(celery_worker, keys, "seeds", paths)
    outcomes = wait_outcomes(client, keys, "seeds", len(paths))
    by_seed = {Path(p).name[:3]: outcomes[i] for p, i in zip(paths, ids)}
    assert all(o["status"] == "article" for o in by_seed.values())
    assert len({o["thread_id"] for o in by_seed.values()}) == 1
    stories = {k: o["story_id"] for k, o in by_seed.items()}
    # 000 and 002: two outlets' reports of the downgraded London talks; 001 (Istanbul), 003 (the
    # February phone calls) and 004 (Paris) are other events, on other days, of the same thread
    assert stories["000"] == stories["002"]
    assert len(set(stories.values())) == 4
