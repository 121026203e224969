"""Thread state against a real Redis."""

from __future__ import annotations

import time

from tests.conftest import seed_paths
from worker.extract.text import clean_scrape
from worker.settings import ThreadSettings
from worker.threads.state import ThreadState

UNRELATED = [
    ("Heatwave pushes Spanish power demand to record", "Electricity demand in Spain hit a record on Tuesday as a heatwave drove air-conditioning use, grid operator Red Electrica said, while solar output also peaked and wholesale prices climbed across the Iberian market during the afternoon hours."),
    ("Local library opens robotics club for teenagers", "The public library in Dayton opened a robotics club for teenagers on Saturday, offering weekly sessions where students build small robots, learn programming and compete in regional contests organised by volunteers from the engineering college."),
    ("New sourdough bakery draws queues in Melbourne", "A sourdough bakery in Melbourne's Fitzroy district has drawn queues around the block since opening last week, with its owner crediting a decades-old starter culture, long fermentation and a small menu of loaves and pastries."),
]


def test_seeds_share_one_thread_and_unrelated_articles_get_their_own(client, keys):
    state = ThreadState(client, keys, ThreadSettings())
    now = time.time()
    seeds = [clean_scrape(p.read_text()) for p in seed_paths()]
    threads = {state.assign(f"s{i}", a.title, a.text, "en", now + i).thread.cluster_id for i, a in enumerate(seeds)}
    assert len(threads) == 1
    others = [state.assign(f"u{i}", t, b, "en", now + 10 + i).thread.cluster_id for i, (t, b) in enumerate(UNRELATED)]
    assert len(set(others)) == 3 and not set(others) & threads


def test_assignment_is_idempotent_and_listed(client, keys):
    state = ThreadState(client, keys, ThreadSettings())
    a = clean_scrape(seed_paths()[0].read_text())
    first = state.assign("x1", a.title, a.text, "en", time.time())
    again = state.assign("x1", a.title, a.text, "en", time.time())
    assert first == again
    rows = state.list_clusters("thread")
    assert [r["id"] for r in rows] == [first.thread.cluster_id] and rows[0]["size"] == 1
