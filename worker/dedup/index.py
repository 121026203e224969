"""The dedup index in Redis, shared by every worker: exact, URL and MinHash-LSH lookups,
decided and written atomically by one Lua script (``lua/check_and_insert.lua``)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources

import redis

from worker.dedup.minhash import Signature, band_hashes, scheme
from worker.errors import PermanentError
from worker.settings import DedupSettings
from worker.store.keys import Keys

_SCRIPT = resources.files("worker.dedup").joinpath("lua/check_and_insert.lua").read_text()
#: candidates verified per check at most; bounds the script's run time on pathological input
_MAX_CANDIDATES = 64


class IncompatibleIndex(PermanentError):
    code = "incompatible_index"


@dataclass(frozen=True)
class DedupDecision:
    is_duplicate: bool
    canonical_id: str
    method: str  # exact | url | near | '' for new articles
    similarity: float


class DedupIndex:
    """Check-and-insert against the shared index. Built once per process."""

    def __init__(self, client: redis.Redis, keys: Keys, settings: DedupSettings) -> None:
        self._client = client
        self._keys = keys
        self._settings = settings
        self._script = client.register_script(_SCRIPT)
        self._checked_scheme = False

    def ensure_scheme(self) -> None:
        """Refuse to mix signatures made by another library version or permutation scheme."""
        wanted = scheme(self._settings.num_perm, self._settings.shingle_size)
        meta_key = self._keys.dedup_meta
        self._client.hsetnx(meta_key, "created_by", "storyline")
        stored = {k.decode(): v.decode() for k, v in self._client.hgetall(meta_key).items()}
        if "num_perm" not in stored:
            self._client.hset(meta_key, mapping=wanted)
        else:
            diff = {k: (stored.get(k), v) for k, v in wanted.items() if stored.get(k) != v}
            if diff:
                raise IncompatibleIndex(
                    f"the dedup index under {self._keys.prefix!r} was built with another MinHash scheme {diff}; "
                    "use a new --prefix or delete the old index keys"
                )
        self._checked_scheme = True

    def check_and_insert(
        self, doc_id: str, text_hash: str, sig: Signature, canonical_url: str | None
    ) -> DedupDecision:
        if not self._checked_scheme:
            self.ensure_scheme()
        s, k = self._settings, self._keys
        url_key = k.dedup_url(hashlib.blake2b(canonical_url.encode(), digest_size=12).hexdigest()) if canonical_url else ""
        band_keys = [k.dedup_band(i, h) for i, h in enumerate(band_hashes(sig, s.bands, s.rows))]
        status, canon, method, sim = self._script(
            keys=[k.dedup_outcome(doc_id), k.dedup_exact(text_hash), url_key, k.dedup_signature(doc_id), *band_keys],
            args=[
                doc_id, sig.packed(), s.window_seconds, s.jaccard_threshold, s.containment_threshold,
                s.min_length_ratio, k.dedup_signature(""), _MAX_CANDIDATES,
            ],
        )
        return DedupDecision(
            is_duplicate=status == b"dup",
            canonical_id=canon.decode(),
            method=method.decode(),
            similarity=float(sim),
        )
