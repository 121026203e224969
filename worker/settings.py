"""Storyline's configuration: one Settings object, the only place that reads the environment.

Every stage receives only the slice it needs (``DedupSettings``, ``ThreadSettings`` ...),
so stage functions stay testable without an environment.
"""

from __future__ import annotations

from typing import Self

from pydantic import BaseModel, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def _require(condition: bool, message: str) -> None:
    """A cross-field rule of the settings: pydantic reports the ValueError with the field path,
    so a wrong environment variable stops the process at start with a line that says which."""
    if not condition:
        raise ValueError(message)


class LimitSettings(BaseModel):
    """Bounds on what one input may cost."""

    #: largest input body accepted, in bytes; larger inputs are dead-lettered at read time
    max_bytes: int = 10 * 1024 * 1024
    #: smallest clean text worth publishing, in words
    min_words: int = 20
    #: longest clean text accepted as one article, in words (a whole book or a data dump is not news)
    max_words: int = 50_000
    #: attempts per input before it goes to the dead-letter stream
    max_attempts: int = 5

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        _require(self.min_words >= 1, "STORYLINE_LIMITS__MIN_WORDS must be at least 1")
        _require(self.min_words <= self.max_words,
                 f"STORYLINE_LIMITS__MIN_WORDS ({self.min_words}) must not exceed STORYLINE_LIMITS__MAX_WORDS ({self.max_words})")
        _require(self.max_bytes > 0 and self.max_attempts >= 1,
                 "STORYLINE_LIMITS__MAX_BYTES must be positive and STORYLINE_LIMITS__MAX_ATTEMPTS at least 1")
        return self


class DedupSettings(BaseModel):
    """Near-duplicate detection. Defaults were chosen on the seed copy feed and the SemEval-2022
    pairs (see README, "Deduplication")."""

    #: MinHash permutations; 128 gives a Jaccard standard error of about 0.04 at J=0.5
    num_perm: int = 128
    #: LSH bands over the full signature, each keyed by ``rows`` whole 32-bit MinHash values
    #: (the stored values keep 16 bits; the keys are not stored). A pair with Jaccard J becomes
    #: a candidate through them with probability 1-(1-J)**6 at rows=1: 0.98 at J=0.5 (a copy
    #: truncated to half), where 8 bands of two 16-bit values (the last release) gave 0.90; the
    #: lead keys find most of the rest. Each band costs one read and one 5-byte slot of the
    #: index per check; bench/dedup.py --recall compares layouts on real copies (README).
    bands: int = 6
    #: 32-bit MinHash values per LSH band (see bands); (bands x rows + lead_bands) x 2 may not
    #: exceed num_perm
    rows: int = 1
    #: LSH keys from the lead's small MinHash (the first 40 shingles, minhash.LEAD_SHINGLES): a
    #: wire copy cut to half or less keeps its lead, so these find it whatever its Jaccard
    #: with the whole original. At most minhash.LEAD_PERM (8); each costs as a band does
    lead_bands: int = 4
    #: words per shingle
    shingle_size: int = 5
    #: estimated Jaccard resemblance at or above which two bodies are the same report
    jaccard_threshold: float = 0.7
    #: estimated containment of the shorter body in the longer at or above which a shorter
    #: body is a truncated copy (a wire copy cut to 50-70% behind a dateline). The estimate
    #: spreads by ~0.06 at Jaccard 0.45, so 0.85 confirmed two thirds of the 50% wire copies;
    #: 0.65 was chosen leaving one set out (bench/dedup.py --recall) and merges no distinct pair
    containment_threshold: float = 0.65
    #: the shorter body must be at least this fraction of the longer for containment to count;
    #: a 200-word brief is not a copy of the 2,000-word feature that quotes it
    min_length_ratio: float = 0.4
    #: how long an article stays findable, in seconds (30 days). The index is cut into
    #: ``slices`` time slices; a slice is dropped whole (its keys' TTL) one window after it
    #: closes, so an article is findable for at least the window and is gone at most one
    #: slice (window / slices) later.
    window_seconds: int = 30 * 24 * 3600
    #: time slices per window; slices + 1 are live at once. Their first tables are interleaved
    #: in one string, so a band is one read whatever the number; more slices mean tighter
    #: expiry and a longer read
    slices: int = 3
    #: articles indexed per window the index is sized for: each of the slices + 1 live slices
    #: gets expected_articles / slices x (bands + lead_bands + 1) slots at half load in the shared ring
    #: string, 5 bytes a slot plus a 3-byte header per 8 (16.0 MB in all at 100k). A slice that
    #: receives more opens an overflow table twice its size (one more lookup per key), so
    #: going over costs speed, never correctness.
    expected_articles: int = 100_000
    #: microseconds a worker polls for the check's reply before it blocks on the socket. On a
    #: virtual machine a blocked process's vCPU halts and waking it costs ~50 µs (bench/dedup.py
    #: prints checks/s with and without); 0 always blocks
    spin_microseconds: int = Field(default=250, ge=0, le=10_000)


