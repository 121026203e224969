"""Story and thread state in Redis: document frequencies, cluster centroids, an inverted index
from features to clusters, and each article's assignment. Shared by every worker.

Two levels. A story is one event (days); a thread is the ongoing story its events belong to
(weeks). Stories nest in threads: an article that joins a story joins that story's thread, and
only an article that starts a story looks for a thread, first among the watched threads of the
configuration, then among the discovered ones.

Race safety without a lock (optimistic concurrency): a worker reads, decides and computes the
new state with no lock held, then commits with one Lua script (lua/commit.lua) that checks what
the decision read is unchanged and writes everything atomically, or answers 'conflict', upon
which the worker reads again and decides again. What is checked:

* the version of each cluster written (a merge into a story or thread another worker changed
  meanwhile would lose that worker's member), and that a new cluster's id is free;
* for a new cluster, the term versions of the index sets the article looked its candidates up
  in: every cluster added to a set bumps the set's version, so two workers that both found no
  story for two copies of one new event cannot both start one: the second one's commit sees the
  first one's story in its sets, decides again, and joins it.

Assignments of unrelated articles touch different clusters and sets, so workers do not wait for
each other: the global lock this replaces (held ~3 ms an article) capped a deployment at ~300
articles a second. A redelivered task finds its recorded assignment and repeats it.
"""

from __future__ import annotations

import hashlib
import json
from itertools import chain, repeat, starmap
from operator import add
import threading
import time
import uuid
import zlib
from collections import OrderedDict
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import redis

from worker.errors import TransientError
from worker.settings import ThreadSettings
from worker.store.keys import Keys
from worker.store.packed import Command, execute_packed
from worker.threads.cluster import (
    Choice, Cluster, Features, Vector, best_watched, choose, cluster_time, cosine, definition_vector,
    event_time, event_weekday, features, headline_of, key_terms, lead, merge, strongest, thread_label, vectorise,
)
from worker.threads.watched import WatchedThread, load_watched

_LUA = resources.files("worker.threads").joinpath("lua")
_COMMIT_SCRIPT = _LUA.joinpath("commit.lua").read_text()

