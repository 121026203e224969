"""The dedup index in Redis, shared by every worker: exact, URL and MinHash-LSH lookups,
decided and written atomically by one Lua script (``lua/check_and_insert.lua``). The rule it
applies to candidates is ``decision.py`` (the reference, tested against the script); the one
EVALSHA a check sends goes through ``fastpath.py``.

Storage is cut into time slices of ``window / slices``; ``slices + 1`` are live at once. Each
slice has

* strings of fixed-size records, one per canonical article (shingle count, text hash, URL
  fingerprint, signature, article id: ``record_bytes()`` = 309 bytes with the defaults),
  addressed by a 3-byte id local to the slice;
* its share of the ring: one open-addressing table holding, for each article, one 5-byte slot
  per LSH key (its bands and its lead keys, see minhash.py) and one for its canonical URL (2-byte fingerprint, 3-byte id), sized for
  ``expected_articles`` at half load. The live slices' tables are interleaved bucket by bucket
  in one string (``Keys.dedup_ring``): bucket j is an overflow stamp and one 43-byte sub-bucket
  per ring position (a stamp naming the slice, a count, 8 slots), so one GETRANGE reads a
  band's slots in every live slice, and a sub-bucket stamped by a dead slice counts as empty
  (nothing is ever cleared). An entry whose sub-bucket is full goes on to the next bucket and
  marks its home bucket, so lookups follow chains only where one exists. A slice that receives
  more than it was sized for opens an overflow table of its own, twice the size;
* its table count and article count, as fields of the meta hash.

The records and overflow tables of a slice expire at the same instant, one window after the
slice closes; the ring and the meta hash expire with the newest slice, so nothing is left
behind. A check reads each band's ring bucket (and any overflow tables), verifies candidates
against their records and, when nothing matches, inserts the article into the current slice,
all in one script. The worker computes the entry hashes and the script's text carries the
settings, so the script (which runs on Redis's one thread for every worker) does little more
than its reads and writes.

Exact copies need no lookup of their own: an identical text has an identical signature, so it
is always an LSH candidate, and the record's text hash tells exact from near. A redelivered
input finds its own record and is answered "new" again, so no per-input outcome is stored.
No Redis setting matters (no listpack limits are involved).
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import struct
from dataclasses import dataclass
from importlib import resources

import redis

from worker.dedup.decision import Thresholds
from worker.dedup.fastpath import FastScript
from worker.dedup.minhash import LEAD_PERM, Signature, scheme
from worker.errors import IncompatibleIndex
from worker.settings import DedupSettings
from worker.store.keys import Keys

_SCRIPT = resources.files("worker.dedup").joinpath("lua/check_and_insert.lua").read_text()
#: candidates verified per check at most; bounds the script's run time on pathological input
MAX_CANDIDATES = 64
#: longest article id stored in a record, in bytes (ids are 16 hex characters today)
MAX_ID_BYTES = 32
#: records per record-chunk string (256 x 309 bytes = 79 KB, allocated at once: growing a
#: string piecewise would over-allocate, as sds doubles strings under 1 MB)
RECORDS_PER_CHUNK = 256
#: fill of a slice's table at ``expected_articles``: linear probing in 8-slot buckets stays
#: about one GETRANGE per lookup up to ~0.7
TABLE_LOAD = 0.5
#: fill at which a slice opens another table (twice the size) instead of filling this one up
MAX_TABLE_FILL = 0.7
#: record layout version, part of the scheme
RECORD_LAYOUT = 5
_BUCKET_SLOTS = 8


@dataclass(frozen=True)
class DedupDecision:
    is_duplicate: bool
    canonical_id: str
    method: str  # exact | url | near | '' for new articles
    similarity: float


def record_bytes(num_perm: int) -> int:
    """Size of one stored article record: 4-byte shingle count, 8-byte text hash, 8-byte URL
    fingerprint, values, 1-byte id length, id."""
    return 4 + 8 + 8 + 2 * num_perm + 1 + MAX_ID_BYTES


def pack_record(doc_id: str, text_hash: str, sig: Signature, url_fp: bytes = b"") -> bytes:
    ident = doc_id.encode("utf-8")
    if not 0 < len(ident) <= MAX_ID_BYTES:
        raise ValueError(f"article ids must be 1 to {MAX_ID_BYTES} bytes, got {doc_id!r}")
    return b"".join((
        struct.pack(">I", min(sig.size, 0xFFFFFFFF)),
        bytes.fromhex(text_hash)[:8].ljust(8, b"\0"),
        url_fp.ljust(8, b"\0"),
        sig.values,
        bytes((len(ident),)),
        ident.ljust(MAX_ID_BYTES, b"\0"),
    ))


def url_fingerprint(canonical_url: str) -> bytes:
    return hashlib.blake2b(canonical_url.encode("utf-8"), digest_size=8).digest()


#: prime modulus of the entry hashes (the largest below 2^32, so a hash is 4 bytes)
_HASH_PRIME = 4294967291


def band_keys(sig: Signature, bands: int, rows: int, lead_bands: int) -> tuple[int, ...]:
    """The article's LSH keys: ``bands`` bands of ``rows`` 32-bit MinHash values each, then
    ``lead_bands`` values of the lead's MinHash (see minhash.py). A synthetic signature without
    keys (tests, benchmarks) reads its 16-bit values two at a time instead."""
    if sig.keys:
        src, lead_at = sig.keys, len(sig.keys) // 4 - LEAD_PERM
    else:
        src, lead_at = sig.values, bands * rows
    words = _u32s(len(src) // 4).unpack(src)
    if rows == 1:  # the default: a band is one value
        full = words[:bands]
    else:
        full = tuple(int.from_bytes(src[4 * rows * b : 4 * rows * (b + 1)], "big") for b in range(bands))
    return (*full, *words[lead_at : lead_at + lead_bands])


def entry_hashes(keys: tuple[int, ...], url_fp: bytes) -> bytes:
    """The index entries of an article, 4 bytes each (big-endian): one per LSH key, then one
    for the URL fingerprint when there is one. The first 2 bytes of an entry are its slot
    fingerprint, the whole its bucket. Computed here rather than in the script: every worker's
    script runs on the one Redis thread."""
    p = _HASH_PRIME
    n = len(keys)
    adds = _addends(n)
    out = [(w % p * 1000003 + add) % p for w, add in zip(keys, adds)]
    if url_fp:
        out.append((int.from_bytes(url_fp[:4], "big") % p * 1000003 + adds[n]) % p)
    return _u32s(len(out)).pack(*out)


@functools.cache
def _addends(n: int) -> tuple[int, ...]:
    """What entry e adds to its hash (e is the key's place; the URL's entry is number ``n``)."""
    return tuple(b * 40503 + 7 for b in range(n + 1))


@functools.cache
def _u32s(n: int) -> struct.Struct:
    return struct.Struct(f">{n}I")


def thresholds(settings: DedupSettings) -> Thresholds:
    """The reference rule's thresholds (decision.py) for these settings, as the script has them."""
    return Thresholds(jaccard=float(settings.jaccard_threshold), containment=float(settings.containment_threshold),
                      min_length_ratio=float(settings.min_length_ratio))