class ThreadSettings(BaseModel):
    """Online story and thread clustering."""

    #: time-decayed cosine similarity to a story centroid needed to join that story. Story-mates'
    #: leads share fewer words than one expects (median 0.41 on AllSides); swept 0.15-0.40 with
    #: bench/threads.py, 0.18 is the best balance of BCubed precision and recall
    story_threshold: float = 0.18
    #: cosine similarity to a story centroid needed to join it when the article or the story
    #: has no date (only its ingestion time: a replay of scrapes), so text alone must separate
    #: the events of one kind that dates would have (see README, "Stories and threads")
    story_undated_threshold: float = 0.30
    #: without dates, the bar for a story that is the article's only candidate at the thread
    #: level of similarity (no other story's cosine reaches ``thread_undated_threshold``): with no
    #: second story of its kind to be confused with, the bar that keeps such stories apart is not
    #: needed. Chosen leaving one set out among AllSides undated, title-and-lead, two stories a
    #: topic and the SemEval pairs (0.18-0.28 swept; each fold picks 0.24 or 0.22, see README,
    #: "Stories and threads"); 0: off
    story_undated_lone_threshold: float = 0.24
    #: without dates, how many times higher the bar is when the article dates its event by
    #: another weekday than the story ("on Monday" against "on Wednesday"); 1: weekdays unused
    undated_weekday_mismatch: float = 2.0
    #: with a date, move an article's time to the weekday it dates its event by ("on Wednesday"
    #: in a Friday report: two days earlier), so reports a few days late join the event
    weekday_dates: bool = False
    #: cosine similarity to a thread centroid needed to join that thread
    thread_threshold: float = 0.12
    #: the same without dates
    thread_undated_threshold: float = 0.12
    #: hours around a story's mean date within which its pull stays whole whatever the text
    #: similarity (a flat start to the decay). 0: 24 h of it cost 0.055 BCubed F1 on AllSides
    #: dated; ``story_text_window_hours`` keeps multi-day events together instead
    story_window_hours: float = 0.0
    #: hours around a story's time within which a dated article joins it on what would join
    #: it undated (``story_undated_threshold``), however the decay falls: one event is covered
    #: over 0-4 days, and a date must add evidence, not take away what the text shows
    story_text_window_hours: float = 96.0
    #: half-life of a story's pull beyond the window, in hours, counted from the story's mean
    #: date: two events of one kind days apart must stay two stories
    story_half_life_hours: float = 24.0
    #: half-life of a thread's pull, in hours: an ongoing story spans weeks
    thread_half_life_hours: float = 24.0 * 21
    #: terms kept per centroid
    centroid_terms: int = 60
    #: candidate clusters scored per article (taken from the inverted index)
    max_candidates: int = 50
    #: clusters untouched for this long are dropped, in seconds (60 days)
    ttl_seconds: int = 60 * 24 * 3600
    #: TOML file of watched threads (name, description, key terms) that matching articles are
    #: classified into; None: every thread is discovered. Example: worker/threads/watched.example.toml
    watched_path: str | None = None
    #: cosine similarity to a watched thread's definition needed to join it (besides mentioning
    #: one of its key terms)
    watched_threshold: float = 0.10

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        for name in ("story_threshold", "story_undated_threshold", "thread_threshold", "thread_undated_threshold",
                     "watched_threshold"):
            _require(0.0 <= getattr(self, name) <= 1.0, f"STORYLINE_THREADS__{name.upper()} is a cosine: 0 to 1")
        _require(self.story_undated_lone_threshold == 0.0
                 or self.thread_undated_threshold <= self.story_undated_lone_threshold <= self.story_undated_threshold,
                 "STORYLINE_THREADS__STORY_UNDATED_LONE_THRESHOLD must lie between the undated thread and story"
                 " thresholds (or be 0: off)")
        # a thread gathers stories: its bar must not be above theirs, or an article could join a
        # story without joining the thread that story belongs to
        _require(self.thread_threshold <= self.story_threshold and self.thread_undated_threshold <= self.story_undated_threshold,
                 "STORYLINE_THREADS__THREAD_THRESHOLD (and _UNDATED_) must not exceed the story thresholds")
        _require(self.story_half_life_hours > 0 and self.thread_half_life_hours > 0,
                 "STORYLINE_THREADS__STORY_HALF_LIFE_HOURS and THREAD_HALF_LIFE_HOURS must be positive")
        _require(self.undated_weekday_mismatch >= 1.0, "STORYLINE_THREADS__UNDATED_WEEKDAY_MISMATCH must be at least 1")
        return self