#: features of an article used to look up candidate clusters in the inverted index (10 lost
#: 0.001 BCubed F1 on each AllSides set, bench/threads_sweep.py)
_LOOKUP_TERMS = 12
#: clusters taken per feature from the inverted index (most recently active first); 20 and 10
#: gave the same stories on every set of bench/threads_sweep.py
_PER_TERM = 10
#: features of a cluster under which it is indexed: each is a ZADD, an EXPIRE and a term-version
#: HINCRBY in the commit script for a new cluster. 15 and 10 gave the same stories on every set
#: of bench/threads_sweep.py (AllSides dated, multi-day, undated, SemEval by language); 8 lost
#: 0.003 on AllSides dated
_INDEX_TERMS = 10
#: clusters kept per feature in the inverted index (most recently active); older ones drop out,
#: so a busy feature ("biden") costs the same lookup and memory after a year as after a week
_INDEX_KEEP = 200
#: growths of an index set between two trims to ``_INDEX_KEEP``, on average: trimming on every
#: write cost a Redis command per index write, 15-30 for a new story and thread. A growth trims
#: when the hash of (set, cluster) says so (``_trims``), one in this many, so a set holds about
#: this many clusters more than kept, beyond the ``_PER_TERM`` most recent that a lookup reads
_INDEX_EVERY = 8
#: an index set's term version (the count of clusters added to it, which the commit checks) is a
#: 16-bit counter at a hash of the set's name, in one Redis string a level (``Keys.term_versions``):
#: 2 MiB a level, whatever the stream's vocabulary. Until session 28 it was a hash field per
#: index set ever made, which grew without bound (a field for every name, number and rare word
#: that ever indexed a new story: GBs a year at a few million articles a day). Two sets sharing
#: a counter can only make a commit see a change that was not in its own set (a decision taken
#: again), never hide one; with ~25 counters bumped in the few ms between an article's reads
#: and its commit at 100 articles/s, one of its 12 is hit about once in 3,500 articles
_TV_SLOTS = 1 << 20
_TV_TYPE = "u16"  # wraps at 65,536: the check is for equality, over a few ms
#: articles whose document-frequency counts a process adds up before sending them, one HINCRBY
#: per distinct feature of the batch (AllSides, which arrives story by story: ~54 HINCRBY an
#: article at 1, ~31 at 32). The process reads its own unsent counts on top of Redis's
#: (``_pending``), so one process decides exactly as with a batch of 1; other processes see a
#: process's counts up to this many articles late. (Counting in each process alone, with no
#: Redis at all, lost 0.01 BCubed F1 in a 2-process replay of AllSides undated: 0.767 -> 0.757.
#: A batch without that overlay changed a seed decision: 003 joined 000's story.)
_DF_BATCH = 32
#: but never more articles than this share of the stream's count (Redis's, as last read): while
#: a stream is young each document moves IDF a lot, and other processes must see it at once
#: (the seeds replayed by two processes made 3 stories instead of 4 with a batch of 32 from the
#: first article); from 1,024 articles on, a batch of 32 is under 3% of what IDF counts
_DF_BATCH_SHARE = 1 / 32
#: a document frequency this process read is used again for this many of its assignments
#: before it is read afresh: an article's features are mostly words the last few dozen had too,
#: and the HMGET of every feature was the largest plain command of an assignment. The counts
#: this process sends are added to what it keeps, so one process decides exactly as with a
#: fresh read; another process's counts reach it up to this many assignments later, on top of
#: their own ``_DF_BATCH`` delay. Like the batch, never more than ``_DF_BATCH_SHARE`` of the
#: stream's count: a young stream reads every count afresh
_DF_REFRESH = 32
#: features whose count a process keeps (a drop-everything cache: emptied when full)
_DF_KEEP = 200_000
#: Document frequencies live in hashed counters, not a hash field per feature: a Redis string of
#: ``_DF_SLOTS`` 16-bit counters (saturating), read and incremented with one BITFIELD command
#: for all of an article's features. A hash of every feature ever seen grew without bound (names,
#: numbers and CJK bigrams are new every day: some GB a year at a few million articles a day,
#: on a Redis run with noeviction), and one HINCRBY a feature was the largest share of an
#: assignment's commands (117.7 -> 82.6 commands an assignment on AllSides). Redis's time is
#: about the same (a BITFIELD operation costs ~0.3 µs, a HINCRBY ~0.3-0.7 µs here). One counter
#: a feature (a count-min sketch with two, Cormode and Muthukrishnan 2005, costs
#: an operation more a feature each way): a collision can only add, and with ~1 million distinct
#: features a generation in 16.7 million counters ~6% of features share theirs, mostly with
#: another rare one. 16 bits: a feature in more than 65,535 of a generation's 100,000
#: documents is no stop word yet weighs next to nothing either way
_DF_SLOTS = 1 << 24
_DF_TYPE = "u16"
#: documents a generation of counters covers: counts go to the current generation (the stream's
#: document count // this), IDF reads it and the one before, and a process starting a
#: generation deletes the one before that. So IDF covers the last 100,000-200,000 documents and
#: memory is fixed (2 x 32 MiB)
_DF_GEN_DOCS = 100_000
#: the newest clusters each level's "all" sorted set keeps (it serves only `storyline threads`,
#: which lists the newest few hundred): cluster hashes expire, but their ids stayed in that set
#: forever, some 30 MB a day at a few million articles a day. Trimmed by each process once every
#: ``_ALL_TRIM_EVERY`` articles it commits, one ZREMRANGEBYRANK a level in a round trip it makes anyway.
_ALL_KEEP = 100_000
_ALL_TRIM_EVERY = 256
#: how long a cluster's scores in the index sets it stays in go unrefreshed, in seconds of its
#: own time: a set lists its clusters most recently active first, and an hour's drift in that
#: order changes no lookup, while refreshing all 15 sets on every join was a third of Redis's
#: time per assignment (30 ZADD + 30 EXPIRE + 30 ZREMRANGEBYRANK)
_INDEX_REFRESH_SECONDS = 6 * 3600
#: decimals kept of a stored weight: 4 change no cosine beyond the 4th decimal, and halve the
#: bytes Redis copies for each candidate read
_WEIGHT_DECIMALS = 4
#: clusters whose centroid a process keeps decoded, by version: a candidate it wrote or read
#: before and nobody changed since costs no centroid bytes from Redis
_CACHE_CLUSTERS = 20_000
#: how each level dates a cluster for decay (see cluster.cluster_time)
_LEVEL_TIME = {"story": "mean", "thread": "last"}
#: decisions tried before the task is retried: each conflict means another worker committed a
#: change to what this one read, so a run of them needs a burst on one event
_MAX_ATTEMPTS = 50


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
    version: int
    dated: bool
    indexed_at: float  # the cluster's time (its latest member's) when its index scores were set
    weekday: int | None  # the weekday its first member that named one dated the event by


