"""Throughput: the whole pipeline through real Celery workers and a real Redis, against bare
extraction of the same documents in one process, in one run.

Prints:
- bare extraction docs/s in one process: plain `trafilatura.extract` (the issue's baseline), and
  Storyline's whole extract stage alone (decode, trafilatura with metadata, readability second
  opinion, language, prose gate; the scrape cleaner for text);
- ms per stage (read, extract, dedup, thread, publish), from the pipeline run in-process;
- end-to-end docs/s through Celery with 1 and with 2 worker processes, and the ratios: the
  queue is filled first (as `storyline replay` fills it) while the workers are told not to
  consume, then timed from "consume" to the last input's outcome (``_harness.drain``);
- the same for 1 worker process with the readability second opinion off
  (``STORYLINE_EXTRACT__SECOND_OPINION=false``), against its own extract stage and bare
  trafilatura.

    .venv/bin/python bench/pipeline.py [--count 5000] [--skip-two] [--skip-fast] [--workers-only]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._harness import Workers, drain, drop_prefix, fresh_settings, redis_url  # noqa: E402
from bench.corpus import build  # noqa: E402


def load(files: list[Path]) -> list[tuple[Path, bytes]]:
    """Every document's bytes, read once before any timing."""
    return [(f, f.read_bytes()) for f in files]


def extract_stage(bodies: list[tuple[Path, bytes]], *, second_opinion: bool = True) -> float:
    """docs/s of Storyline's extract stage alone, one process."""
    from worker.errors import StorylineError
    from worker.extract import extract_document
    from worker.settings import LimitSettings
    from worker.sources.files import content_type_for

    limits = LimitSettings()
    start = time.perf_counter()
    for f, raw in bodies:
        try:
            extract_document(raw, uri=str(f), content_type=content_type_for(f),
                             max_bytes=limits.max_bytes, min_words=limits.min_words, max_words=limits.max_words,
                             second_opinion=second_opinion)
        except StorylineError:
            continue
    return len(bodies) / (time.perf_counter() - start)


def bare_extraction(bodies: list[tuple[Path, bytes]]) -> float:
    """docs/s of plain ``trafilatura.extract`` (the scrape cleaner for text files), one process."""
    import trafilatura

    from worker.extract.text import clean_scrape

    start = time.perf_counter()
    for f, raw in bodies:
        if f.suffix == ".html":
            trafilatura.extract(raw)
        else:
            clean_scrape(raw.decode("utf-8", "replace"))
    return len(bodies) / (time.perf_counter() - start)


def stage_costs(files: list[Path], url: str) -> dict[str, list[float]]:
    """ms per stage, running the pipeline in this process against the real Redis."""
    from worker.errors import StageFailure, StorylineError
    from worker.pipeline import InputDocument, Pipeline
    from worker.sources.files import content_type_for, read_file

    settings = fresh_settings(url, "stages")
    pipeline = Pipeline(redis.Redis.from_url(url), settings)
    stages: dict[str, list[float]] = {"read": [], "extract": [], "dedup": [], "thread": [], "publish": []}
    try:
        for f in files:
            t0 = time.perf_counter()
            body = read_file(f, max_bytes=settings.limits.max_bytes)
            stages["read"].append((time.perf_counter() - t0) * 1000)
            try:
                out = pipeline.process(InputDocument(uuid.uuid4().hex[:16], "file", str(f), body,
                                                     content_type=content_type_for(f)))
            except StageFailure as failed:  # an input the pipeline rejects is skipped; a bug is not
                if not isinstance(failed.error, StorylineError):
                    raise
                continue
            for k, v in out.timings_ms.items():
                stages[k].append(v)
    finally:
        drop_prefix(url, settings.prefix)
    return stages


def end_to_end(folder: Path, url: str, processes: int) -> float:
    settings = fresh_settings(url, f"e2e{processes}")
    workers = Workers(settings, processes)
    try:
        summary, wall = drain(folder, settings, workers)
    finally:
        workers.stop()
        drop_prefix(url, settings.prefix)
    return summary["inputs"] / wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=5000)
    ap.add_argument("--skip-two", action="store_true", help="skip the 2-process run")
    ap.add_argument("--skip-fast", action="store_true", help="skip the run with the second opinion off")
    ap.add_argument("--stage-docs", type=int, default=1000, help="documents timed stage by stage in-process")
    ap.add_argument("--workers-only", action="store_true",
                    help="only the 1- and 2-process worker runs (no bare extraction, no stage timing)")
    args = ap.parse_args()
    url = redis_url()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "corpus"
        files = build(folder, args.count)
        print(f"corpus: {len(files)} documents ({sum(f.stat().st_size for f in files) / 2**20:.0f} MiB)")
        if args.workers_only:
            one, two = end_to_end(folder, url, 1), end_to_end(folder, url, 2)
            print(f"end to end: 1 worker process {one:.1f} docs/s, 2 worker processes {two:.1f} docs/s = {two / one:.2f}x one")
            return
        bodies = load(files)
        ours, plain = extract_stage(bodies), bare_extraction(bodies)
        print(f"bare trafilatura.extract, 1 process: {plain:.1f} docs/s")
        print(f"Storyline's extract stage alone (trafilatura + readability second opinion + metadata + "
              f"language), 1 process: {ours:.1f} docs/s")
        stages = stage_costs(files[: args.stage_docs], url)
        print("ms per document and stage (in-process pipeline): " + ", ".join(
            f"{k} median {statistics.median(v):.2f} mean {statistics.fmean(v):.2f}" for k, v in stages.items() if v))
        one = end_to_end(folder, url, 1)
        print(f"end to end, 1 worker process: {one:.1f} docs/s = {one / plain:.0%} of bare trafilatura, "
              f"{one / ours:.0%} of Storyline's extract stage alone")
        if not args.skip_two:
            two = end_to_end(folder, url, 2)
            print(f"end to end, 2 worker processes: {two:.1f} docs/s = {two / one:.2f}x one process")
        if not args.skip_fast:
            os.environ["STORYLINE_EXTRACT__SECOND_OPINION"] = "false"  # read by Settings and the workers
            fast_alone = extract_stage(bodies, second_opinion=False)
            fast = end_to_end(folder, url, 1)
            print(f"second opinion off: extract stage alone {fast_alone:.1f} docs/s; end to end, 1 worker process: "
                  f"{fast:.1f} docs/s = {fast / plain:.0%} of bare trafilatura, {fast / fast_alone:.0%} of the extract stage alone")


if __name__ == "__main__":
    main()
