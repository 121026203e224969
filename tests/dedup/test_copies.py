"""The copy feed (tests/resources/copies, built by make_copies.py) through the real pipeline:
every copy points to its original, and no seed is a duplicate of another seed."""

from __future__ import annotations

from tests.conftest import RESOURCES, seed_paths
from worker.pipeline import InputDocument, Pipeline

COPIES = RESOURCES / "copies"


def _doc(path, doc_id):
    content_type = "text/html" if path.suffix == ".html" else None
    return InputDocument(doc_id, "file", str(path), path.read_bytes(), content_type=content_type)


def test_every_copy_points_to_its_original_and_no_seed_to_another(client, settings):
    pipeline = Pipeline(client, settings)
    seeds = seed_paths()
    for i, seed in enumerate(seeds):
        # 000 and 002 are two outlets' reports of one event: both must stay articles
        assert pipeline.process(_doc(seed, f"seed{i}")).status == "article", seed.name
    copies = sorted(COPIES.glob("[0-9][0-9][0-9]_*"))
    kinds = {p.name.split("_", 1)[1] for p in copies}
    assert kinds == {"chrome.txt", "chrome.html", "quotes.txt", "headline.txt", "edited.txt",
                     "truncated.txt", "truncated.html"}
    wrong = {}
    for n, copy in enumerate(copies):
        outcome = pipeline.process(_doc(copy, f"copy{n}"))
        original = f"seed{int(copy.name[:3])}"
        if (outcome.status, outcome.duplicate_of) != ("duplicate", original):
            wrong[copy.name] = (outcome.status, outcome.duplicate_of, original)
    assert not wrong
    assert len(copies) == 7 * len(seeds)