class ExtractSettings(BaseModel):
    """HTML extraction (worker/extract/html.py)."""

    #: where trafilatura's body is short (under 100 words), ask readability-lxml too and keep
    #: its text when longer: F1 0.963 instead of 0.927 on readability-pages, never lower on the
    #: other sets, at no cost to the median page (it runs on few pages); false: trafilatura
    #: alone (README, "Extraction quality and cost")
    second_opinion: bool = True


class ChromeSettings(BaseModel):
    """Site chrome learned from the stream (worker/extract/chrome.py)."""

    #: pages of a site a line must be seen on before it counts as chrome, and pages of the
    #: site needed before anything is learned (3: a line on two pages may be a quote reused)
    min_pages: int = 3
    #: share of the site's pages a line must be seen on: chrome is on most pages, while a
    #: stock paragraph reused across one story's articles is on a minority of the site's
    min_share: float = 0.5
    #: distinct lines kept per site (the most frequent, then most recent); about 50 lines a
    #: page, so this holds a few hundred pages of evidence
    max_lines_per_site: int = 20_000
    #: how long a site's counts live after its last page, in seconds (30 days)
    ttl_seconds: int = 30 * 24 * 3600


class StreamSettings(BaseModel):
    """Output streams."""

    #: approximate MAXLEN of every output stream
    maxlen: int = 1_000_000
    #: how long a published event id is remembered for idempotent publishing, in seconds
    idempotency_ttl_seconds: int = 7 * 24 * 3600


