"""Dedup index at scale: check (query + insert) throughput, latency per check and Redis memory
per indexed article, at 10k, 100k and 1M articles.

    .venv/bin/python bench/dedup.py                    # 10k, 100k, 1M (about 4 minutes)
    .venv/bin/python bench/dedup.py --sizes 10000      # quick look
    .venv/bin/python bench/dedup.py --recall           # and the recall on real copies (bench/dedup_recall.py)
    .venv/bin/python bench/dedup.py --ab --rounds 3    # this release's layout against the last one's, interleaved

By default it starts a private redis-server (the one on PATH, no persistence) on a free
127.0.0.1 port, so that INFO used_memory deltas belong to this benchmark alone; ``--redis URL``
uses an existing server instead, under a unique prefix deleted afterwards (memory is then the
sum of MEMORY USAGE over the prefix's keys, since other clients move used_memory).

For each size N the index is sized for N articles per window (``expected_articles``, as a
deployment would configure it) and filled with N synthetic articles whose arrival times are
spread evenly over the 30-day window, so every time slice is populated as in steady state.
Synthetic signatures are random 16-bit values (numpy), which is what MinHash values of
unrelated texts look like; filling through the real script in pipelined batches keeps a 1M
fill to a couple of minutes. Then, at the end of the window, it times single checks through
``DedupIndex.check_and_insert`` one after another from this one process (what one worker does):
new articles (query finds nothing, insert) and near copies of indexed ones (query finds them).
New articles alternate between the default settings and ``spin_microseconds=0`` (the
"blocking" column: the worker blocks on the socket at once, see DedupSettings).
Signature computation is timed separately on real texts (seeds and SemEval-2022 articles).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from worker.dedup.index import DedupIndex, entries_per_article, record_bytes  # noqa: E402
from worker.dedup.minhash import Signature, normalise, shingles, signature, text_hash  # noqa: E402
from bench._harness import start_private_redis  # noqa: E402
from worker.extract.text import clean_scrape  # noqa: E402
from worker.settings import DedupSettings  # noqa: E402
from worker.store.keys import Keys  # noqa: E402

DAY_MS = 24 * 3600 * 1000


def random_signatures(rng: np.random.Generator, n: int, num_perm: int) -> np.ndarray:
    return rng.integers(0, 1 << 16, size=(n, num_perm), dtype=np.uint16).astype(">u2")


def prefix_memory(client: redis.Redis, pattern: str) -> tuple[int, int]:
    """(keys, sum of MEMORY USAGE) over the keys matching ``pattern``."""
    keys = list(client.scan_iter(pattern, count=5000))
    total = 0
    for i in range(0, len(keys), 2000):
        pipe = client.pipeline(transaction=False)
        for k in keys[i : i + 2000]:
            pipe.memory_usage(k, samples=0)
        total += sum(v or 0 for v in pipe.execute())
    return len(keys), total


def delete_prefix(client: redis.Redis, pattern: str) -> None:
    batch = []
    for k in client.scan_iter(pattern, count=5000):
        batch.append(k)
        if len(batch) >= 5000:
            client.unlink(*batch)
            batch = []
    if batch:
        client.unlink(*batch)


def fill(client: redis.Redis, index: DedupIndex, settings: DedupSettings, n: int, t_end: int,
         rng: np.random.Generator) -> float:
    """Index ``n`` synthetic articles arriving evenly over the window ending at ``t_end`` (ms);
    returns seconds taken. Goes through the real script, pipelined 500 calls per round trip."""
    window_ms = settings.window_seconds * 1000
    t_start = t_end - window_ms
    script = index._script  # the same registered script check_and_insert runs
    meta = index._keys.dedup_meta
    began = time.perf_counter()
    batch = 500
    for lo in range(0, n, batch):
        hi = min(n, lo + batch)
        values = random_signatures(rng, hi - lo, settings.num_perm)
        sizes = rng.integers(150, 1500, size=hi - lo)
        pipe = client.pipeline(transaction=False)
        for j in range(hi - lo):
            i = lo + j
            doc_id = f"{i:016x}"
            sig = Signature(values=values[j].tobytes(), size=int(sizes[j]))
            now_ms = t_start + (i * window_ms) // n
            script(keys=[meta], args=index.script_args(doc_id, _hash(doc_id), sig, f"https://site{i % 5000}.example/{i}", now_ms),
                   client=pipe)
        pipe.execute()
    return time.perf_counter() - began


def near_copy(values: np.ndarray, rng: np.random.Generator, changed: float) -> np.ndarray:
    """The signature of a lightly edited copy: a fraction ``changed`` of its values differ."""
    copy = values.copy()
    idx = rng.choice(len(copy), size=int(len(copy) * changed), replace=False)
    copy[idx] = rng.integers(0, 1 << 16, size=len(idx), dtype=np.uint16)
    return copy


def time_checks(index: DedupIndex, blocking: DedupIndex, settings: DedupSettings, checks: int, t_end: int,
                rng: np.random.Generator, seed_values: np.ndarray) -> dict[str, list[float]]:
    """Latencies (ms) of ``checks`` new articles and up to ``checks // 4`` near copies (15% of
    their signature values changed, J about 0.85) of the oldest indexed articles, one at a time.
    Every other new article goes through ``blocking``, the same index with
    ``spin_microseconds=0`` (its latencies are "new_blocking")."""
    out: dict[str, list[float]] = {"new": [], "new_blocking": [], "copy": []}
    values = random_signatures(rng, checks, settings.num_perm)
    for i in range(checks):
        sig = Signature(values=values[i].tobytes(), size=int(rng.integers(150, 1500)))
        doc_id = f"n{i:015x}"
        which, times = (index, out["new"]) if i % 2 == 0 else (blocking, out["new_blocking"])
        began = time.perf_counter()
        d = which.check_and_insert(doc_id, _hash(f"new{i}"), sig, f"https://new.example/{i}", now_ms=t_end)
        times.append((time.perf_counter() - began) * 1000)
        assert not d.is_duplicate, d
    found = 0
    n_copies = min(checks // 4, len(seed_values))
    for i in range(n_copies):
        sig = Signature(values=near_copy(seed_values[i], rng, 0.15).tobytes(), size=800)
        began = time.perf_counter()
        d = index.check_and_insert(f"c{i:015x}", _hash(f"copy{i}"), sig, None, now_ms=t_end)
        out["copy"].append((time.perf_counter() - began) * 1000)
        found += d.is_duplicate
    out["copies_found"] = [found / max(1, n_copies)]
    return out


def signature_timing() -> tuple[int, float, float]:
    """(texts, mean ms per article, mean words) for normalise + shingles + signature on real texts."""
    texts = [clean_scrape(p.read_text()).text for p in sorted((ROOT / "seeds").glob("*.txt"))]
    data = ROOT / "bench" / "data" / "semeval2022-task8" / "pairs.csv"
    if data.exists():
        with data.open(newline="") as f:
            for row in csv.DictReader(f):
                texts += [row["text1"], row["text2"]]
    signature(shingles(normalise(texts[0]), 5), 128)  # warm the permutation cache
    began = time.perf_counter()
    words = 0
    for t in texts:
        n = normalise(t)
        words += len(n.split())
        signature(shingles(n, 5), 128)
        text_hash(n)
    elapsed = time.perf_counter() - began
    return len(texts), elapsed / len(texts) * 1000, words / len(texts)


def _hash(s: str) -> str:
    """A text hash as the pipeline makes them (hex of 12 random-looking bytes)."""
    return hashlib.blake2b(s.encode(), digest_size=12).hexdigest()


def pct(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(q * len(s)))]


def ab(client: redis.Redis, args: argparse.Namespace, rng: np.random.Generator, private: bool) -> None:
    """Layouts A (the last release's: 8 bands, 9 slots with the URL; a synthetic signature's keys
    are two 16-bit values each, as that release's bands were) and B (this release's defaults)
    filled with the same articles on the same Redis; then new-article checks alternate A, B, A,
    B, ... so that both see the same machine. Same script text otherwise.

    Besides the client's checks/s and p99, on a private server it prints each layout's own time
    on the server (SLOWLOG logs every command with its duration; a check's EVALSHA names its
    script, so the alternating checks are told apart: the median, which the client's scheduling
    does not touch) and Redis commands per check, the EVALSHA included (INFO commandstats over
    100 more checks of each, untimed): figures the machine's load moves far less than checks/s.
    With ``--rounds`` each size is filled afresh and timed that many times, one line a round,
    then a line over all rounds (latencies pooled) with the spread of the rounds' ratios."""
    print(f"{'articles':>9} {'round':>5} {'A checks/s':>10} {'B checks/s':>10} {'B / A':>6} {'A p99 ms':>8} {'B p99 ms':>8} "
          f"{'B / A':>6} {'A srv us':>8} {'B srv us':>8} {'B / A':>6} {'A cmds':>6} {'B cmds':>6} "
          f"{'A B/art':>8} {'B B/art':>8} {'B / A':>6}")
    for n in [int(s) for s in args.sizes.split(",")]:
        rounds = [_ab_round(client, args, rng, private, n) for _ in range(args.rounds)]
        for r, got in enumerate(rounds, 1):
            _ab_line(n, str(r), got)
        if len(rounds) > 1:
            pooled = {key: [x for got in rounds for x in got[key]] for key in rounds[0]}
            _ab_line(n, "all", pooled)
            spread = {
                "checks/s": [_rate(g["lat_B"]) / _rate(g["lat_A"]) for g in rounds],
                "p99": [pct(g["lat_B"], .99) / pct(g["lat_A"], .99) for g in rounds],
                "server us": [statistics.median(g["srv_B"]) / statistics.median(g["srv_A"])
                              if g["srv_A"] else float("nan") for g in rounds],
            }
            print(f"{'':>9} {'':>5} B / A of the rounds, min-median-max: "
                  + ", ".join(f"{k} {min(v):.2f}-{statistics.median(v):.2f}-{max(v):.2f}" for k, v in spread.items()),
                  flush=True)


