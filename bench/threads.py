"""Story clustering quality and cost of the thread stage, against a real Redis.

Feeds the AllSides story roundups (bench/data/allsides-stories: 1,479 articles of 506 stories,
each story reported by up to three outlets) in date order through ``ThreadState`` and prints
story-level pairwise and BCubed precision, recall and F1 against the story id, beside a plain
single-pass TF-IDF clustering baseline run on the same articles in the same order.

    .venv/bin/python bench/threads.py                 # quality (about 10 s)
    .venv/bin/python bench/threads.py --scale         # + ms/article with 1k and 10k threads

Each run uses a key prefix of its own and deletes its keys afterwards. Redis: $REDIS_URL, else
127.0.0.1:6379 db 15.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import statistics
import sys
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from worker.settings import ThreadSettings  # noqa: E402
from worker.store.keys import Keys  # noqa: E402
from worker.threads.state import ThreadState  # noqa: E402

DATA = Path(__file__).resolve().parent / "data" / "allsides-stories" / "stories.jsonl"


@dataclass(frozen=True)
class Article:
    article_id: str
    story_id: str
    title: str
    text: str
    when: float  # unix seconds: the story's date (AllSides dates stories, not articles)


def load(path: Path = DATA) -> list[Article]:
    """Every article with a title or body, in date order (stable: story order kept within a date)."""
    out = []
    for line in path.read_text().splitlines():
        story = json.loads(line)
        when = datetime.fromisoformat(story["date"]).timestamp()
        for side, a in sorted((story.get("news") or {}).items()):
            title = (a.get("newsTitle") or "").strip()
            text = "\n".join(p.strip() for p in a.get("newBody") or [] if p.strip())
            if title or text:
                out.append(Article(f"{story['id']}-{side}", str(story["id"]), title, text, when))
    out.sort(key=lambda a: a.when)
    return out


# -- metrics ----------------------------------------------------------------------------------

def _prf(p: float, r: float) -> tuple[float, float, float]:
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def pairwise(pred: dict[str, str], gold: dict[str, str]) -> tuple[float, float, float]:
    """Precision and recall over the pairs of articles put together (pred) or belonging together (gold)."""
    def pairs(labels: dict[str, str]) -> int:
        return sum(n * (n - 1) // 2 for n in Counter(labels.values()).values())
    both = Counter((pred[a], gold[a]) for a in gold)
    tp = sum(n * (n - 1) // 2 for n in both.values())
    pp, gp = pairs(pred), pairs(gold)
    return _prf(tp / pp if pp else 1.0, tp / gp if gp else 1.0)


def bcubed(pred: dict[str, str], gold: dict[str, str]) -> tuple[float, float, float]:
    """BCubed (Bagga and Baldwin 1998): per-article precision and recall of its cluster, averaged."""
    both = Counter((pred[a], gold[a]) for a in gold)
    pred_size, gold_size = Counter(pred[a] for a in gold), Counter(gold.values())
    p = sum(both[(pred[a], gold[a])] / pred_size[pred[a]] for a in gold) / len(gold)
    r = sum(both[(pred[a], gold[a])] / gold_size[gold[a]] for a in gold) / len(gold)
    return _prf(p, r)


# -- baseline ---------------------------------------------------------------------------------

_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)


#: clusters the baseline compares with: those active in the last 3 days (a story lasts days);
#: without any window its best BCubed F1 on this set is 0.725
BASELINE_WINDOW_SECONDS = 3 * 86400


def baseline(articles: list[Article], threshold: float) -> dict[str, str]:
    """Plain single-pass TF-IDF clustering: IDF from the articles seen so far, each article joins
    the cluster (active within the window) whose centroid is most cosine-similar if that reaches
    ``threshold``, else starts one. No decay, stems, names or title weighting. Dot products go
    through an inverted index of centroid terms, which only speeds the same sums up."""
    df: Counter[str] = Counter()
    n = 0
    sums: list[Counter[str]] = []  # per cluster: sum of member vectors
    norms: list[float] = []
    last: list[float] = []
    postings: dict[str, set[int]] = defaultdict(set)
    pred = {}
    for a in articles:
        tf = Counter(w.lower() for w in _WORD.findall(f"{a.title}\n{a.text}"))
        vec = {t: (1 + math.log(c)) * math.log((n + 1) / (df[t] + 1) + 1) for t, c in tf.items()}
        norm = math.sqrt(sum(w * w for w in vec.values())) or 1.0
        vec = {t: w / norm for t, w in vec.items()}
        dots: Counter[int] = Counter()
        for t, w in vec.items():
            for c in postings.get(t, ()):
                if a.when - last[c] <= BASELINE_WINDOW_SECONDS:
                    dots[c] += w * sums[c][t]
        best, best_sim = None, 0.0
        for c, d in dots.items():
            if d / norms[c] > best_sim:
                best, best_sim = c, d / norms[c]
        if best is None or best_sim < threshold:
            best = len(sums)
            sums.append(Counter())
            norms.append(1.0)
            last.append(a.when)
        sums[best].update(vec)
        norms[best] = math.sqrt(sum(x * x for x in sums[best].values()))
        last[best] = max(last[best], a.when)
        for t in vec:
            postings[t].add(best)
        pred[a.article_id] = f"b{best}"
        df.update(tf.keys())
        n += 1
    return pred


# -- Storyline --------------------------------------------------------------------------------

def _client() -> redis.Redis:
    return redis.Redis.from_url(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15"))


def _clean(client: redis.Redis, prefix: str) -> None:
    for key in client.scan_iter(f"{prefix}:*", count=1000):
        client.delete(key)


def storyline(articles: list[Article], settings: ThreadSettings) -> tuple[dict[str, str], dict[str, str], list[float]]:
    """Story and thread ids per article from ThreadState, and the milliseconds each assign took."""
    client, prefix = _client(), f"bench-threads-{uuid.uuid4().hex[:8]}"
    state = ThreadState(client, Keys(prefix), settings)
    stories, threads, ms = {}, {}, []
    try:
        for a in articles:
            start = time.perf_counter()
            got = state.assign(a.article_id, a.title, a.text, "en", a.when)
            ms.append((time.perf_counter() - start) * 1000.0)
            stories[a.article_id], threads[a.article_id] = got.story.cluster_id, got.thread.cluster_id
    finally:
        _clean(client, prefix)
    return stories, threads, ms


def _row(name: str, pred: dict[str, str], gold: dict[str, str]) -> str:
    pw, b3 = pairwise(pred, gold), bcubed(pred, gold)
    return (f"{name:<28} {len(set(pred.values())):>8} " + " ".join(f"{x:6.3f}" for x in pw)
            + "   " + " ".join(f"{x:6.3f}" for x in b3))


def quality(articles: list[Article], settings: ThreadSettings) -> None:
    gold = {a.article_id: a.story_id for a in articles}
    print(f"{len(articles)} articles, {len(set(gold.values()))} stories, in date order\n")
    print(f"{'system':<28} {'clusters':>8} {'pw-P':>6} {'pw-R':>6} {'pw-F1':>6}   {'B3-P':>6} {'B3-R':>6} {'B3-F1':>6}")
    # the baseline at its best threshold on this very set (an oracle choice, to be fair to it)
    runs = {t: baseline(articles, t) for t in (0.15, 0.2, 0.25, 0.3, 0.35)}
    best_t = max(runs, key=lambda t: bcubed(runs[t], gold)[2])
    print(_row(f"baseline TF-IDF (t={best_t})", runs[best_t], gold))
    stories, threads, ms = storyline(articles, settings)
    print(_row("Storyline story level", stories, gold))
    print(f"\nStoryline threads: {len(set(threads.values()))} for {len(articles)} articles "
          f"(stories per thread, median: {statistics.median(_stories_per_thread(threads, gold)):.0f})")
    print(f"cost per article: {statistics.mean(ms):.2f} ms mean, {statistics.median(ms):.2f} ms median, "
          f"{sorted(ms)[int(len(ms) * 0.95)]:.2f} ms p95 (assign, Redis round trips included)")


def _stories_per_thread(threads: dict[str, str], gold: dict[str, str]) -> list[int]:
    per: dict[str, set[str]] = defaultdict(set)
    for a, t in threads.items():
        per[t].add(gold[a])
    return [len(s) for s in per.values()]


# -- scale ------------------------------------------------------------------------------------

def scale(articles: list[Article], settings: ThreadSettings, sizes: tuple[int, ...], probe: int) -> None:
    """ms/article for ``probe`` real articles assigned after ``n`` synthetic threads (and as many
    stories) exist, built from the corpus's own vocabulary so the inverted index is full of the
    terms the real articles look up."""
    from worker.threads.cluster import features

    vocab: Counter[str] = Counter()
    for a in articles:
        vocab.update(features(a.title, a.text, "en").counts.keys())
    words, freqs = zip(*vocab.most_common(8000))
    rng = random.Random(5)
    print(f"\n{'existing threads':>16} {'ms/article mean':>16} {'median':>8} {'p95':>8}  ({probe} articles assigned)")
    for n in sizes:
        client, prefix = _client(), f"bench-threads-{uuid.uuid4().hex[:8]}"
        state = ThreadState(client, Keys(prefix), settings)
        try:
            # synthetic clusters of 25 features drawn by corpus frequency, active in the 30 days
            # before the first article, so every lookup term has a full posting list
            t0 = articles[0].when - 86400.0
            for level in ("story", "thread"):
                state.seed_clusters(level, (
                    (f"syn{i}", _unit(rng.choices(words, freqs, k=25)), t0 - rng.random() * 30 * 86400)
                    for i in range(n)
                ))
            ms = []
            for a in articles[:probe]:
                start = time.perf_counter()
                state.assign(a.article_id, a.title, a.text, "en", a.when)
                ms.append((time.perf_counter() - start) * 1000.0)
            print(f"{n:>16,} {statistics.mean(ms):>16.2f} {statistics.median(ms):>8.2f} "
                  f"{sorted(ms)[int(len(ms) * 0.95)]:>8.2f}")
        finally:
            _clean(client, prefix)


def _unit(terms: list[str]) -> dict[str, float]:
    counts = Counter(terms)
    norm = math.sqrt(sum(c * c for c in counts.values()))
    return {t: c / norm for t, c in counts.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", action="store_true", help="also time assignment with 1k and 10k existing threads")
    ap.add_argument("--probe", type=int, default=300, help="articles timed per scale point")
    ap.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                    help="override a ThreadSettings field, e.g. --set story_threshold=0.3")
    args = ap.parse_args()
    settings = ThreadSettings(**dict(s.split("=", 1) for s in args.set))
    articles = load()
    quality(articles, settings)
    if args.scale:
        scale(articles, settings, (1_000, 10_000), args.probe)


if __name__ == "__main__":
    main()
