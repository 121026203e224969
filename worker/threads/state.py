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

import json
import time
from importlib import resources
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

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
        self._index_script = client.register_script(_INDEX_SCRIPT)
        self._count_script = client.register_script(_COUNT_SCRIPT)
        self._watched: dict[str, WatchedThread] = {w.thread_id: w for w in load_watched(settings.watched_path)}
        self._definitions = [
            (w.thread_id, definition_vector(w.name, w.description, w.key_terms, "en", settings.centroid_terms), w.key_terms)
            for w in self._watched.values()
        ]

    @property
    def watched(self) -> list[WatchedThread]:
        return list(self._watched.values())

    def vector(self, title: str | None, text: str, language: str | None) -> tuple[Vector, Features]:
        """TF-IDF vector of an article under the document frequencies learned so far."""
        feats = features(title, lead(text), language)
        names = list(feats.counts)
        pipe = self._r.pipeline(transaction=False)
        pipe.hmget(self._k.df, names)
        pipe.get(self._k.df_total)
        dfs_raw, n_raw = pipe.execute()
        dfs = {t: float(v) for t, v in zip(names, dfs_raw) if v is not None}
        return vectorise(feats, dfs, float(n_raw or 0), language, self._s.centroid_terms), feats

    def _recorded(self, article_id: str) -> Assignment | None:
        done = self._r.get(self._k.assignment(article_id))
        if not done:
            return None
        data = json.loads(done)
        return Assignment(ClusterInfo(**data["story"]), ClusterInfo(**data["thread"]))

    def assign(self, article_id: str, title: str | None, text: str, language: str | None, when: float) -> Assignment:
        """Story and thread of an article dated ``when`` (unix seconds); a second call for the
        same article returns the first answer."""
        done = self._recorded(article_id)
        if done:
            return done
        vec, feats = self.vector(title, text, language)
        headline = (title or "").strip() or "(untitled)"
        try:
            with self._r.lock(self._k.thread_lock, timeout=_LOCK_TIMEOUT, sleep=_LOCK_POLL, blocking_timeout=_LOCK_WAIT):
                done = self._recorded(article_id)
                if done:
                    return done
                return self._assign_locked(article_id, vec, feats, headline, language, when)
        except redis.exceptions.LockError as exc:
            # not acquired in time, or lost before release: nothing half-written is recorded as
            # done, so a retry decides again
            raise TransientError(f"thread lock: {exc}") from exc

    def _assign_locked(
        self, article_id: str, vec: Vector, feats: Features, headline: str, language: str | None, when: float,
    ) -> Assignment:
        pipe = self._r.pipeline(transaction=True)
        s = self._s
        story_old, story_choice = self._decide("story", vec, when, s.story_threshold, s.story_half_life_hours)
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
                thread_old, _ = self._decide("thread", vec, when, s.thread_threshold, s.thread_half_life_hours)
                thread_id = thread_old.cluster_id if thread_old else None
        thread_id = thread_id or f"t_{uuid.uuid4().hex[:12]}"
        story_id = story_old.cluster_id if story_old else f"s_{uuid.uuid4().hex[:12]}"
        story = self._write("story", pipe, story_id, story_old, vec, feats, headline, when, thread=thread_id)
        thread = self._write("thread", pipe, thread_id, thread_old, vec, feats, headline, when)
        pipe.set(
            self._k.assignment(article_id),
            json.dumps({"story": story.__dict__, "thread": thread.__dict__}),
            ex=s.ttl_seconds,
        )
        # learn document frequencies after deciding, so an article does not vote for itself
        self._count_script(keys=[self._k.df, self._k.df_total], args=list(feats.counts), client=pipe)
        pipe.execute()
        return Assignment(story, thread)

    # -- reading ------------------------------------------------------------------------------

    def _load(self, level: str, cid: str) -> _Stored | None:
        return _decode(cid, self._r.hgetall(self._k.cluster(level, cid)))

    def _candidates(self, level: str, vec: Vector) -> list[Cluster]:
        """Clusters indexed under the article's strongest features, most recently active first.
        At most _LOOKUP_TERMS x _PER_TERM ids and ``max_candidates`` clusters are read, however
        many clusters exist."""
        pipe = self._r.pipeline(transaction=False)
        for t in strongest(vec, _LOOKUP_TERMS):
            pipe.zrevrange(self._k.cluster_index(level, t), 0, _PER_TERM - 1)
        ids: dict[str, None] = {}
        for members in pipe.execute():
            for m in members:
                ids.setdefault(m.decode(), None)
        ids_list = list(ids)[: self._s.max_candidates]
        pipe = self._r.pipeline(transaction=False)
        for cid in ids_list:
            pipe.hmget(self._k.cluster(level, cid), "centroid", "size", "when")
        out = []
        for cid, (centroid, size, when) in zip(ids_list, pipe.execute()):
            if centroid is not None:  # else expired since it was indexed
                out.append(Cluster(cid, json.loads(centroid), int(size), float(when)))
        return out

    def _decide(
        self, level: str, vec: Vector, when: float, threshold: float, half_life: float,
    ) -> tuple[_Stored | None, Choice]:
        choice = choose(vec, self._candidates(level, vec), when, threshold, half_life)
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
        self._index_script(
            keys=[self._k.cluster_index(level, f) for f in new_index + dropped],
            args=[cid, last, len(new_index), _INDEX_KEEP, self._s.ttl_seconds], client=pipe,
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
