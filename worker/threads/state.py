"""Story and thread state in Redis: document frequencies, cluster centroids, an inverted index
from terms to clusters, and each article's assignment. Shared by every worker; assignment runs
under a Redis lock so two workers cannot both create a cluster for the same new story."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

import redis

from worker.settings import ThreadSettings
from worker.store.keys import Keys
from worker.threads.cluster import Cluster, Vector, choose, cosine, key_terms, merge, term_counts, vectorise

#: terms of an article used to look up candidate clusters in the inverted index
_LOOKUP_TERMS = 12
#: clusters taken per term from the inverted index (most recently active first)
_PER_TERM = 20
#: terms of a cluster under which it is indexed
_INDEX_TERMS = 15


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


def _info_to_json(c: ClusterInfo) -> dict:
    return c.__dict__


class ThreadState:
    """Assigns articles to stories and threads, online. Built once per process."""

    def __init__(self, client: redis.Redis, keys: Keys, settings: ThreadSettings) -> None:
        self._r = client
        self._k = keys
        self._s = settings

    def vector(self, title: str | None, text: str, language: str | None) -> tuple[Vector, list[str]]:
        counts, names = term_counts(title, text)
        terms = list(counts)
        pipe = self._r.pipeline(transaction=False)
        pipe.hmget(self._k.df, terms)
        pipe.get(self._k.df_total)
        dfs_raw, n_raw = pipe.execute()
        dfs = {t: float(v) for t, v in zip(terms, dfs_raw) if v is not None}
        vec = vectorise(counts, names, dfs, float(n_raw or 0), language or "en", self._s.centroid_terms)
        return vec, terms

    def assign(self, article_id: str, title: str | None, text: str, language: str | None, when: float) -> Assignment:
        """Story and thread of an article; a second call for the same article returns the first answer."""
        done = self._r.get(self._k.assignment(article_id))
        if done:
            data = json.loads(done)
            return Assignment(ClusterInfo(**data["story"]), ClusterInfo(**data["thread"]))
        vec, terms = self.vector(title, text, language)
        with self._r.lock(self._k.thread_lock, timeout=30, blocking_timeout=60):
            done = self._r.get(self._k.assignment(article_id))
            if done:
                data = json.loads(done)
                return Assignment(ClusterInfo(**data["story"]), ClusterInfo(**data["thread"]))
            story = self._assign_level("story", vec, title, when, self._s.story_threshold, self._s.story_half_life_hours)
            thread = self._assign_level("thread", vec, title, when, self._s.thread_threshold, self._s.thread_half_life_hours)
            pipe = self._r.pipeline(transaction=True)
            pipe.set(
                self._k.assignment(article_id),
                json.dumps({"story": _info_to_json(story), "thread": _info_to_json(thread)}),
                ex=self._s.ttl_seconds,
            )
            # learn document frequencies after deciding, so an article does not vote for itself
            for t in terms:
                pipe.hincrby(self._k.df, t, 1)
            pipe.incr(self._k.df_total)
            pipe.execute()
        return Assignment(story, thread)

    def _candidates(self, level: str, vec: Vector) -> list[Cluster]:
        lookup = sorted(vec, key=vec.__getitem__, reverse=True)[:_LOOKUP_TERMS]
        pipe = self._r.pipeline(transaction=False)
        for t in lookup:
            pipe.zrevrange(self._k.cluster_index(level, t), 0, _PER_TERM - 1)
        ids: dict[str, None] = {}
        for members in pipe.execute():
            for m in members:
                ids.setdefault(m.decode(), None)
        ids_list = list(ids)[: self._s.max_candidates]
        pipe = self._r.pipeline(transaction=False)
        for cid in ids_list:
            pipe.hmget(self._k.cluster(level, cid), "centroid", "size", "last")
        out = []
        for cid, (centroid, size, last) in zip(ids_list, pipe.execute()):
            if centroid is None:
                continue  # expired
            out.append(Cluster(cid, json.loads(centroid), int(size), float(last)))
        return out

    def _assign_level(
        self, level: str, vec: Vector, title: str | None, when: float, threshold: float, half_life: float
    ) -> ClusterInfo:
        candidates = self._candidates(level, vec)
        choice = choose(vec, candidates, when, threshold, half_life)
        label_text = (title or "").strip() or "(untitled)"
        key = None
        if choice.cluster_id is None:
            cid = f"{level[0]}_{uuid.uuid4().hex[:12]}"
            centroid, size, first, last, label, label_sim, created = vec, 1, when, when, label_text, 1.0, True
        else:
            cid = choice.cluster_id
            key = self._k.cluster(level, cid)
            old = next(c for c in candidates if c.cluster_id == cid)
            first_raw, label_raw, label_sim_raw = self._r.hmget(key, "first", "label", "label_sim")
            centroid = merge(old.centroid, old.size, vec, self._s.centroid_terms)
            size, first, last = old.size + 1, float(first_raw or when), max(old.last_seen, when)
            label, label_sim, created = (label_raw or b"").decode(), float(label_sim_raw or 0), False
            # the label is the member headline closest to the centroid so far
            sim_new = cosine(vec, centroid)
            if title and sim_new > label_sim:
                label, label_sim = label_text, sim_new
        key = self._k.cluster(level, cid)
        terms = key_terms(centroid, 8)
        pipe = self._r.pipeline(transaction=True)
        pipe.hset(key, mapping={
            "centroid": json.dumps(centroid), "size": size, "first": first, "last": last,
            "label": label, "label_sim": label_sim, "terms": json.dumps(terms),
        })
        pipe.expire(key, self._s.ttl_seconds)
        for t in sorted(centroid, key=centroid.__getitem__, reverse=True)[:_INDEX_TERMS]:
            ix = self._k.cluster_index(level, t)
            pipe.zadd(ix, {cid: last})
            pipe.expire(ix, self._s.ttl_seconds)
        pipe.zadd(self._k.cluster_all(level), {cid: last})
        pipe.execute()
        return ClusterInfo(cid, label, terms, size, first, last, created)

    def list_clusters(self, level: str = "thread", limit: int = 50) -> list[Mapping[str, object]]:
        """Most recently active clusters first."""
        ids = [m.decode() for m in self._r.zrevrange(self._k.cluster_all(level), 0, limit - 1)]
        pipe = self._r.pipeline(transaction=False)
        for cid in ids:
            pipe.hmget(self._k.cluster(level, cid), "label", "size", "first", "last", "terms")
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
