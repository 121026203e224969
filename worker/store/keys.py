"""Every Redis key, stream and queue name Storyline uses. No other module builds a key.

All names live under one prefix (default ``storyline``) so that several deployments, or
several test runs, can share a Redis without seeing each other.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Keys:
    prefix: str = "storyline"

    # -- output streams (the event contract) ------------------------------------------
    @property
    def articles(self) -> str:
        return f"{self.prefix}:articles"

    @property
    def duplicates(self) -> str:
        return f"{self.prefix}:duplicates"

    @property
    def threads_stream(self) -> str:
        return f"{self.prefix}:threads"

    @property
    def dead_letter(self) -> str:
        return f"{self.prefix}:dead-letter"

    @property
    def requests(self) -> str:
        """Ingest request stream, read by a consumer group."""
        return f"{self.prefix}:requests"

    def stream(self, name: str) -> str:
        """Full name of an output stream given its short name (articles, duplicates ...)."""
        return f"{self.prefix}:{name}"

    @property
    def output_streams(self) -> tuple[str, ...]:
        return (self.articles, self.duplicates, self.threads_stream, self.dead_letter)

    # -- Celery ------------------------------------------------------------------------
    @property
    def queue(self) -> str:
        """The Celery queue of ingest tasks."""
        return f"{self.prefix}.ingest"

    @property
    def broker_queue(self) -> str:
        """The Redis list kombu keeps the queue's messages in (its global_keyprefix + queue)."""
        return f"{self.prefix}:celery:{self.queue}"

    @property
    def broker_unacked(self) -> str:
        """kombu's hash of delivered, not yet acknowledged messages (every queue of the prefix)."""
        return f"{self.prefix}:celery:unacked"

    # -- idempotent publishing ---------------------------------------------------------
    def published(self, event_id: str) -> str:
        return f"{self.prefix}:pub:{event_id}"

    def attempts(self, doc_id: str) -> str:
        """Deliveries of one input so far (counts redeliveries after a worker died, too)."""
        return f"{self.prefix}:att:{doc_id}"

    # -- dedup ---------------------------------------------------------------------------
    # The dedup index lives in time slices (see worker/dedup/index.py). Every key of slice
    # ``n`` starts with ``dedup_slice(n)``; lua/check_and_insert.lua appends the same suffixes
    # as the methods below (it builds names itself so one script can address any slice; a
    # test checks that every key it creates is one of these).
    @property
    def dedup_meta(self) -> str:
        """Hash: the MinHash library, version, permutation scheme and layout of stored state;
        the ring's buckets (ring); per live slice n, its tables (t<n>) and articles (c<n>)."""
        return f"{self.prefix}:dd:meta"

    @property
    def dedup_ring(self) -> str:
        """String: the first table of every live slice, interleaved bucket by bucket (a
        stamped sub-bucket per slice), so that one read finds an entry in all of them."""
        return f"{self.dedup_base}:ring"

    @property
    def dedup_base(self) -> str:
        """Common start of every dedup key (handed to the Lua script)."""
        return f"{self.prefix}:dd"

    def dedup_slice(self, slice_no: int) -> str:
        return f"{self.dedup_base}:{slice_no}"

    def dedup_table(self, slice_no: int, table: int) -> str:
        """String: overflow table (table >= 1) of LSH-band and URL entries (2-byte
        fingerprint, 3-byte article id per 5-byte slot) of a slice that outgrew its part of
        the ring."""
        return f"{self.dedup_slice(slice_no)}:t:{table}"

    def dedup_records(self, slice_no: int, chunk: int) -> str:
        """String of fixed-size article records (size, text hash, URL, signature, article id)."""
        return f"{self.dedup_slice(slice_no)}:r:{chunk}"

    # -- threads -------------------------------------------------------------------------
    @property
    def legacy_df(self) -> str:
        """The document-frequency hash of releases before 26 (``df_counts`` replaces it): no
        release reads it; ``storyline doctor`` reports one left behind."""
        return f"{self.prefix}:th:df"

    def df_counts(self, generation: int) -> str:
        """String of hashed 16-bit document-frequency counters, one generation of the stream's
        documents (worker/threads/state.py ``_DF_SLOTS``). Before release 26 a hash
        (``legacy_df``)."""
        return f"{self.prefix}:th:dfc:{generation}"

    @property
    def df_total(self) -> str:
        return f"{self.prefix}:th:n"

    def cluster(self, level: str, cluster_id: str) -> str:
        """Hash of one story or thread: centroid terms, label, size, first/last seen."""
        return f"{self.prefix}:th:{level}:{cluster_id}"

    def cluster_index(self, level: str, term: str) -> str:
        """Sorted set term -> cluster ids scored by last activity (inverted index)."""
        return f"{self.prefix}:th:{level}:ix:{term}"

    def cluster_all(self, level: str) -> str:
        """Sorted set of all cluster ids of a level, scored by last activity."""
        return f"{self.prefix}:th:{level}:all"

    def term_versions(self, level: str) -> str:
        """String of 16-bit counters: at a hash of an index set's name, the clusters added to it,
        for the optimistic commit's checks (threads/state.py ``_TV_SLOTS``). ``:tv``, until
        session 28, was a hash of a field per index set, which grew without bound."""
        return f"{self.prefix}:th:{level}:tvc"

    def old_term_versions(self, level: str) -> str:
        """The unbounded hash ``term_versions`` replaced: each ThreadState deletes it once, with
        its first assignment."""
        return f"{self.prefix}:th:{level}:tv"

    def assignment(self, article_id: str) -> str:
        """Story and thread already chosen for an article, so a redelivered task repeats it."""
        return f"{self.prefix}:th:a:{article_id}"

    # -- site chrome learned from the stream (worker/extract/chrome.py) -------------------
    def chrome_lines(self, site: str) -> str:
        """Sorted set line fingerprint -> pages of ``site`` the line was seen on."""
        return f"{self.prefix}:chr:l:{site}"

    def chrome_pages(self, site: str) -> str:
        """Pages of ``site`` seen so far."""
        return f"{self.prefix}:chr:n:{site}"

    def chrome_seen(self, doc_id: str) -> str:
        """Set when an input's lines were counted, so a redelivered task does not count twice."""
        return f"{self.prefix}:chr:d:{doc_id}"

    # -- runs (replay accounting) ---------------------------------------------------------
    def run(self, run_id: str) -> str:
        return f"{self.prefix}:run:{run_id}"

    # -- sources: feeds, fetching, requests ------------------------------------------------
    @property
    def feeds(self) -> str:
        """Set of the ids of subscribed feeds."""
        return f"{self.prefix}:src:feeds"

    def feed(self, feed_id: str) -> str:
        """Hash of one feed's state: url, interval, validators, last poll, status, errors, back-off."""
        return f"{self.prefix}:src:feed:{feed_id}"

    def feed_lock(self, feed_id: str) -> str:
        """Held while a feed is polled, so two workers never poll it at once."""
        return f"{self.prefix}:src:feed:{feed_id}:lock"

    def seen_entry(self, entry_hash: str) -> str:
        """Marks a feed entry (by guid or normalised link) as already taken."""
        return f"{self.prefix}:src:seen:{entry_hash}"

    def page_validators(self, url_hash: str) -> str:
        """ETag and Last-Modified of a fetched page, for conditional re-fetches."""
        return f"{self.prefix}:src:val:{url_hash}"

    def robots(self, origin: str) -> str:
        """Cached robots.txt of one origin (scheme://host:port)."""
        return f"{self.prefix}:src:robots:{origin}"

    def host_slots(self, host: str) -> str:
        """Sorted set of fetch leases on a host, scored by expiry (ms): per-host concurrency."""
        return f"{self.prefix}:src:host:{host}:slots"

    def host_next(self, host: str) -> str:
        """Earliest time (ms) the next fetch may start on a host: per-host delay."""
        return f"{self.prefix}:src:host:{host}:next"

    def fetch_attempts(self, doc_id: str) -> str:
        """Fetch attempts of one URL input (separate from its ingest attempts)."""
        return f"{self.prefix}:src:fatt:{doc_id}"

    @property
    def request_attempts(self) -> str:
        """Hash request entry id -> processing attempts, for dead-lettering poison requests."""
        return f"{self.prefix}:src:ratt"

    def consumer_alive(self, consumer: str) -> str:
        """Heartbeat of one request consumer (unix time of its last loop; expires): what its
        liveness probe reads (worker/ops/health.py)."""
        return f"{self.prefix}:src:alive:{consumer}"

    @property
    def redbeat_prefix(self) -> str:
        """Key prefix of celery-redbeat: entries are this + name, plus ``:schedule`` and ``:lock``."""
        return f"{self.prefix}:redbeat:"

    # -- dead letters -----------------------------------------------------------------------
    @property
    def requeued(self) -> str:
        """Hash dead-letter event id -> doc id of the input requeued from it (requeue once)."""
        return f"{self.prefix}:dl:requeued"

    def pattern(self) -> str:
        """Glob matching every key under this prefix (for tests and reset)."""
        return f"{self.prefix}:*"