def _decode(cid: str, raw: Mapping[bytes, bytes]) -> _Stored | None:
    if not raw or b"centroid" not in raw:
        return None
    def get(k: bytes, d: bytes = b"") -> bytes:
        return raw.get(k, d)

    return _Stored(
        cid, json.loads(raw[b"centroid"]), int(get(b"size", b"0")), float(get(b"first", b"0")),
        float(get(b"last", b"0")), float(get(b"when", get(b"last", b"0"))), get(b"label").decode(),
        json.loads(get(b"label_vec", b"{}")), json.loads(get(b"display", b"{}")),
        json.loads(get(b"indexed", b"[]")), get(b"thread").decode() or None,
        int(get(b"v", b"0")), get(b"dated", b"1") == b"1", float(get(b"ixt", b"0")),
        int(raw[b"wd"]) if raw.get(b"wd") not in (None, b"") else None,
    )


def _dump(vec: Mapping[str, float]) -> str:
    return json.dumps({t: round(w, _WEIGHT_DECIMALS) for t, w in vec.items()}, separators=(",", ":"), ensure_ascii=False)



def _row(size: int, when: float, version: int, dated: bool, weekday: int | None, thread: str | None) -> str:
    """What the decision reads of each candidate cluster, in one hash field (``row``) written
    with the cluster: one field name per candidate instead of six saves ~0.7 KB sent and
    received per assignment (the fields stay apart too, for ``_decode``). ``version`` is the
    one the commit writes: it writes only when the version it replaces is the one expected."""
    return f"{size} {when!r} {version} {int(dated)} {'' if weekday is None else weekday} {thread or ''}"


def _unrow(raw: bytes) -> tuple[int, float, int, bool, int | None, str | None]:
    size, when, version, dated, weekday, thread = raw.decode().split(" ")
    return int(size), float(when), int(version), dated == "1", int(weekday) if weekday else None, thread or None


@dataclass
class _Level:
    """One level's part of a commit."""

    cid: str
    expected: str  # the version read, "" for a new cluster
    score: float
    checks: list[tuple[str, int]]  # (index set's counter offset, version read) for a new cluster
    fields: dict[str, object]
    add: list[str]  # index sets
    drop: list[str]
    info: ClusterInfo
    centroid: Vector  # the new centroid, for the process's cache


