"""Story clustering quality and cost of the thread stage, against a real Redis, in one run.

Quality, beside a plain single-pass TF-IDF clustering baseline on the same input:

* AllSides story roundups (bench/data/allsides-stories: 1,479 articles of 506 stories), in date
  order: **dated** (each article carries its story's date); **multi-day** (the same, each
  article moved 0-3 days later at random, as outlets cover one event over days: a feed built
  from the development set to test that one event is not split); **undated** (the same
  articles as text files "title, blank line, body", through the extract stage as `storyline
  replay` handles a .txt file, dated by their ingestion time only); **title and lead only,
  undated** (the same, each body cut to its first paragraph: a feed of teasers); **two
  stories a topic, undated** (two stories drawn from each AllSides topic that has two or more:
  events of the same kind, two a topic).
* SemEval-2022 task 8 pairs, every language (bench/data/semeval2022-task8-all): text 1 then
  text 2 assigned under a prefix of the pair's own, undated; the share of pairs put in one
  story among those rated 1 (same event) and 4 (different events), per language.

Cost: ms per article (assign, Redis round trips included); Redis server µs per assignment
(INFO commandstats of a private redis-server, every command of an assignment is a script); the
assignments/s of 1, 2 and 4 concurrent processes against that Redis.

    .venv/bin/python bench/threads.py                  # everything (a few minutes)
    .venv/bin/python bench/threads.py --limit 300      # first 300 articles / pairs per set
    .venv/bin/python bench/threads.py --only allsides  # one part: allsides, semeval, cost

Each run uses key prefixes of its own and deletes its keys afterwards. Redis for quality:
$REDIS_URL, else 127.0.0.1:6379 db 15.
"""

from __future__ import annotations

import argparse
import csv
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
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

import redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from worker.extract import extract_document  # noqa: E402
from worker.settings import LimitSettings, ThreadSettings  # noqa: E402
from worker.store.keys import Keys  # noqa: E402
from worker.threads.state import ThreadState  # noqa: E402

DATA = Path(__file__).resolve().parent / "data" / "allsides-stories" / "stories.jsonl"
SEMEVAL = Path(__file__).resolve().parent / "data" / "semeval2022-task8-all" / "pairs.csv"


@dataclass(frozen=True)
class Article:
    article_id: str
    story_id: str
    title: str
    text: str
    when: float  # unix seconds: the story's date (AllSides dates stories, not articles)
    language: str | None = "en"
    dated: bool = True


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
            got = state.assign(a.article_id, a.title, a.text, a.language, a.when, dated=a.dated)
            ms.append((time.perf_counter() - start) * 1000.0)
            stories[a.article_id], threads[a.article_id] = got.story.cluster_id, got.thread.cluster_id
    finally:
        _clean(client, prefix)
    return stories, threads, ms


def _row(name: str, pred: dict[str, str], gold: dict[str, str]) -> str:
    pw, b3 = pairwise(pred, gold), bcubed(pred, gold)
    return (f"{name:<34} {len(set(pred.values())):>8} " + " ".join(f"{x:6.3f}" for x in pw)
            + "   " + " ".join(f"{x:6.3f}" for x in b3))


#: thresholds the baseline is run at; each set shows it at its best one (an oracle choice on
#: that very set, to be fair to it)
BASELINE_THRESHOLDS = (0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5)


def best_baseline(articles: list[Article], gold: dict[str, str]) -> tuple[float, dict[str, str]]:
    runs = {t: baseline(articles, t) for t in BASELINE_THRESHOLDS}
    best_t = max(runs, key=lambda t: bcubed(runs[t], gold)[2])
    return best_t, runs[best_t]


def multi_day(articles: list[Article], seed: int = 17) -> list[Article]:
    """Each article moved 0-3 days after its story's date (uniformly), in the new date order:
    one event reported over four days, as outlets do."""
    rng = random.Random(seed)
    moved = [replace(a, when=a.when + rng.random() * 3 * 86400) for a in articles]
    return sorted(moved, key=lambda a: a.when)


def undated(articles: list[Article]) -> list[Article]:
    """The articles as `storyline replay` gets a folder of text scrapes: each a .txt file of
    title, blank line, body, through the extract stage (decode, scrape cleaner, language), with
    no date: its time is its ingestion time, seconds apart, in the set's order."""
    limits = LimitSettings()
    now = time.time()
    out = []
    for i, a in enumerate(articles):
        raw = f"{a.title}\n\n{a.text}\n".encode()
        ext = extract_document(raw, uri=f"{a.article_id}.txt", max_bytes=limits.max_bytes, min_words=1)
        out.append(replace(a, title=ext.title or "", text=ext.text, language=ext.language, when=now + i * 0.01, dated=False))
    return out