def _script_text(settings: DedupSettings, digest: str, scheme_json: str) -> str:
    """The check script with this configuration's constants in a header of Lua locals."""
    window_ms = settings.window_seconds * 1000
    constants = {
        "WINDOW": window_ms, "SLICE_MS": max(1, window_ms // settings.slices),
        "NEW_SLOTS": table_slots(settings), "MAX_FILL": MAX_TABLE_FILL,
        "JT": float(settings.jaccard_threshold), "CT": float(settings.containment_threshold),
        "MIN_RATIO": float(settings.min_length_ratio), "MAX_CAND": MAX_CANDIDATES,
        "PER_CHUNK": RECORDS_PER_CHUNK, "NUM_PERM": settings.num_perm,
    }
    if "]==]" in scheme_json or not all(math.isfinite(v) for v in constants.values()):
        raise ValueError(f"cannot write these dedup settings into the script: {constants} {scheme_json}")
    header = "".join(f"local {name} = {value!r}\n" for name, value in constants.items())
    header += f"local DIGEST, SCHEME = '{digest}', [==[{scheme_json}]==]\n"
    return header + _SCRIPT


def entries_per_article(settings: DedupSettings) -> int:
    """Slots an article takes: one per LSH key and one for its canonical URL."""
    return settings.bands + settings.lead_bands + 1


def table_slots(settings: DedupSettings) -> int:
    """Slots of a new slice's first table: its expected entries (bands + URL per article) at
    ``TABLE_LOAD``, in whole 8-slot buckets."""
    entries = settings.expected_articles / settings.slices * entries_per_article(settings)
    buckets = max(1, math.ceil(entries / TABLE_LOAD / _BUCKET_SLOTS))
    return buckets * _BUCKET_SLOTS


def index_scheme(settings: DedupSettings) -> dict[str, str]:
    """Everything that must match between stored state and this process: the MinHash scheme
    plus the layout (bands, rows, slice length, record format)."""
    return {
        **scheme(settings.num_perm, settings.shingle_size),
        "bands": str(settings.bands),
        "rows": str(settings.rows),
        "lead_bands": str(settings.lead_bands),
        "window_seconds": str(settings.window_seconds),
        "slices": str(settings.slices),
        "record_layout": f"{RECORD_LAYOUT}/{MAX_ID_BYTES}/{RECORDS_PER_CHUNK}/{_BUCKET_SLOTS}",
    }


class DedupIndex:
    """Check-and-insert against the shared index. Built once per process."""

    def __init__(self, client: redis.Redis, keys: Keys, settings: DedupSettings) -> None:
        if settings.bands * settings.rows + settings.lead_bands > settings.num_perm // 2:
            raise ValueError("bands x rows + lead_bands must not exceed num_perm / 2")
        if settings.lead_bands > LEAD_PERM:
            raise ValueError(f"lead_bands must not exceed {LEAD_PERM} (the lead signature's values)")
        self._client = client
        self._keys = keys
        self._settings = settings
        self._scheme = index_scheme(settings)
        self._scheme_json = json.dumps(self._scheme, sort_keys=True)
        self._digest = hashlib.blake2b(self._scheme_json.encode(), digest_size=8).hexdigest()
        # the settings are constants of the script's text (one script per configuration: Redis
        # runs every worker's scripts one at a time, so parsing 15 arguments a call adds up)
        self._script = client.register_script(_script_text(settings, self._digest, self._scheme_json))
        self._base = keys.dedup_base.encode()
        self._fast = FastScript(client, self._script, keys.dedup_meta, settings.spin_microseconds)

    def close(self) -> None:
        """Give this index's connections back to the client's pool."""
        self._fast.close()

    def ensure_scheme(self) -> None:
        """Fail early when the index under this prefix was built with another scheme (the
        script checks again on every call, so a later upgrade cannot slip through either)."""
        stored = self._client.hget(self._keys.dedup_meta, "scheme")
        if stored is not None and stored.decode() != self._scheme_json:
            self._raise_incompatible(stored.decode())

    def _raise_incompatible(self, stored_json: str) -> None:
        try:
            stored = json.loads(stored_json)
        except ValueError:
            stored = {}
        diff = {k: (stored.get(k), v) for k, v in self._scheme.items() if stored.get(k) != v}
        raise IncompatibleIndex(
            f"the dedup index under {self._keys.prefix!r} was built with another MinHash scheme or "
            f"layout {diff}; use a new --prefix or wait for the old index to expire"
        )

    def check_and_insert(
        self, doc_id: str, text_hash: str, sig: Signature, canonical_url: str | None,
        *, now_ms: int | None = None,
    ) -> DedupDecision:
        """Decide whether the article is a copy of an indexed one and, if not, index it.
        ``now_ms`` overrides the server clock (benchmarks replaying a month of arrivals)."""
        status, canon, method, sim = self._fast(self.script_args(doc_id, text_hash, sig, canonical_url, now_ms))
        if status == b"incompatible":
            self._raise_incompatible(self._client.hget(self._keys.dedup_meta, "scheme").decode())
        return DedupDecision(
            is_duplicate=status == b"dup",
            canonical_id=canon.decode(),
            method=method.decode(),
            similarity=float(sim),
        )

    def script_args(
        self, doc_id: str, text_hash: str, sig: Signature, canonical_url: str | None, now_ms: int | None = None,
    ) -> tuple[bytes, ...]:
        """The script's ARGV for one article (see lua/check_and_insert.lua)."""
        url_fp = url_fingerprint(canonical_url) if canonical_url else b""
        return (
            doc_id.encode(), pack_record(doc_id, text_hash, sig, url_fp), url_fp,
            b"" if now_ms is None else str(now_ms).encode(),
            entry_hashes(band_keys(sig, self._settings.bands, self._settings.rows, self._settings.lead_bands), url_fp),
            self._base,
        )
