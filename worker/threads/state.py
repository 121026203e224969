"""Story and thread state in Redis: document frequencies, cluster centroids, an inverted index
from features to clusters, and each article's assignment. Shared by every worker.

Two levels. A story is one event (days); a thread is the ongoing story its events belong to
(weeks). Stories nest in threads: an article that joins a story joins that story's thread, and
only an article that starts a story looks for a thread, first among the watched threads of the
configuration, then among the discovered ones.

Race safety: the vector is built outside any lock (it reads document frequencies only), then
the decision and its writes run under one Redis lock, so two workers never both start a story
for the same event, and a redelivered task finds its recorded assignment and repeats it.
"""

from __future__ import annotations

import contextlib
import json
import time
from importlib import resources
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import partial

import redis

from worker.errors import TransientError
from worker.settings import ThreadSettings
from worker.store.keys import Keys
from worker.threads.cluster import (
    Choice, Cluster, Features, Vector, best_watched, choose, cluster_time, cosine, definition_vector,
    features, key_terms, lead, merge, strongest, thread_label, vectorise,
)
from worker.threads.watched import WatchedThread, load_watched

_INDEX_SCRIPT = resources.files("worker.threads").joinpath("lua/index_cluster.lua").read_text()
_COUNT_SCRIPT = resources.files("worker.threads").joinpath("lua/count_features.lua").read_text()
_CANDIDATES_SCRIPT = resources.files("worker.threads").joinpath("lua/candidates.lua").read_text()
_READ_SCRIPT = resources.files("worker.threads").joinpath("lua/read_clusters.lua").read_text()
_RELEASE_SCRIPT = resources.files("worker.threads").joinpath("lua/release_lock.lua").read_text()

#: features of an article used to look up candidate clusters in the inverted index
_LOOKUP_TERMS = 12
#: clusters taken per feature from the inverted index (most recently active first)
_PER_TERM = 20
#: features of a cluster under which it is indexed
_INDEX_TERMS = 15
#: clusters kept per feature in the inverted index (most recently active); older ones drop out,
#: so a busy feature ("biden") costs the same lookup and memory after a year as after a week
_INDEX_KEEP = 200
#: how each level dates a cluster for decay (see cluster.cluster_time)
_LEVEL_TIME = {"story": "mean", "thread": "last"}
#: longest the assignment lock is held, in seconds; an assign takes milliseconds
_LOCK_TIMEOUT = 30
#: longest a worker waits for the lock, in seconds, before the task is retried
_LOCK_WAIT = 60
#: how often a waiting worker tries the lock again, in seconds. The lock is held ~3 ms per
#: article; redis-py's default (0.1 s) made every collision cost up to 100 ms, which cost two
#: workers ~5% of their throughput. 2 ms: a waiter gets it soon after release, and even ten
#: waiting workers add only a few thousand SET NX a second.
_LOCK_POLL = 0.002


@dataclass(frozen=True)
class ClusterInfo:
    cluster_id: str
    label: str
    key_terms: list[str]
    size: int
    first_seen: float
    last_seen: float
    created: bool


@dataclass(frozen=True)
class Assignment:
    story: ClusterInfo
    thread: ClusterInfo


@dataclass
class _Stored:
    """One cluster's hash, decoded."""

    cluster_id: str
    centroid: Vector
    size: int
    first: float
    last: float
    when: float
    label: str
    label_vec: Vector
    display: dict[str, str]
    indexed: list[str]
    thread: str | None  # stories only: the thread the story belongs to


def _eval(pipe: redis.client.Pipeline, script: str, keys: list[str], args: list[object]) -> None:
    """Queue a Lua script on ``pipe`` as EVAL. A registered script (EVALSHA) makes redis-py send
    SCRIPT EXISTS before every pipeline it is on, a round trip of its own; EVAL sends the source
    (under a kilobyte) instead, and Redis reuses the script it compiled for it last time."""
    pipe.eval(script, len(keys), *keys, *args)


def _decode(cid: str, raw: Mapping[bytes, bytes]) -> _Stored | None:
    if not raw or b"centroid" not in raw:
        return None
    get = lambda k, d=b"": raw.get(k, d)  # noqa: E731
    return _Stored(
        cid, json.loads(raw[b"centroid"]), int(get(b"size", b"0")), float(get(b"first", b"0")),
        float(get(b"last", b"0")), float(get(b"when", get(b"last", b"0"))), get(b"label").decode(),
        json.loads(get(b"label_vec", b"{}")), json.loads(get(b"display", b"{}")),
        json.loads(get(b"indexed", b"[]")), get(b"thread").decode() or None,
    )