def two_per_topic(articles: list[Article], seed: int = 17) -> list[Article]:
    """Two stories of each AllSides topic that has two or more (drawn with a fixed seed), all their
    articles, in the set's order: a feed of events of the same kind, two a topic, one of the kinds
    issue 17 holds out ("two events of the same kind per topic")."""
    topic = {str(s["id"]): s.get("topic") for s in map(json.loads, DATA.read_text().splitlines())}
    stories: dict[str, list[str]] = defaultdict(list)
    for sid in dict.fromkeys(a.story_id for a in articles):
        if topic.get(sid):
            stories[topic[sid]].append(sid)
    rng = random.Random(seed)
    keep = {sid for ids in stories.values() if len(ids) >= 2 for sid in rng.sample(ids, 2)}
    return [a for a in articles if a.story_id in keep]


def lead_only(articles: list[Article]) -> list[Article]:
    """Each article cut to its first paragraph: a feed that carries title and lead only (an RSS
    description, a scrape of a teaser page), one of the kinds issue 17 holds out."""
    return [replace(a, text=next((p for p in a.text.split("\n") if p.strip()), "")) for a in articles]


def quality(name: str, articles: list[Article], settings: ThreadSettings) -> dict[str, float]:
    gold = {a.article_id: a.story_id for a in articles}
    print(f"\n{name}: {len(articles)} articles, {len(set(gold.values()))} stories, in date order")
    print(f"{'system':<34} {'clusters':>8} {'pw-P':>6} {'pw-R':>6} {'pw-F1':>6}   {'B3-P':>6} {'B3-R':>6} {'B3-F1':>6}")
    best_t, base = best_baseline(articles, gold)
    print(_row(f"baseline TF-IDF (best t={best_t})", base, gold))
    stories, threads, ms = storyline(articles, settings)
    print(_row("Storyline story level", stories, gold))
    print(f"Storyline threads: {len(set(threads.values()))} "
          f"(stories per thread, median: {statistics.median(_stories_per_thread(threads, gold)):.0f}); "
          f"ms/article {statistics.mean(ms):.2f} mean, {statistics.median(ms):.2f} median, "
          f"{sorted(ms)[int(len(ms) * 0.95)]:.2f} p95")
    return {"storyline": bcubed(stories, gold)[2], "baseline": bcubed(base, gold)[2]}


def _stories_per_thread(threads: dict[str, str], gold: dict[str, str]) -> list[int]:
    per: dict[str, set[str]] = defaultdict(set)
    for a, t in threads.items():
        per[t].add(gold[a])
    return [len(s) for s in per.values()]


# -- SemEval-2022 task 8 pairs --------------------------------------------------------------

@dataclass(frozen=True)
class Pair:
    pair_id: str
    languages: str  # "de" or "de-en"
    overall: float  # 1 = very similar ... 4 = very dissimilar
    texts: tuple[str, str]


def load_pairs(path: Path = SEMEVAL, limit: int | None = None) -> list[Pair]:
    csv.field_size_limit(1 << 30)
    out = []
    with path.open(newline="") as f:
        for row in csv.DictReader(f):
            langs = row["lang1"] if row["lang1"] == row["lang2"] else f"{row['lang1']}-{row['lang2']}"
            out.append(Pair(row["pair_id"], langs, float(row["Overall"]), (row["text1"], row["text2"])))
    return out[:limit] if limit else out


def _pair_article(pair: Pair, i: int, limits: LimitSettings) -> Article:
    """One text of a pair as the pipeline sees it: a .txt input through the extract stage."""
    ext = extract_document(pair.texts[i].encode(), uri=f"{pair.pair_id}-{i}.txt", max_bytes=limits.max_bytes, min_words=1)
    return Article(f"{pair.pair_id}-{i}", pair.pair_id, ext.title or "", ext.text, time.time(), ext.language, False)


def pair_baseline(a: Article, b: Article, threshold: float) -> bool:
    pred = baseline([a, b], threshold)
    return pred[a.article_id] == pred[b.article_id]


def same_story(client: redis.Redis, settings: ThreadSettings, a: Article, b: Article) -> bool:
    """Whether the two texts of a pair, assigned undated under a state of their own (IDF is then
    the wordfreq prior), land in one story."""
    return same_clusters(client, settings, a, b)[0]


