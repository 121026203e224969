"""Thread state against a real Redis."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

from tests.conftest import seed_paths
from worker.extract.text import clean_scrape
from worker.settings import ThreadSettings
from worker.threads.state import ThreadState

EXAMPLE_WATCHED = Path(__file__).resolve().parents[2] / "worker" / "threads" / "watched.example.toml"

UNRELATED = [
    ("Heatwave pushes Spanish power demand to record", "Electricity demand in Spain hit a record on Tuesday as a heatwave drove air-conditioning use, grid operator Red Electrica said, while solar output also peaked and wholesale prices climbed across the Iberian market during the afternoon hours."),
    ("Local library opens robotics club for teenagers", "The public library in Dayton opened a robotics club for teenagers on Saturday, offering weekly sessions where students build small robots, learn programming and compete in regional contests organised by volunteers from the engineering college."),
    ("New sourdough bakery draws queues in Melbourne", "A sourdough bakery in Melbourne's Fitzroy district has drawn queues around the block since opening last week, with its owner crediting a decades-old starter culture, long fermentation and a small menu of loaves and pastries."),
]


def _seeds():
    return [clean_scrape(p.read_text()) for p in seed_paths()]


def test_seeds_share_one_thread_000_and_002_one_story_and_unrelated_articles_get_their_own(client, keys):
    state = ThreadState(client, keys, ThreadSettings())
    now = time.time()  # a replay dates undated scrapes by their ingestion: seconds apart
    got = [state.assign(f"s{i}", a.title, a.text, "en", now + i) for i, a in enumerate(_seeds())]
    assert got[0].story.cluster_id == got[2].story.cluster_id
    threads = {g.thread.cluster_id for g in got}
    assert len(threads) == 1
    assert [g.thread.created for g in got] == [True, False, False, False, False]
    assert got[-1].thread.size == 5
    others = [state.assign(f"u{i}", t, b, "en", now + 10 + i) for i, (t, b) in enumerate(UNRELATED)]
    other_threads = [o.thread.cluster_id for o in others]
    assert len(set(other_threads)) == 3 and not set(other_threads) & threads
    assert all(o.thread.created and o.thread.size == 1 for o in others)


def test_stories_a_week_apart_are_two_stories_of_one_thread(client, keys):
    state = ThreadState(client, keys, ThreadSettings())
    a = _seeds()[0]
    week = 7 * 24 * 3600.0
    first = state.assign("a", a.title, a.text, "en", 1_700_000_000.0)
    later = state.assign("b", a.title, a.text + " Talks resumed.", "en", 1_700_000_000.0 + week)
    assert first.story.cluster_id != later.story.cluster_id
    assert first.thread.cluster_id == later.thread.cluster_id


def test_thread_label_is_a_member_headline_with_key_entities(client, keys):
    state = ThreadState(client, keys, ThreadSettings())
    now = time.time()
    seeds = _seeds()
    last = None
    for i, a in enumerate(seeds):
        last = state.assign(f"s{i}", a.title, a.text, "en", now + i)
    headline, _, names = last.thread.label.partition(" · ")
    assert headline in {a.title for a in seeds}
    assert names and any(n in names for n in ("Putin", "Zelensky", "Zelenskiy", "Crimea", "Kyiv"))
    assert last.thread.key_terms and all(t == t.strip() and t for t in last.thread.key_terms)
    rows = state.list_clusters("thread")
    assert rows[0]["label"] == last.thread.label and rows[0]["size"] == 5


def test_watched_thread_takes_matching_articles_and_others_are_discovered(client, keys):
    state = ThreadState(client, keys, ThreadSettings(watched_path=str(EXAMPLE_WATCHED)))
    assert [w.name for w in state.watched][0] == "Russia-Ukraine peace talks"
    now = time.time()
    got = [state.assign(f"s{i}", a.title, a.text, "en", now + i) for i, a in enumerate(_seeds())]
    assert {g.thread.cluster_id for g in got} == {"w_russia-ukraine-peace-talks"}
    assert got[0].thread.created and got[0].thread.label == "Russia-Ukraine peace talks"
    others = [state.assign(f"u{i}", t, b, "en", now + 10 + i) for i, (t, b) in enumerate(UNRELATED)]
    assert all(not o.thread.cluster_id.startswith("w_") for o in others)
    assert len({o.thread.cluster_id for o in others}) == 3


def test_assignment_is_idempotent_and_listed(client, keys):
    state = ThreadState(client, keys, ThreadSettings())
    a = _seeds()[0]
    first = state.assign("x1", a.title, a.text, "en", time.time())
    again = state.assign("x1", a.title, a.text, "en", time.time())
    assert first == again
    rows = state.list_clusters("thread")
    assert [r["id"] for r in rows] == [first.thread.cluster_id] and rows[0]["size"] == 1


def test_concurrent_workers_put_two_reports_of_one_event_in_one_story(client, keys, redis_url):
    """Two workers (own clients) assign both reports of an event at once: the lock must stop
    each from starting a story of its own."""
    import redis

    seeds = _seeds()
    a, b = seeds[0], seeds[2]
    for round_ in range(3):
        results: dict[str, object] = {}
        barrier = threading.Barrier(2)

        def work(name, article):
            state = ThreadState(redis.Redis.from_url(redis_url), keys, ThreadSettings())
            barrier.wait()
            results[name] = state.assign(f"{name}{round_}", article.title, article.text, "en", 1_700_000_000.0 + round_ * 1e7)

        workers = [threading.Thread(target=work, args=(n, art)) for n, art in (("a", a), ("b", b))]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        assert results["a"].story.cluster_id == results["b"].story.cluster_id
        assert sorted([results["a"].story.created, results["b"].story.created]) == [False, True]


def test_each_cluster_row_matches_its_fields_and_new_index_sets_expire(client, keys):
    """The decision reads a candidate's size, time, version, dated flag, weekday and thread from
    its one ``row`` field (state._row), not from the fields themselves: they must agree after
    starts and joins. An index set is given its life on its first growth (its TTL is extended
    only every few growths), so no set of a new cluster lives forever."""
    import json

    from worker.threads.state import _unrow

    state = ThreadState(client, keys, ThreadSettings())
    now = time.time()
    for i, a in enumerate(_seeds()):
        state.assign(f"s{i}", a.title, a.text + " on Wednesday", "en", now + i, dated=False)
    for level in ("story", "thread"):
        ids = [m.decode() for m in client.zrange(keys.cluster_all(level), 0, -1)]
        assert ids
        for cid in ids:
            h = client.hgetall(keys.cluster(level, cid))
            size, when, version, dated, weekday, thread = _unrow(h[b"row"])
            assert size == int(h[b"size"]) and version == int(h[b"v"]) and when == float(h[b"when"])
            assert dated == (h[b"dated"] == b"1")
            assert weekday == (int(h[b"wd"]) if b"wd" in h else None)
            assert thread == (h[b"thread"].decode() if b"thread" in h else None)
            for term in json.loads(h[b"indexed"]):
                assert client.ttl(keys.cluster_index(level, term)) > 0


def test_term_versions_are_counters_of_fixed_size_and_the_old_hash_is_dropped(client, keys, monkeypatch):
    """An index set's term version is a counter at a hash of its name in one string a level, so
    its memory is fixed whatever the vocabulary (the hash of a field per set it replaced grew
    without bound); the process drops that old hash; each counter holds at least the clusters
    its set holds; and a growth flagged to trim cuts the set back to what is kept (here every
    growth, keeping 1)."""
    import worker.threads.state as state_module

    monkeypatch.setattr(state_module, "_INDEX_KEEP", 1)
    monkeypatch.setattr(state_module, "_INDEX_EVERY", 1)
    client.hset(keys.old_term_versions("story"), "x", 1)
    client.hset(keys.old_term_versions("thread"), "x", 1)
    state = ThreadState(client, keys, ThreadSettings())
    now = time.time()
    for i, a in enumerate(_seeds()):
        state.assign(f"s{i}", a.title, a.text, "en", now + i, dated=False)
    for i, (t, b) in enumerate(UNRELATED):
        state.assign(f"u{i}", t, b, "en", now + 10 + i, dated=False)
    assert not client.exists(keys.old_term_versions("story"), keys.old_term_versions("thread"))
    grown = 0
    for level in ("story", "thread"):
        tv = keys.term_versions(level)
        assert client.type(tv) == b"string"
        assert client.strlen(tv) <= state_module._TV_SLOTS * 2
        indexed: set[str] = set()
        for cid in client.zrange(keys.cluster_all(level), 0, -1):
            indexed.update(json.loads(client.hget(keys.cluster(level, cid.decode()), "indexed") or b"[]"))
        for name in (keys.cluster_index(level, term) for term in sorted(indexed)):
            count = client.bitfield_ro(tv, "u16", state_module._tv_offset(name))[0]
            assert count >= client.zcard(name) == 1
            grown += count >= 2
    assert grown  # some set grew twice and was trimmed back


def test_one_index_growth_in_every_few_trims_and_the_same_ones_every_time():
    from worker.threads.state import _INDEX_EVERY, _trims

    flags = [_trims(f"p:th:story:ix:term{i % 97}", f"s_{i:012x}") for i in range(20_000)]
    assert flags == [_trims(f"p:th:story:ix:term{i % 97}", f"s_{i:012x}") for i in range(20_000)]
    assert abs(flags.count("1") / len(flags) - 1 / _INDEX_EVERY) < 0.01


def test_the_listing_sets_keep_only_the_newest_clusters(client, keys, monkeypatch):
    """Cluster hashes expire; the ids in each level's "all" set must not pile up for ever."""
    import worker.threads.state as state_module

    monkeypatch.setattr(state_module, "_ALL_KEEP", 2)
    monkeypatch.setattr(state_module, "_ALL_TRIM_EVERY", 1)
    state = ThreadState(client, keys, ThreadSettings())
    now = time.time()
    got = [state.assign(f"u{i}", t, b, "en", now + i) for i, (t, b) in enumerate(UNRELATED)]
    state.assign("s0", _seeds()[0].title, _seeds()[0].text, "en", now + 10)
    state.flush()
    for level in ("story", "thread"):
        assert client.zcard(keys.cluster_all(level)) == 2
    newest = [g.story.cluster_id for g in got][-1:]
    listed = [c.decode() for c in client.zrange(keys.cluster_all("story"), 0, -1)]
    assert newest[0] in listed


