"""Text normalisation, shingles by script and MinHash signatures (pure functions).

Shingles are n-grams of the units of worker/words.py: words in scripts written with spaces
(``shingle_size`` words, 5 by default), characters in scripts written without them (CJK, Thai,
...: ``UNSPACED_SHINGLE`` characters), decided at each shingle's first unit; the odd Latin name
in a Japanese text is one unit, as its readers count it. Splitting on spaces gave a Japanese
article a handful of "words", so two different CJK articles could share most of their shingles
and a copy none.

Signatures come from rensa's RMinHash (Rust: 32-bit values over a fixed seed), 50x faster than
datasketch's MinHash on an 800-shingle article (0.013 against 0.650 ms; a numpy rewrite of
datasketch's own scheme, the same values, 0.453 ms: bench/minhash.py), with the same recall and no distinct pair
merged (README "Deduplication", session 25). Only the low 16 bits of each value are stored (b-bit
MinHash): two unequal values then collide with probability 1/65,536, a negligible bias, and a
128-value signature fits in 256 bytes of Redis. The LSH keys are whole 32-bit values, which are
not stored: one value a band finds a pair with probability J instead of J^2 for two 16-bit
values, and 32 bits keep unrelated articles apart as well as two 16-bit values did. Beside
them, a few keys of a second, small MinHash over the body's first ``LEAD_SHINGLES`` shingles
(the lead): a wire copy cut to half keeps its lead, so those keys find it whatever its length.
"""

from __future__ import annotations

import hashlib
import struct
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from importlib.metadata import version

import numpy as np
from rensa import RMinHash

from worker.words import _MAYBE_UNSPACED, _UNSPACED_CHAR, units

#: bump when anything below changes the signature of a given text (2: units of words.py,
#: character n-grams for unspaced scripts, 32-bit keys, the lead signature; 3: rensa's
#: RMinHash instead of datasketch's MinHash)
SCHEME_VERSION = 3
_SEED = 1
_BITS = 16
#: the MinHash library; stored with the index (and its version) so an upgrade cannot mix schemes
_LIBRARY = "rensa"
#: characters per shingle in unspaced scripts. A Chinese word is 1.5-2 characters on average,
#: so 4 characters span about as much text as a few words do (chosen with bench/dedup.py --recall)
UNSPACED_SHINGLE = 4
#: shingles of the lead, and MinHash values taken over them (the lead keys)
LEAD_SHINGLES = 40
LEAD_PERM = 8
_LEAD_SEED = 2

_QUOTES = str.maketrans({
    "‘": "'", "’": "'", "‚": "'", "‛": "'", "′": "'", "`": "'", "´": "'",
    "“": '"', "”": '"', "„": '"', "‟": '"', "″": '"', "«": '"', "»": '"',
    "–": "-", "—": "-", "‒": "-", "―": "-", "−": "-", "…": "...",
})


def normalise(text: str) -> str:
    """NFKC, lower case, straight quotes, apostrophes dropped, then the units of words.py
    joined by single spaces (punctuation and white space go): two copies that differ only in
    typography normalise to the same string."""
    text = unicodedata.normalize("NFKC", text).translate(_QUOTES).lower().replace("'", "")
    return " ".join(units(text))


def text_hash(normalised: str) -> str:
    """Hash of a normalised text, for exact-copy detection."""
    return hashlib.blake2b(normalised.encode("utf-8"), digest_size=12).hexdigest()


