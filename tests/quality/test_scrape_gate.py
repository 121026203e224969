"""CI quality gate for plain-text scrapes: the scrape cleaner (``extract_document`` on a ``.txt``
input) scored on scrapes made from the three extraction samples in bench/data (each page's
visible text, a line per block element, chrome and all: ``bench/scrapes.py``), in each set's own
metric. It fails when a set's F1 drops under its floor, pinned just under the figure measured when
the floor was set (README, "Extraction quality and cost"). No timings here."""

from __future__ import annotations

import pytest

from bench.extraction import LOADERS, score_corpus, score_page
from bench.scrapes import scrape_of, storyline

#: measured with the densest-block rule minus 0.005; the cleaner before it scored 0.730 / 0.718 / 0.814
FLOORS = {
    "extraction-benchmark": 0.835,  # measured 0.8409
    "trafilatura-eval": 0.842,  # measured 0.8471 on the 250-page sample
    "readability-pages": 0.845,  # measured 0.8503
}


@pytest.mark.slow
@pytest.mark.parametrize("set_name", list(FLOORS))
def test_scrape_f1_holds_its_floor(set_name):
    records = []
    for page in LOADERS[set_name](sample=True):
        scrape = scrape_of(page)
        if page.truth_text.strip() and scrape:
            records.append(score_page(page, storyline(scrape)))
    f1 = score_corpus(set_name, records)["f1"]
    assert f1 >= FLOORS[set_name], f"{set_name}: scrape F1 {f1:.4f} under its floor {FLOORS[set_name]}"