class ThreadState:
    """Assigns articles to stories and threads, online. Built once per process."""

    def __init__(self, client: redis.Redis, keys: Keys, settings: ThreadSettings) -> None:
        self._r = client
        self._k = keys
        self._s = settings
        self._read_script = client.register_script(_READ_SCRIPT)
        self._watched: dict[str, WatchedThread] = {w.thread_id: w for w in load_watched(settings.watched_path)}
        self._definitions = [
            (w.thread_id, definition_vector(w.name, w.description, w.key_terms, "en", settings.centroid_terms), w.key_terms)
            for w in self._watched.values()
        ]

    @property
    def watched(self) -> list[WatchedThread]:
        return list(self._watched.values())

    def _queue_dfs(self, pipe: redis.client.Pipeline, feats: Features) -> None:
        pipe.hmget(self._k.df, list(feats.counts))
        pipe.get(self._k.df_total)

    def _vectorise(self, feats: Features, replies: list, language: str | None) -> Vector:
        """The vector from the two replies ``_queue_dfs`` queued, first on the pipeline."""
        dfs_raw, n_raw = replies[0], replies[1]
        dfs = {t: float(v) for t, v in zip(feats.counts, dfs_raw) if v is not None}
        return vectorise(feats, dfs, float(n_raw or 0), language, self._s.centroid_terms)

    @staticmethod
    def _recorded(done: bytes | None) -> Assignment | None:
        """A recorded assignment, decoded from its key's value."""
        if not done:
            return None
        data = json.loads(done)
        return Assignment(ClusterInfo(**data["story"]), ClusterInfo(**data["thread"]))

    def assign(self, article_id: str, title: str | None, text: str, language: str | None, when: float) -> Assignment:
        """Story and thread of an article dated ``when`` (unix seconds); a second call for the
        same article returns the first answer."""
        # features before the recorded-assignment check, so that the check and the document
        # frequencies take one round trip: a redelivery is rare, a round trip is ~100 µs
        feats = features(title, lead(text), language)
        pipe = self._r.pipeline(transaction=False)
        self._queue_dfs(pipe, feats)
        pipe.get(self._k.assignment(article_id))
        replies = pipe.execute()
        done = self._recorded(replies[2])
        if done:
            return done
        vec = self._vectorise(feats, replies, language)
        headline = (title or "").strip() or "(untitled)"
        token = uuid.uuid4().hex.encode()
        try:
            recorded, story_ids, thread_ids = self._lock_and_look_up(article_id, vec, token)
            done = self._recorded(recorded)
            if done:
                released = self._release(token)
            else:
                done, released = self._assign_locked(
                    article_id, vec, feats, headline, language, when, story_ids, thread_ids, token,
                )
        except BaseException:
            # the lock may be ours (taken, and not released by the writes): free it rather than
            # make every worker wait for it to expire; the token check makes this a no-op if not
            with contextlib.suppress(redis.RedisError):  # the error to report is the first one
                self._release(token)
            raise
        if not released:
            # lost (expired) before release: what was written is complete and recorded, so a
            # retry repeats it (as with redis-py's Lock, which raised at release)
            raise TransientError("thread lock: lost before release")
        return done

    def _release(self, token: bytes) -> bool:
        """Free the assignment lock if ``token`` still holds it; whether it did."""
        return bool(self._r.eval(_RELEASE_SCRIPT, 1, self._k.thread_lock, token))

    def _lock_and_look_up(self, article_id: str, vec: Vector, token: bytes) -> list:
        """Take the assignment lock, then read under it the assignment a concurrent worker may
        have recorded meanwhile and the candidate ids of both levels (the same features; the
        thread's are wasted when the article joins a story, but cost microseconds, a round trip
        ~100). The first try at the lock shares the reads' round trip: Redis runs one
        connection's commands in order, so once the SET NX succeeded the reads after it are
        under the lock; a worker that did not get it drops them, waits and reads again."""
        lookup_terms = strongest(vec, _LOOKUP_TERMS)
        deadline = time.monotonic() + _LOCK_WAIT
        have_lock = False
        while True:
            pipe = self._r.pipeline(transaction=False)
            if not have_lock:
                pipe.set(self._k.thread_lock, token, nx=True, px=_LOCK_TIMEOUT * 1000)
            pipe.get(self._k.assignment(article_id))
            for level in ("story", "thread"):
                index = [self._k.cluster_index(level, t) for t in lookup_terms]
                _eval(pipe, _CANDIDATES_SCRIPT, index, [_PER_TERM, self._s.max_candidates])
            replies = pipe.execute()
            if have_lock:
                return replies
            if replies[0]:
                return replies[1:]
            # contended: poll with the SET NX alone, then read once the lock is ours
            while not self._r.set(self._k.thread_lock, token, nx=True, px=_LOCK_TIMEOUT * 1000):
                if time.monotonic() >= deadline:
                    # nothing was written, so a retry decides again
                    raise TransientError(f"thread lock: not acquired within {_LOCK_WAIT} s")
                time.sleep(_LOCK_POLL)
            have_lock = True

    def _assign_locked(
        self, article_id: str, vec: Vector, feats: Features, headline: str, language: str | None, when: float,
        story_ids: list[bytes], thread_ids: list[bytes], token: bytes,
    ) -> tuple[Assignment, bool]:
        """The decision and its writes, under the lock; the writes release it. Returns whether
        the lock was still held at release."""
        s = self._s
        story_old, story_choice = self._decide("story", vec, story_ids, when, s.story_threshold, s.story_half_life_hours)
        thread_old: _Stored | None = None
        thread_id: str | None = None
        if story_old is not None and story_old.thread:
            # the story's thread: stories nest in threads
            thread_id = story_old.thread
            thread_old = self._load("thread", thread_id)
        if thread_old is None:
            watched = best_watched(vec, feats, self._definitions, language, s.watched_threshold)
            if watched.cluster_id is not None:
                thread_id = watched.cluster_id
                thread_old = self._load("thread", thread_id)
            else:
                thread_old, _ = self._decide("thread", vec, thread_ids, when, s.thread_threshold, s.thread_half_life_hours)
                thread_id = thread_old.cluster_id if thread_old else None
        thread_id = thread_id or f"t_{uuid.uuid4().hex[:12]}"
        story_id = story_old.cluster_id if story_old else f"s_{uuid.uuid4().hex[:12]}"
        pipe = self._r.pipeline(transaction=True)
        story = self._write("story", pipe, story_id, story_old, vec, feats, headline, when, thread=thread_id)
        thread = self._write("thread", pipe, thread_id, thread_old, vec, feats, headline, when)
        pipe.set(
            self._k.assignment(article_id),
            json.dumps({"story": story.__dict__, "thread": thread.__dict__}),
            ex=s.ttl_seconds,
        )
        # learn document frequencies after deciding, so an article does not vote for itself
        _eval(pipe, _COUNT_SCRIPT, [self._k.df, self._k.df_total], list(feats.counts))
        # release the lock in the same transaction: atomically with the writes, and without a
        # round trip of its own
        _eval(pipe, _RELEASE_SCRIPT, [self._k.thread_lock], [token])
        released = pipe.execute()[-1]
        return Assignment(story, thread), bool(released)

    # -- reading ------------------------------------------------------------------------------

    def _load(self, level: str, cid: str) -> _Stored | None:
        return _decode(cid, self._r.hgetall(self._k.cluster(level, cid)))

    def _candidates(self, level: str, ids: list[bytes]) -> list[Cluster]:
        """The clusters of ``ids`` (from lua/candidates.lua: indexed under the article's strongest
        features, most recently active first) still stored. At most _LOOKUP_TERMS x _PER_TERM
        ids and ``max_candidates`` clusters are read, however many clusters exist."""
        if not ids:
            return []
        cids = [m.decode() for m in ids]
        # centroid, size and time only: the whole hash of 50 clusters is ~3x the bytes, which
        # costs more than the round trip that reads the chosen one's (``_load``)
        rows = self._read_script(keys=[self._k.cluster(level, cid) for cid in cids], args=["centroid", "size", "when"])
        out = []
        for cid, (centroid, size, when) in zip(cids, rows):
            if centroid is not None:  # else expired since it was indexed
                # decoded only if choose() scores it (see cluster.Cluster)
                out.append(Cluster(cid, partial(json.loads, centroid), int(size), float(when)))
        return out

    def _decide(
        self, level: str, vec: Vector, ids: list[bytes], when: float, threshold: float, half_life: float,
    ) -> tuple[_Stored | None, Choice]:
        choice = choose(vec, self._candidates(level, ids), when, threshold, half_life)
        chosen = self._load(level, choice.cluster_id) if choice.cluster_id else None
        return chosen, choice

    # -- writing ------------------------------------------------------------------------------

    def _write(
        self, level: str, pipe: redis.client.Pipeline, cid: str, old: _Stored | None, vec: Vector,
        feats: Features, headline: str, when: float, thread: str | None = None,
    ) -> ClusterInfo:
        """Queue the cluster's new state on ``pipe``; the caller executes it."""
        top_k = self._s.centroid_terms
        if old is None:
            centroid, size, first, last = dict(vec), 1, when, when
            t, label, label_vec, display, indexed = when, headline, vec, {}, []
        else:
            centroid = merge(old.centroid, old.size, vec, top_k)
            size, first, last = old.size + 1, min(old.first, when), max(old.last, when)
            t = cluster_time(_LEVEL_TIME[level], old.when, old.size, when)
            display, indexed = old.display, old.indexed
            # the label is the member headline closest to the centroid as it is now; the old
            # label is measured against the moved centroid too, so the label follows the thread
            label, label_vec = old.label, old.label_vec
            if cosine(vec, centroid) > cosine(label_vec, centroid):
                label, label_vec = headline, vec
        display = {f: (display.get(f) or feats.display.get(f) or f) for f in centroid}
        watched = self._watched.get(cid) if level == "thread" else None
        if watched:
            shown_label, terms = watched.name, list(watched.key_terms)
        else:
            terms = key_terms(centroid, display, 8)
            shown_label = thread_label(label, centroid, display) if level == "thread" else label
        fields: dict[str, object] = {
            "centroid": json.dumps(centroid), "size": size, "first": first, "last": last, "when": t,
            "label": label, "label_vec": json.dumps(label_vec), "display": json.dumps(display),
            "shown": shown_label, "terms": json.dumps(terms),
        }
        if thread:
            fields["thread"] = thread
        key = self._k.cluster(level, cid)
        # watched threads are found through their definitions, not through the index
        new_index = [] if watched else strongest(centroid, _INDEX_TERMS)
        dropped = sorted(set(indexed) - set(new_index))
        _eval(
            pipe, _INDEX_SCRIPT, [self._k.cluster_index(level, f) for f in new_index + dropped],
            [cid, last, len(new_index), _INDEX_KEEP, self._s.ttl_seconds],
        )
        fields["indexed"] = json.dumps(new_index)
        pipe.hset(key, mapping=fields)
        pipe.expire(key, self._s.ttl_seconds)
        pipe.zadd(self._k.cluster_all(level), {cid: last})
        return ClusterInfo(cid, shown_label, terms, size, first, last, old is None)

    def seed_clusters(self, level: str, clusters: Iterable[tuple[str, Vector, float]]) -> None:
        """Write ready-made clusters (id, centroid, time), e.g. synthetic ones for a benchmark."""
        pipe = self._r.pipeline(transaction=False)
        feats = Features(Counter(), {}, {})
        for n, (cid, centroid, when) in enumerate(clusters):
            self._write(level, pipe, cid, None, centroid, feats, cid, when)
            if n % 1000 == 999:
                pipe.execute()
        pipe.execute()

    def list_clusters(self, level: str = "thread", limit: int = 50) -> list[Mapping[str, object]]:
        """Most recently active clusters first."""
        ids = [m.decode() for m in self._r.zrevrange(self._k.cluster_all(level), 0, limit - 1)]
        pipe = self._r.pipeline(transaction=False)
        for cid in ids:
            pipe.hmget(self._k.cluster(level, cid), "shown", "size", "first", "last", "terms")
        rows = []
        for cid, (label, size, first, last, terms) in zip(ids, pipe.execute()):
            if label is None:
                continue
            rows.append({
                "id": cid, "label": label.decode(), "size": int(size), "first_seen": float(first),
                "last_seen": float(last), "key_terms": json.loads(terms or b"[]"),
            })
        return rows


def now() -> float:
    return time.time()
