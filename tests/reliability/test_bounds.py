"""Issue 19, item 8: the work of one input is bounded before extraction. A 3 MB page of <p>
tags took ~243 s of a pool process and 1.4 GB on the old code; it must end quickly as too_large
through a real worker, while real pages stay far below the bound."""

from __future__ import annotations

import uuid

import pytest

from tests.conftest import RESOURCES
from tests.flow import events, submit, wait_outcomes
from worker.errors import TooLarge
from worker.extract.bounds import MAX_TAGS, check_markup, count_tags


def test_start_tags_are_counted_and_the_bound_is_exact():
    assert count_tags("<p>a</p><!-- c --><br/>1 < 2<?x?><DIV>") == 3
    assert count_tags("<p>" * 10, stop_after=4) == 4
    check_markup("<p>" * MAX_TAGS)
    with pytest.raises(TooLarge, match="HTML tags"):
        check_markup("<p>" * (MAX_TAGS + 1))
    # more "<" than the bound, but few of them start a tag: counted, and passed
    check_markup("1 < 2 " * (MAX_TAGS + 1) + "<p>" * 10)
    with pytest.raises(TooLarge):
        check_markup("1 < 2 " * 10 + "<p>" * (MAX_TAGS + 1))


def test_real_pages_are_far_below_the_bound():
    pages = sorted(RESOURCES.rglob("*.html"))
    assert pages
    assert max(count_tags(p.read_text(encoding="utf-8", errors="replace")) for p in pages) < MAX_TAGS // 4


@pytest.mark.slow
def test_a_page_of_a_million_tags_ends_quickly_as_too_large(celery_worker, client, keys):
    run_id = uuid.uuid4().hex[:8]
    page = b"<html><head><title>tags</title></head><body>" + b"<p>" * 1_000_000 + b"</body></html>"
    doc_id = submit(celery_worker, keys, run_id, "tags.html", page)
    good = submit(celery_worker, keys, run_id, "good.html", (RESOURCES / "copies" / "000_chrome.html").read_bytes())
    # the old code spent minutes of the worker on it; 60 s is a generous wait for a bounded input
    outcomes = wait_outcomes(client, keys, run_id, 2, timeout=60)
    assert outcomes[doc_id]["status"] == "dead_letter" and outcomes[doc_id]["error_type"] == "too_large"
    assert outcomes[good]["status"] == "article"
    (letter,) = [d for d in events(client, keys.dead_letter) if d["source"]["uri"] == "tags.html"]
    assert letter["stage"] == "extract" and "HTML tags" in letter["message"]