def same_clusters(client: redis.Redis, settings: ThreadSettings, a: Article, b: Article) -> tuple[bool, bool]:
    """Whether the two texts of a pair, assigned as in ``same_story``, land in one story, and in
    one thread."""
    prefix = f"bench-threads-{uuid.uuid4().hex[:8]}"
    state = ThreadState(client, Keys(prefix), settings)
    try:
        x = state.assign(a.article_id, a.title, a.text, a.language, a.when, dated=False)
        y = state.assign(b.article_id, b.title, b.text, b.language, b.when, dated=False)
    finally:
        _clean(client, prefix)
    return x.story.cluster_id == y.story.cluster_id, x.thread.cluster_id == y.thread.cluster_id


def semeval(settings: ThreadSettings, limit: int | None, baseline_t: float) -> None:
    """Per language: share of same-event (rated 1) and different-event (rated 4) pairs in one story."""
    client = _client()
    limits = LimitSettings()
    same: dict[str, list[bool]] = defaultdict(list)
    diff: dict[str, list[bool]] = defaultdict(list)
    base_same: dict[str, list[bool]] = defaultdict(list)
    base_diff: dict[str, list[bool]] = defaultdict(list)
    thread_same: dict[str, list[bool]] = defaultdict(list)
    thread_diff: dict[str, list[bool]] = defaultdict(list)
    counts: Counter[str] = Counter()
    for pair in load_pairs(limit=limit):
        counts[pair.languages] += 1
        rating = round(pair.overall)
        if rating not in (1, 4):
            continue
        try:
            a, b = _pair_article(pair, 0, limits), _pair_article(pair, 1, limits)
        except Exception:  # a text the extract stage refuses never reaches the thread stage
            continue
        together, one_thread = same_clusters(client, settings, a, b)
        (same if rating == 1 else diff)[pair.languages].append(together)
        (thread_same if rating == 1 else thread_diff)[pair.languages].append(one_thread)
        (base_same if rating == 1 else base_diff)[pair.languages].append(pair_baseline(a, b, baseline_t))
    print(f"\nSemEval-2022 task 8 pairs, undated: share put in one story (rated 1 = same event, 4 = different events);"
          f" baseline at t={baseline_t} (its best on AllSides undated)")
    print(f"{'language':<9} {'pairs':>5} {'same':>5} {'Storyline':>9} {'baseline':>8}   {'diff':>5} {'Storyline':>9} {'baseline':>8}"
          f"   {'one thread: same':>9} {'diff':>8}")
    for langs, n in counts.most_common():
        sm, df = same[langs], diff[langs]
        def share(xs: list[bool]) -> str:
            return f"{100 * sum(xs) / len(xs):8.0f}%" if xs else f"{'-':>9}"
        print(f"{langs:<9} {n:>5} {len(sm):>5} {share(sm)} {share(base_same[langs])}   {len(df):>5} {share(df)} {share(base_diff[langs])}"
              f"   {share(thread_same[langs])} {share(thread_diff[langs])}")


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


# -- a real `storyline replay` of the undated set -----------------------------------------

def replay(articles: list[Article], concurrency: int) -> None:
    """Write the articles as .txt files (title, blank line, body), run `storyline replay` on the
    folder against the bench's Redis under a prefix of its own, and score the stories it
    published (a copy the dedup stage caught counts in its canonical article's story)."""
    import subprocess
    import tempfile

    client, prefix = _client(), f"bench-replay-{uuid.uuid4().hex[:8]}"
    url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15")
    with tempfile.TemporaryDirectory() as folder:
        names = {}
        for a in articles:
            path = Path(folder) / f"{a.article_id}.txt"
            path.write_text(f"{a.title}\n\n{a.text}\n")
            names[str(path)] = a
        began = time.perf_counter()
        try:
            done = subprocess.run(
                [str(Path(sys.executable).with_name("storyline")), "replay", folder, "--json", "--redis", url,
                 "--prefix", prefix, "--concurrency", str(concurrency)],
                capture_output=True, text=True, timeout=3600,
            )
            took = time.perf_counter() - began
            keys = Keys(prefix)
            story_of: dict[str, str] = {}
            canonical: dict[str, str] = {}
            for _, f in client.xrange(keys.articles):
                e = json.loads(f[b"data"])
                story_of[e["article_id"]] = e["story_id"]
                canonical[e["source"]["uri"]] = e["article_id"]
            for _, f in client.xrange(keys.duplicates):
                e = json.loads(f[b"data"])
                canonical[e["source"]["uri"]] = e["duplicate_of"]
        finally:
            _clean(client, prefix)
    pred = {names[u].article_id: story_of[c] for u, c in canonical.items() if u in names and c in story_of}
    gold = {a: names_a.story_id for names_a in articles for a in [names_a.article_id] if a in pred}
    print(f"\n`storyline replay` of the undated AllSides folder ({len(articles)} .txt files, concurrency {concurrency}):"
          f" {done.stdout.strip()} in {took:.0f} s")
    print(f"{'system':<34} {'clusters':>8} {'pw-P':>6} {'pw-R':>6} {'pw-F1':>6}   {'B3-P':>6} {'B3-R':>6} {'B3-F1':>6}")
    print(_row(f"Storyline story level ({len(pred)} scored)", pred, gold))


