"""Load: replay 20,000 documents through two worker processes and check the accounting
(inputs = articles + duplicates + dead letters, and each stream holds exactly that many events),
with the peak RSS of each worker process.

    .venv/bin/python bench/load.py [--count 20000] [--processes 2]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._harness import Workers, drop_prefix, fresh_settings, redis_url, replay  # noqa: E402
from bench.corpus import build  # noqa: E402
from tests.reliability.hostile import write_corpus  # noqa: E402
from worker.store.keys import Keys  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=20_000)
    ap.add_argument("--processes", type=int, default=2)
    args = ap.parse_args()
    url = redis_url()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "corpus"
        build(folder, args.count)
        # the hostile corpus too (50 MB page, gzip bomb, binary, ...): dead letters are part of
        # the accounting, and the peak RSS below includes what those inputs cost
        hostile = write_corpus(folder / "zz-hostile")
        total = args.count + len(hostile)
        settings = fresh_settings(url, "load")
        workers = Workers(settings, args.processes)
        try:
            summary, wall = replay(folder, settings)
        finally:
            workers.stop()
        client = redis.Redis.from_url(url)
        keys = Keys(settings.prefix)
        lengths = {s: client.xlen(s) for s in (keys.articles, keys.duplicates, keys.dead_letter)}
        drop_prefix(url, settings.prefix)
    balanced = summary["inputs"] == total == summary["articles"] + summary["duplicates"] + summary["dead_letters"]
    streams_match = (lengths[keys.articles], lengths[keys.duplicates], lengths[keys.dead_letter]) == (
        summary["articles"], summary["duplicates"], summary["dead_letters"])
    print(f"inputs            {total}")
    print(f"outcomes          {summary['inputs']}")
    print(f"articles          {summary['articles']}")
    print(f"duplicates        {summary['duplicates']}")
    print(f"dead letters      {summary['dead_letters']}")
    print(f"accounting        {'balances' if balanced else 'DOES NOT BALANCE'}: inputs = articles + duplicates + dead letters")
    print(f"stream lengths    {'match' if streams_match else 'DO NOT MATCH'} the outcomes ({lengths})")
    print(f"wall time         {wall:.1f} s ({total / wall:.1f} docs/s with {args.processes} worker processes)")
    for pid, rss in sorted(workers.peak_rss.items()):
        print(f"peak RSS pid {pid:<7} {rss / 2**20:.0f} MiB")
    sys.exit(0 if balanced and streams_match else 1)


if __name__ == "__main__":
    main()
