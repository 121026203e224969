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

    # -- idempotent publishing ---------------------------------------------------------
    def published(self, event_id: str) -> str:
        return f"{self.prefix}:pub:{event_id}"

    def attempts(self, doc_id: str) -> str:
        """Deliveries of one input so far (counts redeliveries after a worker died, too)."""
        return f"{self.prefix}:att:{doc_id}"

    # -- dedup ---------------------------------------------------------------------------
    @property
    def dedup_meta(self) -> str:
        """Hash recording the MinHash library, version and permutation scheme of stored state."""
        return f"{self.prefix}:dd:meta"

    def dedup_exact(self, text_hash: str) -> str:
        return f"{self.prefix}:dd:x:{text_hash}"

    def dedup_url(self, url_hash: str) -> str:
        return f"{self.prefix}:dd:u:{url_hash}"

    def dedup_band(self, band: int, bucket: str) -> str:
        return f"{self.prefix}:dd:b:{band}:{bucket}"

    def dedup_signature(self, article_id: str) -> str:
        return f"{self.prefix}:dd:s:{article_id}"

    def dedup_outcome(self, doc_id: str) -> str:
        """Decision already taken for one input, so a redelivered task repeats it."""
        return f"{self.prefix}:dd:o:{doc_id}"

    # -- threads -------------------------------------------------------------------------
    @property
    def df(self) -> str:
        """Hash term -> document frequency, learned online."""
        return f"{self.prefix}:th:df"

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

    @property
    def thread_lock(self) -> str:
        return f"{self.prefix}:th:lock"

    def assignment(self, article_id: str) -> str:
        """Story and thread already chosen for an article, so a redelivered task repeats it."""
        return f"{self.prefix}:th:a:{article_id}"

    # -- runs (replay accounting) ---------------------------------------------------------
    def run(self, run_id: str) -> str:
        return f"{self.prefix}:run:{run_id}"

    # -- dead letters -----------------------------------------------------------------------
    @property
    def requeued(self) -> str:
        """Hash dead-letter event id -> doc id of the input requeued from it (requeue once)."""
        return f"{self.prefix}:dl:requeued"

    def pattern(self) -> str:
        """Glob matching every key under this prefix (for tests and reset)."""
        return f"{self.prefix}:*"