def shingles(normalised: str, size: int) -> dict[str, None]:
    """n-grams of a normalised text's units, in the order of their first occurrence (a dict
    used as an ordered set: the lead signature takes the first ones). A shingle starting at a
    word of a spaced script is ``size`` units long, one starting at a character of an unspaced
    script ``UNSPACED_SHINGLE`` long. Decided shingle by shingle rather than once per text, so
    that a truncated copy (or a dateline in another script) cannot switch the whole text to the
    other scheme. A text shorter than one shingle is one shingle. (str, not bytes: rensa hashes
    a str as its UTF-8 bytes, so encoding each shingle first only cost time.)"""
    words = normalised.split()
    count = len(words)
    if count <= size:
        return {" ".join(words): None}
    if not _MAYBE_UNSPACED.search(normalised):
        # no character of an unspaced script at all (a C scan): every shingle is ``size``
        # words, made by zip in C instead of deciding word by word (3-5x faster, the same shingles)
        return dict.fromkeys(map(" ".join, zip(*(words[k:] for k in range(size)))))
    return _by_unit(words, size)


def _by_unit(words: list[str], size: int) -> dict[str, None]:
    """``shingles`` deciding each shingle's length at its first unit (more than ``size`` words)."""
    count = len(words)
    out: dict[str, None] = {}
    for i, w in enumerate(words):
        n = UNSPACED_SHINGLE if _is_unspaced_unit(w) else size
        if i + n > count:
            if i + min(n, size, UNSPACED_SHINGLE) > count:
                break
            continue
        out[" ".join(words[i : i + n])] = None
    return out


def _is_unspaced_unit(unit: str) -> bool:
    # every script below U+0E00 (Latin, Greek, Cyrillic, Hebrew, Arabic, the Indic scripts) is
    # spaced; above it, words.py's own test
    return ord(unit[0]) >= 0x0E00 and _UNSPACED_CHAR.match(unit) is not None


def _minhash(items: list[str], num_perm: int, seed: int) -> np.ndarray:
    m = RMinHash(num_perm, seed)
    m.update(items)
    return np.array(m.digest(), dtype=np.uint32)


@dataclass(frozen=True)
class Signature:
    values: bytes  # num_perm big-endian uint16: what is stored and compared
    size: int  # number of distinct shingles
    #: LSH keys, big-endian uint32: the full signature's 32-bit values, then LEAD_PERM values
    #: of the lead's MinHash. Not stored. Empty for synthetic signatures (tests, benchmarks):
    #: the index then takes each key from two of ``values`` (see index.band_keys).
    keys: bytes = b""

    def packed(self) -> bytes:
        """Stored form: 4-byte shingle count, then the values."""
        return struct.pack(">I", self.size) + self.values


def signature(shingle_set: Iterable[str], num_perm: int) -> Signature:
    items = list(shingle_set)
    full = _minhash(items, num_perm, _SEED)
    lead = _minhash(items[:LEAD_SHINGLES], LEAD_PERM, _LEAD_SEED)
    low = (full & ((1 << _BITS) - 1)).astype(">u2")
    keys = np.concatenate((full, lead)).astype(">u4")
    return Signature(values=low.tobytes(), size=len(items), keys=keys.tobytes())


def estimate(a: Signature, b: Signature) -> tuple[float, float]:
    """(Jaccard resemblance, containment of the smaller set in the larger), estimated the way
    the script does (worker/dedup/decision.py holds the rule that uses them)."""
    va = np.frombuffer(a.values, dtype=">u2")
    vb = np.frombuffer(b.values, dtype=">u2")
    jaccard = float(np.mean(va == vb))
    inter = jaccard * (a.size + b.size) / (1.0 + jaccard)
    return jaccard, min(1.0, inter / max(1, min(a.size, b.size)))


def scheme(num_perm: int, shingle_size: int) -> dict[str, str]:
    """What must match between stored signatures and new ones; stored beside the index."""
    return {
        "library": _LIBRARY,
        "library_version": version(_LIBRARY),
        "hash": "rensa-rminhash",
        "permutations": f"seed{_SEED}",
        "num_perm": str(num_perm),
        "bits": str(_BITS),
        "shingle_words": str(shingle_size),
        "shingle_unspaced_chars": str(UNSPACED_SHINGLE),
        "units": "worker.words",
        "lead": f"{LEAD_SHINGLES}x{LEAD_PERM}-seed{_LEAD_SEED}",
        "scheme_version": str(SCHEME_VERSION),
    }