def test_document_frequencies_are_sent_in_batches_and_a_process_reads_its_own_unsent_ones(client, keys, monkeypatch):
    """Counts go to Redis once every ``_DF_BATCH`` articles; until then the process that holds
    them adds them to what it reads, so its decisions are those of a batch of one."""
    import worker.threads.state as state_module

    monkeypatch.setattr(state_module, "_DF_BATCH", 3)
    monkeypatch.setattr(state_module, "_DF_BATCH_SHARE", 1.0)  # a young stream: 1 at first
    state = ThreadState(client, keys, ThreadSettings())
    client.set(keys.df_total, 100)  # an older stream: batches of _DF_BATCH
    now = time.time()
    title, text = UNRELATED[2]
    for i in range(2):
        state.assign(f"b{i}", f"{title} {i}", text, "en", now + i)
    assert not client.exists(keys.df_counts(0))  # two articles pending, none sent
    pipe = client.pipeline(transaction=False)
    pending, docs = state._queue_counts(pipe, ["sourdough", "nothing"])
    assert pending == {"sourdough": 2} and docs == 2 and not pipe.command_stack
    state.assign("b2", f"{title} 2", text, "en", now + 2)
    state.assign("b3", f"{title} 3", text, "en", now + 3)  # the batch of 3 goes with this one
    assert state.document_frequency("sourdough") == 3 and int(client.get(keys.df_total)) == 103
    state.flush()
    assert state.document_frequency("sourdough") == 4 and int(client.get(keys.df_total)) == 104


