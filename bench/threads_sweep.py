"""Sweep of the story decision's knobs over every quality set, Storyline only (no baseline), so
that each value is judged on all the sets at once (leave-one-set-out: a value is kept only if no
set it was not chosen on says otherwise). Inputs are extracted once, then each setting is run on
AllSides dated, multi-day and undated (BCubed F1) and the SemEval pairs (same-event and
different-event shares per language, pairs rated 1 and 4, languages with >= 20 pairs).

    .venv/bin/python bench/threads_sweep.py --prior-docs 500,2000 --set idf=prior
    .venv/bin/python bench/threads_sweep.py --set idf=online --set idf=prior   # each --set a run

``--set`` takes NAME=VALUE[,NAME=VALUE...] per run: ThreadSettings fields, or constants of
worker/threads/state.py or cluster.py (``--set _INDEX_TERMS=10``, ``--set DECOMPOUND=de|nl``;
a set of values is written with "|");
``--prior-docs`` multiplies the runs by the wordfreq prior's pseudo-document count
(worker/threads/cluster.py ``_PRIOR_DOCS``).
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import worker.threads.cluster as cluster  # noqa: E402
import worker.threads.state as state_module  # noqa: E402
from bench.threads import (  # noqa: E402
    Article, _client, _pair_article, bcubed, load, load_pairs, multi_day, same_story, storyline, undated,
)
from worker.settings import LimitSettings, ThreadSettings  # noqa: E402

LANGUAGES = ("en", "de", "es", "tr", "pl", "ar")


def pairs(limit: int | None) -> list[tuple[str, int, Article, Article]]:
    limits = LimitSettings()
    out = []
    for p in load_pairs(limit=limit):
        rating = round(p.overall)
        if rating not in (1, 4) or p.languages not in LANGUAGES:
            continue
        try:
            out.append((p.languages, rating, _pair_article(p, 0, limits), _pair_article(p, 1, limits)))
        except Exception:  # refused by the extract stage: never reaches the thread stage
            continue
    return out


def semeval_shares(items: list, settings: ThreadSettings) -> dict[str, tuple[float, float]]:
    client = _client()
    together: dict[tuple[str, int], list[bool]] = defaultdict(list)
    for lang, rating, a, b in items:
        together[(lang, rating)].append(same_story(client, settings, a, b))
    return {
        lang: tuple(100.0 * sum(together[(lang, r)]) / max(1, len(together[(lang, r)])) for r in (1, 4))
        for lang in LANGUAGES
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--set", action="append", default=[], help="NAME=VALUE[,NAME=VALUE] of one run")
    ap.add_argument("--prior-docs", default=str(cluster._PRIOR_DOCS))
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--skip", action="append", default=[], choices=("dated", "multi", "undated", "semeval"))
    args = ap.parse_args()
    arts = load()[: args.limit] if args.limit else load()
    sets = {"dated": arts, "multi": multi_day(arts), "undated": undated(arts)}
    sets = {k: v for k, v in sets.items() if k not in args.skip}
    items = pairs(args.limit) if "semeval" not in args.skip else []
    runs = args.set or [""]
    print(f"{'run':<44} " + " ".join(f"{k:>7}" for k in sets) + "  " + " ".join(f"{lang:>7}" for lang in LANGUAGES if items),
          flush=True)
    for run in runs:
        for docs in (int(d) for d in args.prior_docs.split(",")):
            cluster._PRIOR_DOCS = docs
            fields = dict(s.split("=", 1) for s in run.split(",") if s)
            for name in [f for f in fields if f.startswith("_") or f.isupper()]:
                module = state_module if hasattr(state_module, name) else cluster
                old, value = getattr(module, name), fields.pop(name)
                setattr(module, name, frozenset(value.split("|")) - {""} if isinstance(old, frozenset) else type(old)(value))
            settings = ThreadSettings(**fields)
            f1s = []
            for articles in sets.values():
                gold = {a.article_id: a.story_id for a in articles}
                f1s.append(bcubed(storyline(articles, settings)[0], gold)[2])
            shares = semeval_shares(items, settings) if items else {}
            print(f"{(run or 'defaults') + f' P={docs}':<44} " + " ".join(f"{f:7.3f}" for f in f1s) + "  "
                  + " ".join(f"{shares[lang][0]:3.0f}/{shares[lang][1]:<3.0f}" for lang in LANGUAGES if items), flush=True)


if __name__ == "__main__":
    main()
