"""The dedup rule as a pure function: the reference that lua/check_and_insert.lua implements.

The script runs this same rule on Redis's thread (it has to: the decision and the insert must be
one atomic step for two workers with copies of one article), so this module is what the rule
*is*, and tests/dedup/test_decision.py checks on random signatures that the script decides the
same. Candidates are the stored records that share an LSH key with the new article, in the order
the script meets them.

Precedence: **exact** (same normalised text hash) over **url** (same canonical URL fingerprint;
the candidate with the highest Jaccard estimate) over **near**. Near uses two estimates from the
stored 16-bit MinHash values: Jaccard J = share of equal values, and containment of the smaller
shingle set in the larger, C = J (|A| + |B|) / (1 + J) / min(|A|, |B|). A candidate is near when
J >= ``jaccard_threshold``, or when C >= ``containment_threshold`` and the smaller body is at
least ``min_length_ratio`` of the larger (a truncated wire copy has C near 1 while its J falls
with its length; a brief quoting a long feature is not its copy). The near candidate with the
highest similarity (the larger of the estimates that passed) wins; ties go to the first met.
A candidate that is the article itself (a redelivered input) answers "new" at once: it was new
the first time.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Thresholds:
    jaccard: float
    containment: float
    min_length_ratio: float


@dataclass(frozen=True)
class Record:
    """One stored article, as the script reads it back (see index.pack_record)."""

    doc_id: str
    size: int  # distinct shingles
    text_hash: bytes  # first 8 bytes of the normalised text's hash
    url_fp: bytes  # 8 bytes, or 8 zero bytes without a canonical URL
    values: bytes  # num_perm big-endian uint16

    @classmethod
    def unpack(cls, record: bytes, num_perm: int) -> Record:
        (size,) = struct.unpack_from(">I", record)
        id0 = 20 + 2 * num_perm
        return cls(
            doc_id=record[id0 + 1 : id0 + 1 + record[id0]].decode("utf-8"), size=size,
            text_hash=record[4:12], url_fp=record[12:20], values=record[20:id0],
        )


@dataclass(frozen=True)
class Decision:
    status: str  # new | dup
    canonical_id: str
    method: str  # exact | url | near | '' for new articles
    similarity: float


def estimates(a: Record, b: Record) -> tuple[float, float]:
    """(Jaccard, containment of the smaller set in the larger), in the script's arithmetic."""
    n = len(a.values) // 2
    same = sum(a.values[k : k + 2] == b.values[k : k + 2] for k in range(0, 2 * n, 2))
    j = same / n
    small = min(a.size, b.size)
    c = min(1.0, j * (a.size + b.size) / (1 + j) / max(1, small))
    return j, c


def decide(new: Record, candidates: Sequence[Record], t: Thresholds, *, has_url: bool) -> Decision:
    exact_id = url_id = best_id = None
    url_sim = best_sim = -1.0
    for other in candidates:
        if other.doc_id == new.doc_id:
            return Decision("new", new.doc_id, "", 0.0)
        j, c = estimates(new, other)
        if exact_id is None and other.text_hash == new.text_hash:
            exact_id = other.doc_id
        if has_url and other.url_fp == new.url_fp and j > url_sim:
            url_id, url_sim = other.doc_id, j
        small, large = min(new.size, other.size), max(new.size, other.size)
        sim = j if j >= t.jaccard else -1.0
        if small / max(1, large) >= t.min_length_ratio and c >= t.containment and c > sim:
            sim = c
        if sim > best_sim:
            best_id, best_sim = other.doc_id, sim
    if exact_id is not None:
        return Decision("dup", exact_id, "exact", 1.0)
    if url_id is not None:
        return Decision("dup", url_id, "url", float(f"{url_sim:.4f}"))
    if best_id is not None and best_sim >= 0:
        return Decision("dup", best_id, "near", float(f"{best_sim:.4f}"))
    return Decision("new", new.doc_id, "", 0.0)
