"""Text normalisation, word shingles and MinHash signatures (pure functions).

Signatures come from datasketch's MinHash (SHA-1-derived 32-bit hashes, universal-hash
permutations drawn from a fixed seed). Only the low 16 bits of each value are kept
(b-bit MinHash): two unequal values then collide with probability 1/65,536, a negligible bias,
and a 128-value signature fits in 256 bytes of Redis.
"""

from __future__ import annotations

import hashlib
import re
import struct
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from importlib.metadata import version

import numpy as np
from datasketch import MinHash

#: bump when anything below changes the signature of a given text
SCHEME_VERSION = 1
_SEED = 1
_BITS = 16
#: datasketch's permutation scheme; stored with the index so an upgrade cannot mix schemes
_SCHEME = "affine32"

_QUOTES = str.maketrans({
    "‘": "'", "’": "'", "‚": "'", "‛": "'", "′": "'", "`": "'", "´": "'",
    "“": '"', "”": '"', "„": '"', "‟": '"', "″": '"', "«": '"', "»": '"',
    "–": "-", "—": "-", "‒": "-", "―": "-", "−": "-", "…": "...",
})
_NON_WORD = re.compile(r"[^\w\s]+")
_SPACE = re.compile(r"\s+")


def normalise(text: str) -> str:
    """Lower-case, NFKC, straight quotes, punctuation dropped, whitespace folded: two copies
    that differ only in typography normalise to the same string."""
    text = unicodedata.normalize("NFKC", text).translate(_QUOTES).lower()
    text = _NON_WORD.sub(" ", text.replace("'", ""))
    return _SPACE.sub(" ", text).strip()


def text_hash(normalised: str) -> str:
    """Hash of a normalised text, for exact-copy detection."""
    return hashlib.blake2b(normalised.encode("utf-8"), digest_size=12).hexdigest()


def shingles(normalised: str, size: int) -> set[bytes]:
    """Word n-grams of a normalised text (a text shorter than ``size`` words is one shingle)."""
    words = normalised.split()
    if len(words) <= size:
        return {" ".join(words).encode("utf-8")}
    return {" ".join(words[i : i + size]).encode("utf-8") for i in range(len(words) - size + 1)}


@lru_cache(maxsize=4)
def _template(num_perm: int) -> MinHash:
    """A MinHash whose permutations are drawn once per process (drawing them costs ~1 ms)."""
    return MinHash(num_perm=num_perm, seed=_SEED, scheme=_SCHEME)


@dataclass(frozen=True)
class Signature:
    values: bytes  # num_perm big-endian uint16
    size: int  # number of distinct shingles

    def packed(self) -> bytes:
        """Stored form: 4-byte shingle count, then the values."""
        return struct.pack(">I", self.size) + self.values


def signature(shingle_set: set[bytes], num_perm: int) -> Signature:
    template = _template(num_perm)
    m = MinHash(num_perm=num_perm, seed=_SEED, permutations=template.permutations, scheme=_SCHEME)
    m.update_batch(list(shingle_set))
    low = (m.hashvalues & ((1 << _BITS) - 1)).astype(">u2")
    return Signature(values=low.tobytes(), size=len(shingle_set))


def estimate(a: Signature, b: Signature) -> tuple[float, float]:
    """(Jaccard resemblance, containment of the smaller set in the larger), estimated.
    The same arithmetic runs inside the Redis script; this copy serves tests and benchmarks."""
    va = np.frombuffer(a.values, dtype=">u2")
    vb = np.frombuffer(b.values, dtype=">u2")
    jaccard = float(np.mean(va == vb))
    inter = jaccard * (a.size + b.size) / (1.0 + jaccard)
    return jaccard, min(1.0, inter / max(1, min(a.size, b.size)))


def scheme(num_perm: int, shingle_size: int) -> dict[str, str]:
    """What must match between stored signatures and new ones; stored beside the index."""
    return {
        "library": "datasketch",
        "library_version": _datasketch_version(),
        "hash": "sha1_32",
        "permutations": f"{_SCHEME}-seed{_SEED}",
        "num_perm": str(num_perm),
        "bits": str(_BITS),
        "shingle_words": str(shingle_size),
        "scheme_version": str(SCHEME_VERSION),
    }


def _datasketch_version() -> str:
    return version("datasketch")