def _df_generations(docs: float) -> list[int]:
    """The counters' generations IDF reads for a stream of ``docs`` documents: the current one
    first, then the one before it (``_DF_GEN_DOCS``)."""
    gen = int(docs // _DF_GEN_DOCS)
    return [gen, gen - 1] if gen else [0]


@lru_cache(maxsize=200_000)
def _df_offset(term: str) -> str:
    """The feature's counter (BITFIELD's ``#n`` offset, in counters), from a stable hash: every
    process must find the same one (Python's ``hash`` differs by process)."""
    digest = hashlib.blake2b(term.encode(), digest_size=4).digest()
    return f"#{int.from_bytes(digest, 'little') % _DF_SLOTS}"


@lru_cache(maxsize=200_000)
def _tv_offset(index_set: str) -> str:
    """The index set's term-version counter (BITFIELD's ``#n`` offset), from a stable hash (see
    ``_TV_SLOTS``); salted apart from ``_df_offset``."""
    digest = hashlib.blake2b(index_set.encode(), digest_size=4, person=b"tv").digest()
    return f"#{int.from_bytes(digest, 'little') % _TV_SLOTS}"


def _trims(index_set: str, cluster_id: str) -> str:
    """Whether this cluster's joining the set trims it ("1"), for one pair in ``_INDEX_EVERY``:
    decided by a hash, so a replay of the same stream trims the same sets."""
    return "1" if zlib.crc32(f"{index_set} {cluster_id}".encode()) % _INDEX_EVERY == 0 else "0"


@lru_cache(maxsize=200_000)
def _df_get(term: str) -> tuple[str, str, str]:
    """The BITFIELD_RO operation reading the feature's counter (cached: an article's read
    joins ~50-300 of them into one command)."""
    return ("GET", _DF_TYPE, _df_offset(term))


def _df_incr(term: str, n: int) -> tuple[str, str, str, int]:
    """The BITFIELD operation adding ``n`` to the feature's counter."""
    return ("INCRBY", _DF_TYPE, _df_offset(term), n)


class ThreadState:
    """Assigns articles to stories and threads, online. Built once per process."""

    def __init__(self, client: redis.Redis, keys: Keys, settings: ThreadSettings) -> None:
        self._r = client
        self._k = keys
        self._s = settings
        # EVALSHA, with EVAL only the first time a Redis lacks the script
        self._commit = client.register_script(_COMMIT_SCRIPT)
        self._watched: dict[str, WatchedThread] = {w.thread_id: w for w in load_watched(settings.watched_path)}
        self._definitions = [
            (w.thread_id, definition_vector(w.name, w.description, w.key_terms, "en", settings.centroid_terms), w.key_terms)
            for w in self._watched.values()
        ]
        #: conflicts met by this process's commits (each one a decision taken again)
        self.conflicts = 0
        self._old_cleared = False  # whether this process has dropped the old term-version hashes
        #: committed articles' features not yet counted in Redis (see ``_DF_BATCH``, ``flush``),
        #: and those articles' number
        self._pending: Counter[str] = Counter()
        self._pending_docs = 0
        self._stream_docs = 0.0  # the stream's document count, as last read from Redis
        #: feature -> (its count in Redis, as last read plus this process's sends since; the
        #: number of this process's assignment that read it), see ``_DF_REFRESH``
        self._df_known: dict[str, tuple[float, int]] = {}
        self._df_gen = 0  # the counters' generation ``_df_known`` was read from
        self._sent_gen = 0  # the generation this process last sent counts to
        self._assigned = 0  # assignments this process has started
        self._since_trim = 0  # articles committed since the "all" sets were last trimmed
        self._df_lock = threading.Lock()  # a Celery thread pool shares one ThreadState
        #: (level, cluster id) -> (version, centroid), most recently used last
        self._cache: OrderedDict[tuple[str, str], tuple[int, Vector]] = OrderedDict()

    @property
    def watched(self) -> list[WatchedThread]:
        return list(self._watched.values())

    @staticmethod
    def _recorded(done: bytes | None) -> Assignment | None:
        """A recorded assignment, decoded from its key's value."""
        if not done:
            return None
        data = json.loads(done)
        return Assignment(ClusterInfo(**data["story"]), ClusterInfo(**data["thread"]))

    def assign(
        self, article_id: str, title: str | None, text: str, language: str | None, when: float,
        dated: bool = True,
    ) -> Assignment:
        """Story and thread of an article dated ``when`` (unix seconds); ``dated``: whether
        ``when`` is a real date of the article or only its ingestion time (then the decision
        rests on text alone, see cluster.choose). A second call for the same article returns
        the first answer."""
        body = lead(text)
        feats = features(title, body, language)
        weekday = event_weekday(title, body)
        if dated and self._s.weekday_dates:
            when = event_time(when, weekday)  # "on Wednesday" in a Friday report
        terms = list(feats.counts)
        commands: list[Command] = []
        self._queue_trim(commands)
        if not self._old_cleared:
            # the unbounded term-version hashes of before session 28 (``Keys.old_term_versions``),
            # dropped by each process once, in a round trip it makes anyway; UNLINK frees them
            # off Redis's main thread, and a process of an older release still running
            # recreates one, which the next process started after it drops
            self._old_cleared = True
            commands += [("UNLINK", self._k.old_term_versions("story"), self._k.old_term_versions("thread"))]
        # this process's counts not yet in Redis, added to what Redis has: taken with the
        # batch's sending, so that a count is never in both or in neither
        pending, pending_docs = self._queue_counts(commands, terms)
        with self._df_lock:
            seq = self._assigned
            self._assigned += 1
            live = _df_generations(self._stream_docs)
            gen = live[0]
            known = self._df_known
            if gen != self._df_gen:  # a new generation: what was kept counted the old window
                known.clear()
                self._df_gen = gen
            # the features whose count is not known, or was read too long ago (``_DF_REFRESH``;
            # in a young stream every time, as with sending: ``_DF_BATCH_SHARE``)
            refresh = min(_DF_REFRESH, max(1, int(self._stream_docs * _DF_BATCH_SHARE)))
            read = [t for t in terms if (k := known.get(t)) is None or seq - k[1] >= refresh]
        gens = live if read else []
        commands.append(("GET", self._k.assignment(article_id)))
        commands.append(("GET", self._k.df_total))
        if read:
            slots = list(chain.from_iterable(map(_df_get, read)))
            commands.extend([("BITFIELD_RO", self._k.df_counts(g), *slots) for g in gens])
        replies = execute_packed(self._r, commands)[-(2 + len(gens)):]
        done = self._recorded(replies[0])
        if done:
            return done
        with self._df_lock:
            if len(known) + len(read) > _DF_KEEP:
                known.clear()
            # read after this round trip's sends (queued before the reads): nothing to add.
            # A feature's count: the sum of its counter over the generations read
            counts = replies[2] if read else []
            for values in replies[3:]:
                counts = list(map(add, counts, values))
            known.update(zip(read, zip(map(float, counts), repeat(seq))))
            dfs = {t: (known[t][0] if t in known else 0.0) + pending.get(t, 0) for t in terms}
        self._stream_docs = float(replies[1] or 0)
        # the documents the counts read cover: those since the oldest generation read began
        docs = self._stream_docs - live[-1] * _DF_GEN_DOCS + pending_docs
        vec = vectorise(feats, dfs, docs, language, self._s.centroid_terms)
        headline = headline_of(title, body)
        for _ in range(_MAX_ATTEMPTS):
            outcome = self._attempt(article_id, vec, feats, headline, language, when, dated, weekday)
            if outcome is not None:
                return outcome
            self.conflicts += 1
        # nothing was written: a retry of the task decides again
        raise TransientError(f"thread assignment: {_MAX_ATTEMPTS} conflicting commits in a row")

    def _candidates(self, level: str, sets: list[str]) -> tuple[list[Cluster], list[int], dict[str, str | None]]:
        """One level's candidate clusters (those still stored: an id outlives its hash by up to
        a TTL in the index), the term versions of the sets they were looked up in, and each
        candidate's story-level thread id.

        Plain commands, packed by hiredis (worker/store/packed.py), no script: the candidates
        script this replaces cost Redis ~230 µs a call, most of it Lua's own work (each reply
        converted to a Lua table and back), against ~35 µs for the same reads as plain commands. Two round trips, and still
        race-safe: the term versions are read *before* the sets, so a cluster added to a set
        after the versions were read bumps a version past what was read, and the commit
        (lua/commit.lua) answers 'conflict'. Rows may be fresher than the sets: the commit
        checks the version of the cluster joined. A centroid is read only when this process
        lacks the candidate (by id) in its cache, in the same round trip as the rows; a cached
        one of an older version is read apart."""
        commands: list[Command] = [(
            "BITFIELD_RO", self._k.term_versions(level),
            *chain.from_iterable(("GET", _TV_TYPE, _tv_offset(name)) for name in sets),
        )] if sets else []
        commands += [("ZREVRANGE", name, 0, _PER_TERM - 1) for name in sets]
        replies = execute_packed(self._r, commands) if sets else [[]]
        versions, lists = replies[0], replies[1:]
        most = self._s.max_candidates
        seen: set[bytes] = set()
        ids: list[str] = []
        for members in lists:
            if len(ids) >= most:
                break
            for raw_id in members:
                if raw_id not in seen:
                    seen.add(raw_id)
                    ids.append(raw_id.decode())
                    if len(ids) == most:
                        break
        if not ids:
            return [], versions, {}
        cold = [(level, cid) not in self._cache for cid in ids]
        rows = execute_packed(self._r, [("HMGET", self._k.cluster(level, cid), "row", *(("centroid",) if need else ()))
                                        for cid, need in zip(ids, cold)])
        found: list[tuple[str, int, float, int, bool, int | None]] = []
        threads: dict[str, str | None] = {}
        stale: list[str] = []
        for cid, reply in zip(ids, rows):
            if reply[0] is None:
                continue
            size, when, v, dated, weekday, thread = _unrow(reply[0])
            if len(reply) > 1 and reply[1] is not None:
                self._remember(level, cid, v, json.loads(reply[1]))
            cached = self._cache.get((level, cid))
            if cached is None or cached[0] != v:
                stale.append(cid)
            threads[cid] = thread
            found.append((cid, v, when, size, dated, weekday))
        if stale:
            fresh = execute_packed(self._r, [("HMGET", self._k.cluster(level, cid), "centroid", "v") for cid in stale])
            for cid, (centroid, version) in zip(stale, fresh):
                if centroid is not None:
                    self._remember(level, cid, int(version or 0), json.loads(centroid))
        out = []
        for cid, v, when, size, dated, weekday in found:
            cached = self._cache.get((level, cid))
            if cached is not None:
                self._cache.move_to_end((level, cid))
                out.append(Cluster(cid, cached[1], size, when, dated, v, weekday))
        return out, versions, threads

    def _remember(self, level: str, cid: str, version: int, centroid: Vector) -> None:
        self._cache[(level, cid)] = (version, centroid)
        self._cache.move_to_end((level, cid))
        while len(self._cache) > _CACHE_CLUSTERS:
            self._cache.popitem(last=False)

    def _count(self, feats: Features) -> None:
        """Count a committed article's features (after its decision: an article does not vote
        for itself); sent to Redis with a later round trip (``_queue_counts``)."""
        with self._df_lock:
            self._pending.update(feats.counts.keys())
            self._pending_docs += 1
            self._since_trim += 1

    def _batch(self) -> int:
        """Articles whose counts are sent together now (``_DF_BATCH``, ``_DF_BATCH_SHARE``)."""
        return min(_DF_BATCH, max(1, int(self._stream_docs * _DF_BATCH_SHARE)))

    def _queue_counts(
        self, commands: list[Command], terms: Iterable[str] = (), force: bool = False,
    ) -> tuple[dict[str, int], int]:
        """Queue the pending document-frequency counts once ``_DF_BATCH`` articles are pending
        (or ``force``), one HINCRBY per distinct feature; the counts of ``terms`` still pending
        after that, and the articles pending, which the caller adds to what it reads from Redis
        in the same round trip."""
        with self._df_lock:
            batch = self._batch()
            if not self._pending_docs or (not force and self._pending_docs < batch):
                pending_now = self._pending
                return {t: pending_now[t] for t in terms if t in pending_now}, self._pending_docs
            pending, docs = self._pending, self._pending_docs
            self._pending, self._pending_docs = Counter(), 0
            known = self._df_known
            for t, n in pending.items():  # the counts known here: what Redis holds once these are sent
                if (k := known.get(t)) is not None:
                    known[t] = (k[0] + n, k[1])
        # one BITFIELD for the batch's features (see ``_DF_SLOTS``), into the current generation;
        # a process that starts one deletes the generation before the last, which no reader needs
        gen = _df_generations(self._stream_docs)[0]
        key = self._k.df_counts(gen)
        ops: list[str | int] = list(chain.from_iterable(starmap(_df_incr, pending.items())))
        if ops:
            # a generation's first write allocates its 32 MiB (~16 ms of Redis's time, once in
            # 100,000 documents; 11 µs an assignment in a bench of 1,479)
            commands.append(("BITFIELD", key, "OVERFLOW", "SAT", *ops))
            commands.append(("EXPIRE", key, self._s.ttl_seconds))
        if gen != self._sent_gen:
            if gen >= 2:
                commands.append(("UNLINK", self._k.df_counts(gen - 2)))
            self._sent_gen = gen
        commands.append(("INCRBY", self._k.df_total, docs))
        return {}, 0

    def _queue_trim(self, commands: list[Command], force: bool = False) -> None:
        """Queue the "all" sets' trim once ``_ALL_TRIM_EVERY`` articles were committed since
        the last one (or ``force``), in a round trip made anyway."""
        with self._df_lock:
            if not self._since_trim or (not force and self._since_trim < _ALL_TRIM_EVERY):
                return
            self._since_trim = 0
        for level in ("story", "thread"):
            commands.append(("ZREMRANGEBYRANK", self._k.cluster_all(level), 0, -(_ALL_KEEP + 1)))

    def document_frequency(self, term: str) -> int:
        """How many of the documents IDF counts (the last one or two generations) have the
        feature, as Redis holds it: counts this process has not sent yet are not in it."""
        live = _df_generations(float(self._r.get(self._k.df_total) or 0))
        replies = execute_packed(self._r, [("BITFIELD_RO", self._k.df_counts(g), *_df_get(term)) for g in live])
        return sum(values[0] for values in replies)

    def flush(self) -> None:
        """Send the counts still pending and a trim still due (a process about to stop; tests)."""
        commands: list[Command] = []
        self._queue_trim(commands, force=True)
        self._queue_counts(commands, force=True)
        execute_packed(self._r, commands)

    def _attempt(
        self, article_id: str, vec: Vector, feats: Features, headline: str, language: str | None,
        when: float, dated: bool, weekday: int | None,
    ) -> Assignment | None:
        """Read, decide, commit; None when the commit met a conflict."""
        s = self._s
        lookup = strongest(vec, _LOOKUP_TERMS)
        story_sets = [self._k.cluster_index("story", t) for t in lookup]
        thread_sets = [self._k.cluster_index("thread", t) for t in lookup]
        story_candidates, story_tv, story_threads = self._candidates("story", story_sets)
        thread_tv: list[int] = []
        story_choice = choose(
            vec, story_candidates, when, s.story_threshold, s.story_half_life_hours,
            s.story_window_hours, dated, s.story_undated_threshold, weekday, s.undated_weekday_mismatch,
            s.story_text_window_hours, s.story_undated_lone_threshold, s.thread_undated_threshold,
        )
        thread_choice: Choice | None = None
        watched: Choice | None = None
        if story_choice.cluster_id is None:
            watched = best_watched(vec, feats, self._definitions, language, s.watched_threshold)
            if watched.cluster_id is None:
                # the thread level's candidates only now: an article that joins a story joins
                # its thread, so most articles never need them
                thread_candidates, thread_tv, _ = self._candidates("thread", thread_sets)
                thread_choice = choose(
                    vec, thread_candidates, when, s.thread_threshold, s.thread_half_life_hours,
                    0.0, dated, s.thread_undated_threshold,
                )
        chosen_thread = (watched.cluster_id if watched and watched.cluster_id else None) or (
            thread_choice.cluster_id if thread_choice else None
        )
        # the chosen story's hash and its thread's (the thread id read with the story's row; the
        # chosen thread's when the article starts a story), in one round trip: were the story
        # to move on meanwhile, the commit's version check would catch it
        thread_key = (story_threads.get(story_choice.cluster_id) if story_choice.cluster_id else None) or chosen_thread
        pipe = self._r.pipeline(transaction=False)
        if story_choice.cluster_id:
            pipe.hgetall(self._k.cluster("story", story_choice.cluster_id))
        if thread_key:
            pipe.hgetall(self._k.cluster("thread", thread_key))
        loaded = pipe.execute() if story_choice.cluster_id or thread_key else []
        story_raw = loaded.pop(0) if story_choice.cluster_id else {}
        thread_raw = loaded.pop(0) if thread_key else {}
        story_old = _decode(story_choice.cluster_id, story_raw) if story_choice.cluster_id else None
        if story_choice.cluster_id and story_old is None:
            return None  # expired between the two reads: decide again
        thread_id = story_old.thread if story_old and story_old.thread else chosen_thread
        if story_old is not None and (story_old.thread or None) != thread_key:
            return None  # the story moved to another thread since its row was read: decide again
        thread_old = _decode(thread_id, thread_raw) if thread_id and thread_raw else None
        if thread_id and thread_old is None and not (watched and watched.cluster_id == thread_id):
            if story_old is not None:
                thread_id = None  # the story's thread expired: start one
            else:
                return None
        thread_id = thread_id or f"t_{uuid.uuid4().hex[:12]}"
        story_id = story_old.cluster_id if story_old else f"s_{uuid.uuid4().hex[:12]}"
        # the article's vector as stored, encoded at most once (a new story and a new thread both
        # start from it; a new label takes it)
        vec_json = lru_cache(maxsize=1)(lambda: _dump(vec))
        story = self._level("story", story_id, story_old, vec, feats, headline, when, dated, thread=thread_id, vec_json=vec_json)
        if weekday is not None and (story_old is None or story_old.weekday is None):
            story.fields["wd"] = weekday  # the story's event weekday: the first one a member names
            row = str(story.fields["row"]).split(" ")
            row[4] = str(weekday)
            story.fields["row"] = " ".join(row)
        thread = self._level("thread", thread_id, thread_old, vec, feats, headline, when, dated, vec_json=vec_json)
        if story_old is None:
            story.checks = list(zip(map(_tv_offset, story_sets), story_tv))
        if thread_old is None and not thread_id.startswith("w_") and thread_tv:
            thread.checks = list(zip(map(_tv_offset, thread_sets), thread_tv))
        assignment = json.dumps({"story": story.info.__dict__, "thread": thread.info.__dict__})
        keys, args = self._commit_args(assignment, story, thread)
        reply = self._commit(keys=[self._k.assignment(article_id)] + keys, args=args)
        if reply[0] == b"conflict":
            return None
        if reply[0] == b"recorded":
            return self._recorded(reply[1])
        self._count(feats)
        if self._batch() == 1:
            # a young stream: this article's counts go now, not with this process's next round
            # trip, since each document there moves IDF a lot and another worker (or another
            # thread of this one) may be deciding meanwhile. Counts one article late, and one
            # more in flight, made seed 003 join 000's story in a two-thread replay of the
            # seeds (tests/threads/test_replay_seeds.py failed 1 run in 4 after other tests)
            commands: list[Command] = []
            self._queue_counts(commands)
            if commands:
                execute_packed(self._r, commands)
        for level, part in (("story", story), ("thread", thread)):
            self._remember(level, part.cid, int(part.expected or 0) + 1, part.centroid)
        return Assignment(story.info, thread.info)

    def _commit_args(self, assignment: str, story: _Level, thread: _Level) -> tuple[list[str], list[object]]:
        """KEYS (after the assignment's) and ARGV of lua/commit.lua."""
        keys: list[str] = []
        args: list[object] = [assignment, self._s.ttl_seconds, _INDEX_KEEP]
        tail: list[object] = []
        for level, part in (("story", story), ("thread", thread)):
            keys += [self._k.term_versions(level), self._k.cluster(level, part.cid), self._k.cluster_all(level)]
            keys += part.add + part.drop
            args += [part.cid, part.expected, repr(part.score), len(part.checks), len(part.fields), len(part.add), len(part.drop)]
        for part in (story, thread):
            for offset, version in part.checks:
                tail += [offset, version]
            for field, value in part.fields.items():
                tail += [field, value]
            for name in part.add:
                tail += [_tv_offset(name), _trims(name, part.cid)]
        return keys, args + tail

    # -- writing ------------------------------------------------------------------------------

    def _level(
        self, level: str, cid: str, old: _Stored | None, vec: Vector, feats: Features, headline: str,
        when: float, dated: bool, thread: str | None = None, vec_json: Callable[[], str] | None = None,
    ) -> _Level:
        """A cluster's new state after the article joins it (or starts it); ``vec_json``: ``_dump``
        of ``vec``, computed once for both levels (see ``_attempt``)."""
        top_k = self._s.centroid_terms
        if old is None:
            centroid, size, first, last = dict(vec), 1, when, when
            t, label, label_vec, display, indexed, is_dated = when, headline, vec, {}, [], dated
        else:
            centroid = merge(old.centroid, old.size, vec, top_k)
            size, first, last = old.size + 1, min(old.first, when), max(old.last, when)
            is_dated = old.dated
            # an undated member's ingestion time says nothing of a dated cluster's event time
            t = cluster_time(_LEVEL_TIME[level], old.when, old.size, when) if dated or not old.dated else old.when
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
        # watched threads are found through their definitions, not through the index
        new_index = [] if watched else strongest(centroid, _INDEX_TERMS)
        dropped = sorted(set(indexed) - set(new_index))
        refresh = old is None or last - old.indexed_at >= _INDEX_REFRESH_SECONDS
        added = new_index if refresh else [f for f in new_index if f not in set(indexed)]
        # a join rewrites what changed only: the label's vector and the display names are ~1 KB
        # each that Redis copies through the script on every write. Decided before the fields
        # are built, so that what is not written is not encoded either (the same fields, in the
        # same order, as building them all and dropping these)
        unchanged: set[str] = set()
        if old is not None:
            unchanged = {"dated", "ixt"} if not refresh else {"dated"}
            if label == old.label:
                unchanged |= {"label", "label_vec"}
            if display == old.display:
                unchanged.add("display")
            if new_index == old.indexed:
                unchanged.add("indexed")
            if thread == old.thread:
                unchanged.add("thread")
            if first == old.first:
                unchanged.add("first")
        # a new cluster's centroid is the article's vector, and so is a label's vector taken
        # from it: encoded once for both, and both levels (``vec_json``)
        fields: dict[str, object] = {
            "centroid": vec_json() if old is None and vec_json else _dump(centroid), "size": size,
        }
        if "first" not in unchanged:
            fields["first"] = repr(first)
        fields["last"], fields["when"] = repr(last), repr(t)
        if "label" not in unchanged:
            fields["label"] = label
            fields["label_vec"] = vec_json() if label_vec is vec and vec_json else _dump(label_vec)
        if "display" not in unchanged:
            fields["display"] = json.dumps(display, separators=(",", ":"), ensure_ascii=False)
        fields["shown"], fields["terms"] = shown_label, json.dumps(terms, ensure_ascii=False)
        if "indexed" not in unchanged:
            fields["indexed"] = json.dumps(new_index, ensure_ascii=False)
        if "dated" not in unchanged:
            fields["dated"] = int(is_dated)
        if "ixt" not in unchanged:
            fields["ixt"] = repr(old.indexed_at) if old is not None and not refresh else repr(last)
        if thread and "thread" not in unchanged:
            fields["thread"] = thread
        fields["row"] = _row(size, t, (old.version if old else 0) + 1, is_dated, old.weekday if old else None, thread)
        return _Level(
            cid, str(old.version) if old else "", last, [], fields,
            [self._k.cluster_index(level, f) for f in added], [self._k.cluster_index(level, f) for f in dropped],
            ClusterInfo(cid, shown_label, terms, size, first, last, old is None), centroid,
        )

    def seed_clusters(self, level: str, clusters: Iterable[tuple[str, Vector, float]]) -> None:
        """Write ready-made clusters (id, centroid, time), e.g. synthetic ones for a benchmark."""
        feats = Features(Counter(), {}, {})
        pipe = self._r.pipeline(transaction=False)
        other = "thread" if level == "story" else "story"
        for n, (cid, centroid, when) in enumerate(clusters):
            part = self._level(level, cid, None, centroid, feats, cid, when, True)
            # the other level's part: a throwaway cluster, removed below
            dummy = _Level(f"seed-{uuid.uuid4().hex[:8]}", "", when, [], {"centroid": "{}"}, [], [], part.info, {})
            story, thread = (part, dummy) if level == "story" else (dummy, part)
            keys, args = self._commit_args("{}", story, thread)
            pipe.eval(_COMMIT_SCRIPT, len(keys) + 1, self._k.assignment(f"seed-{cid}"), *keys, *args)
            pipe.delete(self._k.assignment(f"seed-{cid}"), self._k.cluster(other, dummy.cid))
            pipe.zrem(self._k.cluster_all(other), dummy.cid)
            if n % 500 == 499:
                pipe.execute()
        pipe.execute()

    def list_clusters(self, level: str = "thread", limit: int = 50) -> list[Mapping[str, object]]:
        """Most recently active clusters first."""
        ids = [m.decode() for m in self._r.zrevrange(self._k.cluster_all(level), 0, limit - 1)]
        pipe = self._r.pipeline(transaction=False)
        for cid in ids:
            pipe.hmget(self._k.cluster(level, cid), "shown", "size", "first", "last", "terms")
        rows: list[Mapping[str, object]] = []
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