# -- cost: Redis server time and concurrent processes --------------------------------------

def _server_time(client: redis.Redis) -> tuple[float, float, float]:
    """Since the last CONFIG RESETSTAT (commandstats): µs of the scripts, µs of every command
    counted but EXEC (whose commands are counted under their own names too; a script's are
    counted inside its time and again on their own, which ``cost`` takes off), and the
    scripts' calls."""
    stats = client.info("commandstats")
    scripts = sum(stats.get(f"cmdstat_{c}", {}).get("usec", 0) for c in ("eval", "evalsha"))
    every = sum(v.get("usec", 0) for k, v in stats.items()
                if not k.startswith(("cmdstat_config", "cmdstat_info", "cmdstat_exec")))
    calls = sum(stats.get(f"cmdstat_{c}", {}).get("calls", 0) for c in ("eval", "evalsha"))
    return float(scripts), float(every), float(calls)


def _commands(client: redis.Redis) -> float:
    """Commands Redis ran since the last CONFIG RESETSTAT, those run inside scripts included
    (the scripts' own calls not counted): a figure the machine's load does not move."""
    stats = client.info("commandstats")
    return float(sum(v.get("calls", 0) for k, v in stats.items()
                     if not k.startswith(("cmdstat_config", "cmdstat_info", "cmdstat_eval"))))


def _net(client: redis.Redis) -> tuple[float, float]:
    stats = client.info("stats")
    return float(stats["total_net_input_bytes"]), float(stats["total_net_output_bytes"])


def _cpu(client: redis.Redis) -> float:
    cpu = client.info("cpu")
    return (cpu["used_cpu_user"] + cpu["used_cpu_sys"]) * 1e6


def _worker(url: str, prefix: str, settings: ThreadSettings, articles: list[Article], start, out) -> None:
    client = redis.Redis.from_url(url)
    state = ThreadState(client, Keys(prefix), settings)
    state.assign("warm-" + uuid.uuid4().hex, "warm up", "warm up the stemmer and the scripts", "en", 0.0)
    start.wait()
    began = time.perf_counter()
    for a in articles:
        state.assign(a.article_id, a.title, a.text, a.language, a.when, dated=a.dated)
    out.put((began, time.perf_counter(), len(articles), state.conflicts))