def test_a_young_stream_sends_each_articles_counts_at_once(client, keys):
    """While the stream has few documents each one moves IDF a lot: counts are not held back,
    so that other processes see them (the seeds replayed by two processes)."""
    state = ThreadState(client, keys, ThreadSettings())
    now = time.time()
    for i, (t, b) in enumerate(UNRELATED):
        state.assign(f"u{i}", t, b, "en", now + i)
    # each article's counts went right after its commit, none waits for the next article
    assert int(client.get(keys.df_total)) == len(UNRELATED)
    assert state.document_frequency("sourdough") == 1


def test_a_process_keeps_the_counts_it_read_and_sent_and_reads_others_afresh_in_time(client, keys, monkeypatch):
    """Document frequencies read are used again for ``_DF_REFRESH`` assignments: what the
    process itself sends is added to them (so they stay what Redis holds), another process's
    counts arrive when they are read afresh."""
    import worker.threads.state as state_module

    monkeypatch.setattr(state_module, "_DF_REFRESH", 5)
    client.set(keys.df_total, 1000)  # an older stream: counts kept for _DF_REFRESH, sent in batches
    mine, other = ThreadState(client, keys, ThreadSettings()), ThreadState(client, keys, ThreadSettings())
    now = time.time()
    title, text = UNRELATED[2]
    for i in range(3):
        mine.assign(f"m{i}", f"{title} {i}", text, "en", now + i)
    assert mine._df_known["sourdough"] == (0.0, 0)  # read once, by the first assignment
    mine.flush()  # sends its 3 counts: what it keeps follows
    assert mine._df_known["sourdough"][0] == mine.document_frequency("sourdough") == 3
    # another process's counts, sent meanwhile
    client.execute_command("BITFIELD", keys.df_counts(0), *state_module._df_incr("sourdough", 10))
    other.assign("o0", f"{title} o", text, "en", now + 10)  # reads them: it had nothing kept
    assert other._df_known["sourdough"][0] == 13
    mine.assign("m3", f"{title} 3", text, "en", now + 3)  # the 4th assignment since its read
    assert mine._df_known["sourdough"][0] == 3
    mine.assign("m4", f"{title} 4", text, "en", now + 4)
    mine.assign("m5", f"{title} 5", text, "en", now + 5)  # the 6th: read afresh
    assert mine._df_known["sourdough"] == (13.0, 5)


