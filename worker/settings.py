"""Storyline's configuration: one Settings object, the only place that reads the environment.

Every stage receives only the slice it needs (``DedupSettings``, ``ThreadSettings`` ...),
so stage functions stay testable without an environment.
"""

from __future__ import annotations

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class LimitSettings(BaseModel):
    """Bounds on what one input may cost."""

    #: largest input body accepted, in bytes; larger inputs are dead-lettered at read time
    max_bytes: int = 10 * 1024 * 1024
    #: smallest clean text worth publishing, in words
    min_words: int = 20
    #: attempts per input before it goes to the dead-letter stream
    max_attempts: int = 5


class DedupSettings(BaseModel):
    """Near-duplicate detection. Defaults were chosen on the seed copy feed and the SemEval-2022
    pairs (see README, "Deduplication")."""

    #: MinHash permutations; 128 gives a Jaccard standard error of about 0.04 at J=0.5
    num_perm: int = 128
    #: LSH bands x rows (of 16-bit values). A pair with Jaccard J becomes a candidate with
    #: probability 1-(1-J**2)**8: 0.90 at J=0.5, 0.97 at J=0.6 (a copy truncated to 60%),
    #: 0.995 at J=0.7. Each band costs one lookup per live time slice, so few wide-open bands
    #: (rows=2) are cheaper than the classic 20 x 4 and find truncated copies more often
    #: (20 x 4 gives 0.73 at J=0.5, 0.94 at J=0.6).
    bands: int = 8
    rows: int = 2
    #: words per shingle
    shingle_size: int = 5
    #: estimated Jaccard resemblance at or above which two bodies are the same report
    jaccard_threshold: float = 0.7
    #: estimated containment of the shorter body in the longer at or above which a shorter
    #: body is a truncated copy (wire copy cut to 60-70% behind a dateline)
    containment_threshold: float = 0.85
    #: the shorter body must be at least this fraction of the longer for containment to count;
    #: a 200-word brief is not a copy of the 2,000-word feature that quotes it
    min_length_ratio: float = 0.4
    #: how long an article stays findable, in seconds (30 days). The index is cut into
    #: ``slices`` time slices; a slice is dropped whole (its keys' TTL) one window after it
    #: closes, so an article is findable for at least the window and is gone at most one
    #: slice (window / slices) later.
    window_seconds: int = 30 * 24 * 3600
    #: time slices per window; each check looks up every band in slices + 1 live slices, so
    #: more slices mean tighter expiry but slower checks
    slices: int = 3
    #: articles indexed per window the index is sized for: each new time slice allocates one
    #: lookup table of expected_articles / slices x (bands + 1) slots at half load, 5 bytes a
    #: slot (1.5 MB at 100k). A slice that receives more opens a table twice the size (one
    #: more lookup per band), so going over costs speed, never correctness.
    expected_articles: int = 100_000


class ThreadSettings(BaseModel):
    """Online story and thread clustering."""

    #: cosine similarity to a story centroid needed to join that story
    story_threshold: float = 0.55
    #: cosine similarity to a thread centroid needed to join that thread
    thread_threshold: float = 0.12
    #: half-life of a story's pull, in hours: an event is reported within days
    story_half_life_hours: float = 48.0
    #: half-life of a thread's pull, in hours: an ongoing story spans weeks
    thread_half_life_hours: float = 24.0 * 21
    #: terms kept per centroid
    centroid_terms: int = 60
    #: candidate clusters scored per article (taken from the inverted index)
    max_candidates: int = 50
    #: clusters untouched for this long are dropped, in seconds (60 days)
    ttl_seconds: int = 60 * 24 * 3600


class StreamSettings(BaseModel):
    """Output streams."""

    #: approximate MAXLEN of every output stream
    maxlen: int = 1_000_000
    #: how long a published event id is remembered for idempotent publishing, in seconds
    idempotency_ttl_seconds: int = 7 * 24 * 3600


class Settings(BaseSettings):
    """All of Storyline's settings. Environment variables: STORYLINE_<NAME>, nested with __,
    e.g. STORYLINE_DEDUP__JACCARD_THRESHOLD=0.8. REDIS_URL is read without the prefix too."""

    model_config = SettingsConfigDict(env_prefix="STORYLINE_", env_nested_delimiter="__", extra="ignore")

    #: Redis for broker, state and streams; None means "start an embedded one" (CLI only)
    redis_url: str | None = Field(default=None, validation_alias="REDIS_URL")
    #: prefix of every key, stream and queue, so several deployments can share one Redis
    prefix: str = "storyline"
    #: where the embedded Redis keeps its data between runs
    data_dir: str = ".storyline"
    limits: LimitSettings = LimitSettings()
    dedup: DedupSettings = DedupSettings()
    threads: ThreadSettings = ThreadSettings()
    streams: StreamSettings = StreamSettings()
    #: longest a single task may run, in seconds; the broker's visibility timeout sits above it
    task_time_limit: int = 300
    #: port of the worker's Prometheus endpoint; 0 disables it
    metrics_port: int = 0
    #: JSON logs (structlog) instead of console-friendly ones
    json_logs: bool = False
    #: level of Storyline's own log lines (DEBUG, INFO, WARNING, ERROR)
    log_level: str = "INFO"

    def with_overrides(self, **overrides: object) -> "Settings":
        """Copy with CLI flags applied (None means 'flag not given')."""
        given = {k: v for k, v in overrides.items() if v is not None}
        return self.model_copy(update=given)