def cost(articles: list[Article], settings: ThreadSettings, procs: tuple[int, ...]) -> None:
    import multiprocessing as mp
    import tempfile

    from bench._harness import slowlog_start, slowlog_time
    from bench.dedup import start_private_redis

    tmp = tempfile.TemporaryDirectory()
    proc, url = start_private_redis(tmp.name)
    try:
        client = redis.Redis.from_url(url)
        n = len(articles)

        def one_pass(log: bool = False) -> float:
            """The articles assigned by one process under a fresh prefix, after a warm-up; s.
            ``log``: SLOWLOG logs every command of the timed part."""
            client.flushall()
            state = ThreadState(client, Keys(f"bench-cost-{uuid.uuid4().hex[:8]}"), settings)
            state.assign("warm", "warm up", "warm up the scripts", "en", 0.0)
            if log:
                slowlog_start(client, 200 * n + 1000)
            client.config_resetstat()
            began = time.perf_counter()
            for a in articles:
                state.assign(a.article_id, a.title, a.text, a.language, a.when, dated=a.dated)
            state.flush()
            return time.perf_counter() - began

        # Pass 1, nothing logged: INFO commandstats counts a script's own commands twice (inside
        # EVALSHA's time and under their own names), so its sum less those commands' time is the
        # server time. Pass 2, the same articles afresh with SLOWLOG logging every command: a
        # script's own calls carry the client address "?:0", so it measures them. The SLOWLOG
        # sum itself is an upper bound only: logging a script's ~40 commands runs inside the
        # script's duration (EVALSHA 82 -> 107 µs an assignment with it on, session 30).
        net0, cpu0 = _net(client), _cpu(client)
        took = one_pass()
        cpu = (_cpu(client) - cpu0) / n
        net1 = _net(client)
        scripts, every, calls = _server_time(client)
        commands = _commands(client)
        one_pass(log=True)
        logged, by_kind, _, inner = slowlog_time(client)
        own = sum(inner.values())
        print(f"\nRedis server time per assignment ({n} AllSides articles, dated, one process, private redis-server):"
              f" **{(every - own) / n:.0f} µs** = INFO commandstats' sum {every / n:.0f} µs less the scripts' own"
              f" commands {own / n:.0f} µs (counted there twice; SLOWLOG pass: {', '.join(f'{k} {v / n:.1f}' for k, v in inner.most_common())})."
              f" Of it the commit script (EVALSHA) {scripts / n:.0f} µs ({calls / n:.1f} calls). INFO cpu (all its work,"
              f" network included): {cpu:.0f} µs. {took * 1000 / n:.2f} ms/article")
        print(f"SLOWLOG pass, every top-level command's duration (an upper bound: it includes SLOWLOG's own logging of"
              f" the scripts' commands): {logged / n:.0f} µs ({', '.join(f'{k} {v / n:.0f}' for k, v in by_kind.most_common())})")
        print(f"Per assignment, load-independent: {commands / n:.1f} Redis commands (those inside scripts included),"
              f" {(net1[0] - net0[0]) / n / 1024:.1f} KB sent to Redis, {(net1[1] - net0[1]) / n / 1024:.1f} KB received")
        ctx = mp.get_context("fork")
        base = None
        print(f"{'processes':>9} {'assignments/s':>14} {'vs one':>7} {'conflicts':>9}")
        for n in procs:
            prefix = f"bench-conc-{uuid.uuid4().hex[:8]}"
            start, out = ctx.Event(), ctx.Queue()
            shares = [articles[i::n] for i in range(n)]
            workers = [ctx.Process(target=_worker, args=(url, prefix, settings, share, start, out)) for share in shares]
            for w in workers:
                w.start()
            time.sleep(1.0 + 0.5 * n)  # let each import, connect and warm up
            start.set()
            results = [out.get(timeout=600) for _ in workers]
            for w in workers:
                w.join()
            span = max(r[1] for r in results) - min(r[0] for r in results)
            rate = sum(r[2] for r in results) / span
            base = base or rate
            print(f"{n:>9} {rate:>14.0f} {rate / base:>6.2f}x {sum(r[3] for r in results):>9}")
    finally:
        proc.kill()
        proc.wait()
        tmp.cleanup()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", choices=("allsides", "semeval", "cost", "replay"), action="append", default=[],
                    help="run this part only (repeatable)")
    ap.add_argument("--limit", type=int, default=None, help="first N articles of AllSides, N pairs of SemEval")
    ap.add_argument("--scale", action="store_true", help="also time assignment with 1k and 10k existing threads")
    ap.add_argument("--probe", type=int, default=300, help="articles timed per scale point")
    ap.add_argument("--procs", default="1,2,4", help="concurrent assigning processes to measure")
    ap.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                    help="override a ThreadSettings field, e.g. --set story_threshold=0.3")
    args = ap.parse_args()
    settings = ThreadSettings(**dict(s.split("=", 1) for s in args.set))
    parts = set(args.only) or {"allsides", "semeval", "cost"}
    articles = load()[: args.limit] if args.limit else load()
    baseline_t = 0.3
    if "allsides" in parts:
        quality("AllSides, dated", articles, settings)
        quality("AllSides, multi-day (each article 0-3 days after its story's date)", multi_day(articles), settings)
        plain = undated(articles)
        gold = {a.article_id: a.story_id for a in plain}
        baseline_t = best_baseline(plain, gold)[0]
        quality("AllSides, undated (text files through the extract stage, ingestion time only)", plain, settings)
        quality("AllSides, title and lead only, undated (title, blank line, first paragraph; as above)",
                undated(lead_only(articles)), settings)
        quality("AllSides, two stories a topic, undated (as above)", two_per_topic(plain), settings)
    if "semeval" in parts:
        semeval(settings, args.limit, baseline_t)
    if "replay" in parts:
        replay(articles, 2)
    if "cost" in parts:
        cost(articles, settings, tuple(int(p) for p in args.procs.split(",")))
    if args.scale:
        scale(articles, settings, (1_000, 10_000), args.probe)


if __name__ == "__main__":
    main()