def test_a_young_stream_reads_every_count_afresh(client, keys):
    mine, other = ThreadState(client, keys, ThreadSettings()), ThreadState(client, keys, ThreadSettings())
    now = time.time()
    title, text = UNRELATED[2]
    mine.assign("m0", title, text, "en", now)
    other.assign("o0", f"{title} o", text, "en", now + 1)
    other.flush()
    mine.assign("m1", f"{title} 1", text, "en", now + 2)  # a stream of 1-2 documents: no keeping
    assert mine._df_known["sourdough"][0] == mine.document_frequency("sourdough")


def test_document_frequencies_cover_the_last_generations_and_older_ones_are_deleted(client, keys, monkeypatch):
    """Counts go to the stream's current generation of counters; IDF reads it and the one
    before; a process starting a generation deletes the one before that (fixed memory)."""
    import worker.threads.state as state_module

    monkeypatch.setattr(state_module, "_DF_GEN_DOCS", 3)
    monkeypatch.setattr(state_module, "_DF_BATCH", 1)
    state = ThreadState(client, keys, ThreadSettings())
    now = time.time()
    title, text = UNRELATED[2]
    for i in range(11):
        state.assign(f"g{i}", f"{title} {i}", text, "en", now + i)
    state.flush()
    assert int(client.get(keys.df_total)) == 11  # generation 3
    assert not client.exists(keys.df_counts(0)) and not client.exists(keys.df_counts(1))
    assert client.exists(keys.df_counts(2)) and client.ttl(keys.df_counts(2)) > 0
    # the window: generations 2 and 3, not the first six documents
    assert 0 < state.document_frequency("sourdough") < 11


def test_a_feature_has_the_same_counter_in_every_process(client, keys):
    """The counters are found by a stable hash, not Python's per-process ``hash``: two workers
    with other hash seeds count a feature in the same place."""
    import subprocess
    import sys

    import worker.threads.state as state_module

    code = "from worker.threads.state import _df_offset; print(_df_offset('ceasefire'))"
    seen = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={**os.environ, "PYTHONHASHSEED": seed}).stdout.strip() for seed in ("1", "2")}
    assert seen == {state_module._df_offset("ceasefire")}
    state = ThreadState(client, keys, ThreadSettings())
    client.execute_command("BITFIELD", keys.df_counts(0), *state_module._df_incr("ceasefire", 4))
    assert state.document_frequency("ceasefire") == 4