class FetchSettings(BaseModel):
    """Fetching URLs (pages, feeds, robots.txt): limits, safety and politeness."""

    #: seconds to open a TCP (and TLS) connection
    connect_timeout: float = 5.0
    #: seconds to wait for each chunk of the response
    read_timeout: float = 15.0
    #: whole fetch, all redirects included, in seconds; a server trickling bytes is cut off here
    total_timeout: float = 60.0
    #: largest body kept, in bytes, counted after decompression (so a gzip bomb stops here too)
    max_body_bytes: int = 10 * 1024 * 1024
    #: redirects followed per fetch; each hop is checked by the SSRF guard before connecting
    max_redirects: int = 5
    #: media types a page may have; anything else is refused without reading the body
    page_content_types: list[str] = ["text/html", "application/xhtml+xml", "text/plain"]
    #: media types a feed may have (servers label feeds loosely, hence text/html and text/plain)
    feed_content_types: list[str] = [
        "application/rss+xml", "application/atom+xml", "application/rdf+xml", "application/xml", "text/xml",
        "application/feed+json", "application/json", "text/html", "text/plain", "application/octet-stream",
    ]
    #: User-Agent header of every fetch (pages, feeds, robots.txt); robots.txt rules are matched
    #: against the product token "Storyline" whatever this says
    user_agent: str = "Storyline/0.1 (news ingest; +https://example.invalid/storyline)"
    #: let fetches reach loopback, private, link-local and other non-public addresses. Off in
    #: production: on, any submitted URL could probe the internal network or cloud metadata
    allow_private_networks: bool = False
    #: non-public addresses allowed all the same, as "ip" or "ip:port" (e.g. an internal CMS)
    allowed_private_addresses: list[str] = []
    #: when set, only these host names (or IPs) are fetched at all; checked before any DNS lookup
    allowed_hosts: list[str] | None = None
    #: honour robots.txt for pages (feeds are subscribed to by an operator, as in feed readers)
    respect_robots: bool = True
    #: how long a host's robots.txt is cached in Redis, in seconds
    robots_ttl_seconds: int = 6 * 3600
    #: simultaneous fetches per host, across all workers
    per_host_concurrency: int = 2
    #: least time between two fetches starting on one host, across all workers, in seconds
    per_host_delay_seconds: float = 1.0
    #: longest a fetch waits for a host slot before its task is put back with a countdown, in seconds
    host_wait_seconds: float = 10.0
    #: how long a fetched page's validators (ETag, Last-Modified) are kept for re-fetches, in seconds
    validators_ttl_seconds: int = 30 * 24 * 3600

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        # (a connect or read timeout above the total is legal: the total's deadline cuts every wait)
        _require(min(self.connect_timeout, self.read_timeout, self.total_timeout) > 0,
                 "STORYLINE_FETCH__CONNECT_TIMEOUT, READ_TIMEOUT and TOTAL_TIMEOUT must be positive")
        _require(self.max_body_bytes > 0 and self.max_redirects >= 0,
                 "STORYLINE_FETCH__MAX_BODY_BYTES must be positive and MAX_REDIRECTS not negative")
        _require(self.per_host_concurrency >= 1, "STORYLINE_FETCH__PER_HOST_CONCURRENCY must be at least 1")
        return self


class FeedSettings(BaseModel):
    """Feed polling."""

    #: default polling interval, in seconds
    default_every_seconds: int = 600
    #: shortest interval accepted, in seconds
    min_every_seconds: int = 60
    #: longest back-off after repeated failures, in seconds (a day)
    max_backoff_seconds: int = 24 * 3600
    #: new entries taken from one poll; a feed with more new entries hands the rest to the next
    #: polls (fetched in full, without conditional headers, until drained)
    max_entries: int = 500
    #: an entry whose own content has at least this many words is ingested from the feed, not fetched
    full_content_min_words: int = 150
    #: how long seen entry guids and links are remembered, in seconds (30 days, the dedup window)
    seen_ttl_seconds: int = 30 * 24 * 3600

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        _require(0 < self.min_every_seconds <= self.default_every_seconds <= self.max_backoff_seconds,
                 f"feed intervals must satisfy 0 < STORYLINE_FEEDS__MIN_EVERY_SECONDS ({self.min_every_seconds}) <= "
                 f"DEFAULT_EVERY_SECONDS ({self.default_every_seconds}) <= MAX_BACKOFF_SECONDS ({self.max_backoff_seconds})")
        _require(self.max_entries >= 1, "STORYLINE_FEEDS__MAX_ENTRIES must be at least 1")
        return self


class RequestSettings(BaseModel):
    """The ingest request stream."""

    #: consumer group reading <prefix>:requests
    group: str = "storyline-requests"
    #: attempts per request before it is dead-lettered and acked
    max_attempts: int = 5
    #: a request pending this long on a consumer is taken over by another, in milliseconds
    claim_idle_ms: int = 60_000
    #: requests read per call
    batch: int = 50
    #: how long one read waits for new requests, in milliseconds
    block_ms: int = 5000


