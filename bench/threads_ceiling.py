"""How far text alone can go: the ceiling of the story decision's representation on the quality
sets, measured with every advantage an online clusterer does not have.

Issue 17 asks for AllSides BCubed F1 >= 0.90 replayed undated and, per SemEval language, >= 70% of
same-event pairs in one story with <= 5% of different-event pairs. Both are judged on text alone
(no date). This bench measures what the features Storyline decides on (``features`` and
``vectorise`` of worker/threads/cluster.py: stems, names, compounds, bigrams for unspaced
scripts, TF-IDF) can reach at best:

* **AllSides undated**: IDF from the whole set at once (an online stream only has the past), then
  (1) how often an article's most similar earlier article is one of its story-mates, for the
  articles that have an earlier mate; (2) offline agglomerative clustering of all 1,479 articles
  (average, complete and single link; scipy) at the distance threshold that is best *on this very
  set* (an oracle choice), BCubed F1 against the stories.
* **SemEval pairs** (rated 1 = same event, rated 4 = different events): the pair's cosine as the
  online decision sees it (IDF from the wordfreq prior and the first text's counts), and per
  language the share of same-event pairs above the bar that keeps different-event pairs at 5%,
  the bar chosen per language on the pairs themselves (an oracle, and one a deployment could not
  have: it does not know the language's pairs in advance); and at the best single bar for all.

    .venv/bin/python bench/threads_ceiling.py
    .venv/bin/python bench/threads_ceiling.py --truncate 5   # every stemmer replaced by 5-character truncation

No Redis: the vectors are computed in process. Output: bench/threads_ceiling.out.txt.
"""

from __future__ import annotations

import sys
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.sparse import csr_matrix

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.threads import bcubed, load, undated  # noqa: E402
from bench.threads_sweep import LANGUAGES, pairs  # noqa: E402
from worker.settings import ThreadSettings  # noqa: E402
from worker.threads.cluster import cosine, features, lead, vectorise  # noqa: E402


def _matrix(vectors: list[dict[str, float]]) -> np.ndarray:
    """Cosine similarities of L2-normalised sparse vectors, all pairs."""
    vocab: dict[str, int] = {}
    rows, cols, vals = [], [], []
    for i, v in enumerate(vectors):
        for f, w in v.items():
            rows.append(i)
            cols.append(vocab.setdefault(f, len(vocab)))
            vals.append(w)
    x = csr_matrix((vals, (rows, cols)), shape=(len(vectors), len(vocab)))
    return np.asarray((x @ x.T).todense())


def mate_hits(arts: list, sim: np.ndarray) -> tuple[int, int]:
    """Of the articles with an earlier story-mate, how many have one as their most similar
    earlier article (by ``sim``), and how many there are."""
    hits = total = 0
    for i in range(1, len(arts)):
        if not any(arts[j].story_id == arts[i].story_id for j in range(i)):
            continue
        total += 1
        hits += arts[int(np.argmax(sim[i, :i]))].story_id == arts[i].story_id
    return hits, total


def allsides(top_k: int) -> None:
    arts = undated(load())
    gold = {a.article_id: a.story_id for a in arts}
    feats = [features(a.title, lead(a.text), a.language) for a in arts]
    df: Counter[str] = Counter()
    for f in feats:
        df.update(f.counts.keys())
    vecs = [vectorise(f, df, len(arts), a.language, top_k) for f, a in zip(feats, arts)]
    sim = _matrix(vecs)
    print(f"AllSides undated ({len(arts)} articles, {len(set(gold.values()))} stories), IDF from the whole set:")
    hits, total = mate_hits(arts, sim)
    print(f"  most similar earlier article is a story-mate: {hits} of {total} ({100 * hits / total:.1f}%)")
    dist = np.clip(1.0 - sim, 0.0, None)
    condensed = dist[np.triu_indices(len(arts), 1)]
    for method in ("average", "complete", "single"):
        tree = linkage(condensed, method)
        best = max(
            (bcubed({a.article_id: str(c) for a, c in zip(arts, fcluster(tree, t, "distance"))}, gold)[2], t)
            for t in np.arange(0.30, 0.97, 0.02)
        )
        print(f"  offline {method}-link clustering at its best threshold on this set (distance {best[1]:.2f}): "
              f"BCubed F1 {best[0]:.3f}")


def semeval(top_k: int) -> None:
    cos: dict[tuple[str, int], list[float]] = defaultdict(list)
    for lang, rating, a, b in pairs(None):
        fa, fb = features(a.title, lead(a.text), a.language), features(b.title, lead(b.text), b.language)
        va = vectorise(fa, {}, 0.0, a.language, top_k)
        # the second text sees the first one's counts, as in a stream of the two (bench/threads.py)
        vb = vectorise(fb, Counter(fa.counts.keys()), 1.0, b.language, top_k)
        cos[(lang, rating)].append(cosine(va, vb))
    print("\nSemEval pairs, cosine of the two texts as the online decision sees it; share of same-event pairs")
    print("above the bar that keeps different-event pairs at <= 5%:")
    print(f"{'language':<9} {'same':>5} {'diff':>5} {'oracle bar':>10} {'same-event share':>17}")
    bars = {}
    for lang in LANGUAGES:
        same, diff = cos[(lang, 1)], sorted(cos[(lang, 4)], reverse=True)
        bar = diff[int(0.05 * len(diff))]  # at most 5% of different-event pairs lie above it
        bars[lang] = bar
        print(f"{lang:<9} {len(same):>5} {len(diff):>5} {bar:>10.3f} {100 * sum(s > bar for s in same) / len(same):>16.0f}%")
    single = max(bars.values())
    print(f"one bar for every language (the highest of those, {single:.3f}): " + ", ".join(
        f"{lang} {100 * sum(s > single for s in cos[(lang, 1)]) / len(cos[(lang, 1)]):.0f}%" for lang in LANGUAGES))


def main() -> None:
    import argparse

    import worker.threads.cluster as cluster

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--truncate", type=int, default=0,
                    help="cut every word to N characters instead of stemming it (truncation stemming), in every language")
    args = ap.parse_args()
    if args.truncate:
        cluster._STEMMERS.clear()
        cluster._TRUNCATE = args.truncate
        print(f"(every stemmer replaced by {args.truncate}-character truncation)")
    top_k = ThreadSettings().centroid_terms
    allsides(top_k)
    semeval(top_k)


if __name__ == "__main__":
    main()
