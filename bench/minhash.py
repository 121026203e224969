"""MinHash libraries for the dedup signature, on the same shingles in one run: speed per
article and the error of the estimated Jaccard on truncated copies.

    .venv/bin/python bench/minhash.py          # about 1 minute; datasketch comes with the bench extra

Compared: rensa's ``RMinHash`` (what worker/dedup/minhash.py uses), datasketch's ``MinHash``
(affine32, what it used before), and datasketch's own values computed with numpy in one pass
(SHA-1 digests joined into one buffer, the permutations as one array operation; checked equal
to datasketch's on every text), the "vectorised hash" option of issue 21. Texts: SemEval-2022's
English texts (``bench/data/semeval2022-task8``), alone and five joined (a long article).

Speed: fastest of 3 passes, the 128-value signature only (the lead's 8-value one is small).
Error: over the texts of 50 shingles or more, a copy made of the first 90 / 60 / 50 / 30% of a
text's shingles has true Jaccard 0.9 / 0.6 / 0.5 / 0.3 with it; the estimate is the share of
equal 16-bit values, as the index stores and compares them. Then the 99.99% quantile of the
estimate, and how many estimates reach 0.2, over 20,000 random pairs of texts whose true
Jaccard is under 0.05 (SemEval holds some texts twice: those pairs are left out).
"""

from __future__ import annotations

import csv
import hashlib
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from worker.dedup.minhash import normalise, shingles  # noqa: E402

NUM_PERM = 128


def texts() -> list[str]:
    with (ROOT / "bench" / "data" / "semeval2022-task8" / "pairs.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    return [r["text1"] for r in rows] + [r["text2"] for r in rows]


def libraries():
    import rensa
    from datasketch import MinHash
    from datasketch import minhash as dm

    template = MinHash(num_perm=NUM_PERM, seed=1, scheme="affine32")
    a, b = template.permutations
    s1, m1, s2, m2, s3 = dm._FMIX_CONSTANTS[32]

    def with_datasketch(items: list[str]) -> np.ndarray:
        m = MinHash(num_perm=NUM_PERM, seed=1, permutations=template.permutations, scheme="affine32")
        m.update_batch([i.encode() for i in items])
        return np.asarray(m.hashvalues, dtype=np.uint32)

    def with_numpy(items: list[str]) -> np.ndarray:
        sha1 = hashlib.sha1
        buf = b"".join([sha1(i.encode()).digest() for i in items])
        hv = np.frombuffer(buf, dtype="<u4")[::5].astype(np.uint32).reshape(-1, 1)
        hv = hv ^ (hv >> s1)
        hv = hv * np.uint32(m1)
        hv = hv ^ (hv >> s2)
        hv = hv * np.uint32(m2)
        hv = hv ^ (hv >> s3)
        return np.asarray((hv * a + b).min(axis=0), dtype=np.uint32)

    def with_rensa(items: list[str]) -> np.ndarray:
        m = rensa.RMinHash(NUM_PERM, 1)
        m.update(items)
        return np.array(m.digest(), dtype=np.uint32)

    return {"rensa RMinHash": with_rensa, "datasketch MinHash": with_datasketch,
            "datasketch's values with numpy": with_numpy}


def main() -> None:
    raw = texts()
    short = [list(shingles(normalise(t), 5)) for t in raw]
    long = [list(shingles(normalise(" ".join(raw[i:i + 5])), 5)) for i in range(0, len(raw) - 5, 5)]
    libs = libraries()
    for items in short[:100]:
        assert np.array_equal(libs["datasketch MinHash"](items), libs["datasketch's values with numpy"](items))
    print(f"ms per signature ({NUM_PERM} values), fastest of 3 passes:")
    print(f"{'library':<32} {'short (' + str(round(np.mean([len(s) for s in short]))) + ' shingles)':>22} "
          f"{'long (' + str(round(np.mean([len(s) for s in long]))) + ' shingles)':>22}")
    for name, f in libs.items():
        times = []
        for group in (short, long):
            best = float("inf")
            for _ in range(3):
                t0 = time.perf_counter()
                for items in group:
                    f(items)
                best = min(best, time.perf_counter() - t0)
            times.append(best / len(group) * 1000)
        print(f"{name:<32} {times[0]:>22.3f} {times[1]:>22.3f}")

    sets = [s for s in short if len(s) >= 50]
    print(f"\nestimated Jaccard (16-bit values) of a copy made of a text's first shingles, {len(sets)} texts: bias / RMSE")
    print(f"{'library':<32} " + " ".join(f"{f'{p:.0%} copy':>16}" for p in (0.9, 0.6, 0.5, 0.3))
          + f" {'distinct: q99.9':>10} {'>= 0.2':>8}")
    rng = np.random.default_rng(1)
    pairs = [(int(i), int(j)) for i, j in rng.integers(0, len(sets), size=(20_000, 2)) if i != j]
    as_sets = [set(x) for x in sets]
    true_j = {(i, j): len(as_sets[i] & as_sets[j]) / len(as_sets[i] | as_sets[j]) for i, j in pairs}
    for name, f in libs.items():
        if name.endswith("numpy"):
            continue  # the same values as datasketch's
        full = [f(s) & 0xFFFF for s in sets]
        cells = []
        for frac in (0.9, 0.6, 0.5, 0.3):
            err = []
            for s, sig in zip(sets, full):
                k = int(len(s) * frac)
                err.append(float(np.mean(sig == (f(s[:k]) & 0xFFFF))) - k / len(s))
            cells.append(f"{np.mean(err):+.4f} / {np.sqrt(np.mean(np.square(err))):.4f}")
        # pairs of different texts: the estimate's tail where the true Jaccard is under 0.05
        distinct = [float(np.mean(full[i] == full[j])) for i, j in pairs if true_j[(i, j)] < 0.05]
        print(f"{name:<32} " + " ".join(f"{c:>16}" for c in cells)
              + f" {np.quantile(distinct, 0.999):>10.4f} {sum(d >= 0.2 for d in distinct):>8} of {len(distinct):,}")


if __name__ == "__main__":
    main()