class Settings(BaseSettings):
    """All of Storyline's settings. Environment variables: STORYLINE_<NAME>, nested with __,
    e.g. STORYLINE_DEDUP__JACCARD_THRESHOLD=0.8. REDIS_URL is read without the prefix too."""

    model_config = SettingsConfigDict(env_prefix="STORYLINE_", env_nested_delimiter="__", extra="ignore")

    #: Redis for broker, state and streams; None means "start an embedded one" (CLI only)
    redis_url: str | None = Field(default=None, validation_alias="REDIS_URL")
    #: Celery's broker when not this Redis, e.g. RabbitMQ (``amqp://user:password@host:5672//``),
    #: which hands a lost worker's unacknowledged tasks to another as soon as its connection
    #: drops; Redis still holds all state and the streams. None: the Redis of ``redis_url``
    broker_url: str | None = None
    #: prefix of every key, stream and queue, so several deployments can share one Redis
    prefix: str = "storyline"
    #: where the embedded Redis keeps its data between runs
    data_dir: str = ".storyline"
    limits: LimitSettings = LimitSettings()
    dedup: DedupSettings = DedupSettings()
    threads: ThreadSettings = ThreadSettings()
    streams: StreamSettings = StreamSettings()
    fetch: FetchSettings = FetchSettings()
    feeds: FeedSettings = FeedSettings()
    requests: RequestSettings = RequestSettings()
    chrome: ChromeSettings = ChromeSettings()
    extract: ExtractSettings = ExtractSettings()
    #: longest a single task may run, in seconds (a hard limit; a soft one just below it lets the
    #: task dead-letter itself)
    task_time_limit: int = 300
    #: how long a run's per-input outcomes (replay, submit) are kept for the CLI to count, in seconds
    run_ttl_seconds: int = 24 * 3600
    #: seconds after which a task delivered to a worker that stopped renewing its lease (killed,
    #: lost) is handed to another worker. Each live worker renews its own deliveries every third
    #: of this (worker/runtime/lease.py), so a running task is never handed out twice however long
    #: it runs; a lost worker's tasks go back to the queue within this plus a 5 s scan
    visibility_timeout: int = 30
    #: seconds a worker may go without taking a task while the queue has messages and it has a
    #: free process before it counts as stalled and exits for its supervisor to restart it
    #: (worker/runtime/watchdog.py); 0: never
    consumer_stall_seconds: int = 120
    #: port of the worker's Prometheus endpoint; 0 disables it
    metrics_port: int = 0
    #: address the Prometheus endpoint listens on: this machine only by default, as for a
    #: database; 0.0.0.0 (all interfaces) where a scraper on another host or pod reads it, as the
    #: compose file and the Kubernetes manifests set
    metrics_addr: str = "127.0.0.1"
    #: JSON logs (structlog) instead of console-friendly ones
    json_logs: bool = False
    #: level of Storyline's own log lines (DEBUG, INFO, WARNING, ERROR)
    log_level: str = "INFO"

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        # the soft limit sits 1-10 s below the hard one (worker/runtime/app.py)
        _require(self.task_time_limit >= 2, "STORYLINE_TASK_TIME_LIMIT must be at least 2 seconds")
        # each worker renews its leases every third of the visibility timeout (runtime/lease.py)
        _require(self.visibility_timeout >= 3, "STORYLINE_VISIBILITY_TIMEOUT must be at least 3 seconds")
        _require(self.run_ttl_seconds > 0, "STORYLINE_RUN_TTL_SECONDS must be positive")
        _require(self.log_level.upper() in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"),
                 f"STORYLINE_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, not {self.log_level!r}")
        return self

    def with_overrides(self, **overrides: object) -> "Settings":
        """Copy with CLI flags applied (None means 'flag not given')."""
        given = {k: v for k, v in overrides.items() if v is not None}
        return self.model_copy(update=given)