def _rate(lat: list[float]) -> float:
    return len(lat) / (sum(lat) / 1000)


def _ab_line(n: int, label: str, got: dict[str, list[float]]) -> None:
    ra, rb = _rate(got["lat_A"]), _rate(got["lat_B"])
    pa, pb = pct(got["lat_A"], .99), pct(got["lat_B"], .99)
    sa, sb = (statistics.median(got[k]) if got[k] else float("nan") for k in ("srv_A", "srv_B"))
    ca, cb = (statistics.mean(got[k]) for k in ("cmds_A", "cmds_B"))
    ma, mb = (statistics.mean(got[k]) for k in ("mem_A", "mem_B"))
    print(f"{n:>9,} {label:>5} {ra:>10,.0f} {rb:>10,.0f} {rb / ra:>6.2f} {pa:>8.3f} {pb:>8.3f} {pb / pa:>6.2f} "
          f"{sa:>8.0f} {sb:>8.0f} {sb / sa:>6.2f} {ca:>6.1f} {cb:>6.1f} {ma:>8,.0f} {mb:>8,.0f} {mb / ma:>6.2f}", flush=True)


def _ab_round(client: redis.Redis, args: argparse.Namespace, rng: np.random.Generator, private: bool,
              n: int) -> dict[str, list[float]]:
    """One fill of both layouts with ``n`` articles and the alternating checks; the keys are
    lat_A/B (ms per check), srv_A/B (µs on the server), cmds_A/B, mem_A/B (one value each)."""
    t_end = int(time.time() * 1000)
    layouts = {"A": DedupSettings(expected_articles=n, bands=8, rows=1, lead_bands=0),
               "B": DedupSettings(expected_articles=n)}
    idx, out, prefixes = {}, {}, []
    for name, settings in layouts.items():
        prefix = f"bench-ab-{name}-{uuid.uuid4().hex[:8]}"
        prefixes.append(prefix)
        idx[name] = DedupIndex(client, Keys(prefix), settings)
        before = client.info("memory")["used_memory"]
        fill(client, idx[name], settings, n, t_end, np.random.default_rng(args.seed + n))
        out[f"mem_{name}"] = [(client.info("memory")["used_memory"] - before) / n]
    # each layout gets half the checks; see main() for why at most size / 10 of them
    checks = min(args.checks, n // 10)
    values = random_signatures(rng, checks + 200, 128)
    # SLOWLOG also logs each command a script calls (a check makes ~25-35), so it keeps this many
    log_len = 40 * checks + 100
    if private:  # log every command (with its duration), for the server time per layout
        client.config_set("slowlog-max-len", str(log_len))
        client.config_set("slowlog-log-slower-than", "0")
        client.slowlog_reset()
    for name in "AB":
        out[f"lat_{name}"], out[f"srv_{name}"], out[f"cmds_{name}"] = [], [], [float("nan")]
    for i in range(checks):
        name = "AB"[i % 2]
        sig = Signature(values=values[i].tobytes(), size=int(rng.integers(150, 1500)))
        began = time.perf_counter()
        idx[name].check_and_insert(f"n{i:015x}", _hash(f"ab{i}"), sig, f"https://new.example/{i}", now_ms=t_end)
        out[f"lat_{name}"].append((time.perf_counter() - began) * 1000)
    if private:
        by_sha = {idx[k]._script.sha.encode(): k for k in "AB"}
        for entry in client.slowlog_get(log_len):
            words = entry["command"].split(b" ", 2)
            if words[0].upper() == b"EVALSHA" and words[1] in by_sha:
                out[f"srv_{by_sha[words[1]]}"].append(float(entry["duration"]))
        client.config_set("slowlog-log-slower-than", "10000")
        client.slowlog_reset()
        assert len(out["srv_A"]) + len(out["srv_B"]) == checks, "SLOWLOG dropped checks"
        for k, name in enumerate("AB"):
            client.config_resetstat()
            for i in range(100):
                sig = Signature(values=values[checks + 100 * k + i].tobytes(), size=500)
                idx[name].check_and_insert(f"m{k}{i:014x}", _hash(f"ab-m{k}{i}"), sig,
                                           f"https://more.example/{k}/{i}", now_ms=t_end)
            stats = client.info("commandstats")
            out[f"cmds_{name}"] = [sum(v["calls"] for c, v in stats.items()
                                       if c.startswith("cmdstat_") and c not in ("cmdstat_info", "cmdstat_config|resetstat")) / 100]
    for prefix in prefixes:
        delete_prefix(client, f"{prefix}:*")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--checks", type=int, default=4000, help="timed new-article checks per size (at most size / 10)")
    ap.add_argument("--redis", default=None, help="use this Redis (unique prefix, deleted after)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--ab", action="store_true",
                    help="instead: this release's layout against the last release's (8 bands of two 16-bit values, "
                         "9 slots), filled alike on one Redis, checks alternating between them")
    ap.add_argument("--rounds", type=int, default=1, help="--ab: fill and time each size this many times")
    ap.add_argument("--recall", action="store_true", help="then the recall bench on real articles (bench/dedup_recall.py)")
    ap.add_argument("--recall-limit", type=int, default=None, help="articles sampled for --recall (default: all)")
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)

    texts, sig_ms, words = signature_timing()
    print(f"signature (normalise + 5-word shingles + 128-perm MinHash + text hash) on {texts} real "
          f"texts, {words:.0f} words on average: {sig_ms:.2f} ms per article")

    tmp = tempfile.TemporaryDirectory()
    proc = None
    if args.redis:
        url = args.redis
    else:
        proc, url = start_private_redis(tmp.name)
    client = redis.Redis.from_url(url)
    info = client.info("server")
    cfg = client.config_get("hash-max-listpack-*")
    print(f"redis {info['redis_version']} at {url} ({'private, no persistence' if proc else 'shared'}), {cfg}")
    defaults = DedupSettings()
    print(f"record {record_bytes(128)} bytes per article; LSH bands x rows + lead keys = "
          f"{defaults.bands} x {defaults.rows} + {defaults.lead_bands} ({entries_per_article(defaults)} slots with the URL); "
          f"live slices {defaults.slices + 1}; "
          f"checks/s with the default spin of {DedupSettings().spin_microseconds} µs before blocking "
          f"on the reply, and ('blocking') with spin_microseconds=0, alternating\n")

    if args.ab:
        try:
            ab(client, args, rng, private=proc is not None)
        finally:
            if proc:
                proc.terminate()
                proc.wait(timeout=10)
            tmp.cleanup()
        return

    header = (f"{'articles':>9} {'fill s':>7} {'checks/s':>9} {'blocking':>9} {'p50 ms':>7} {'p99 ms':>7} "
              f"{'copy p50':>8} {'copy p99':>8} {'found':>6} {'server us':>9} {'B/article':>10} {'(MEMORY USAGE)':>14} {'keys':>8}")
    print(header)
    try:
        for n in [int(s) for s in args.sizes.split(",")]:
            prefix = f"bench-dedup-{uuid.uuid4().hex[:8]}"
            keys = Keys(prefix)
            settings = DedupSettings(expected_articles=n)
            index = DedupIndex(client, keys, settings)
            t_end = int(time.time() * 1000)
            client.memory_purge() if proc else None
            before = client.info("memory")["used_memory"]
            fill_rng = np.random.default_rng(args.seed + n)
            fill_s = fill(client, index, settings, n, t_end, fill_rng)
            after = client.info("memory")["used_memory"]
            nkeys, usage = prefix_memory(client, f"{keys.dedup_base}:*")
            # the first articles of the fill, to copy: regenerate them from the same seed
            seed_values = random_signatures(np.random.default_rng(args.seed + n), min(n, 500), settings.num_perm)
            client.config_resetstat()
            # the timed new articles all land in the current slice, sized for n / slices of
            # them; past ~0.4 n / slices more it opens an overflow table (tested, slower), so
            # at 10k 4,000 checks would time that path instead of the index as configured
            checks = min(args.checks, n // 10)
            blocking = DedupIndex(client, keys, settings.model_copy(update={"spin_microseconds": 0}))
            lat = time_checks(index, blocking, settings, checks, t_end, rng, seed_values)
            new, copy = lat["new"], lat["copy"]
            rate_blocking = len(lat["new_blocking"]) / (sum(lat["new_blocking"]) / 1000)
            server_us = client.info("commandstats").get("cmdstat_evalsha", {}).get("usec_per_call", float("nan"))
            rate = len(new) / (sum(new) / 1000)
            per_article = (after - before) / n if proc else float("nan")
            print(f"{n:>9,} {fill_s:>7.1f} {rate:>9,.0f} {rate_blocking:>9,.0f} {pct(new, .5):>7.3f} {pct(new, .99):>7.3f} "
                  f"{pct(copy, .5):>8.3f} {pct(copy, .99):>8.3f} {lat['copies_found'][0]:>6.0%} {server_us:>9.1f} "
                  f"{per_article:>10,.0f} {usage / n:>14,.0f} {nkeys:>8,}", flush=True)
            delete_prefix(client, f"{prefix}:*")
        if args.recall:
            from bench.dedup_recall import run

            print()
            run(client, args.recall_limit)
    finally:
        if proc:
            proc.terminate()
            proc.wait(timeout=10)
        tmp.cleanup()


if __name__ == "__main__":
    main()
