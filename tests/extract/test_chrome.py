"""Site chrome learned from the stream: the pure decision, the shared Redis state, and the
pipeline feeding it through a real Celery worker."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from tests.flow import wait_outcomes
from worker.extract.chrome import SiteChrome, chrome_lines, fingerprint, site_of
from worker.pipeline import InputDocument
from worker.settings import ChromeSettings
from worker.runtime.messages import encode_document

SETTINGS = ChromeSettings(min_pages=3, min_share=0.5)
RESOURCES = Path(__file__).resolve().parents[1] / "resources" / "rewrapped"


def test_a_line_on_most_of_a_sites_pages_is_chrome_and_a_rare_one_is_not():
    counts = {fingerprint("Support us from £5 a month"): 9, fingerprint("A quote reused twice"): 2}
    found = chrome_lines(["Support us from £5 a month", "A quote reused twice", "New line"], counts, 10, SETTINGS)
    assert found == {"Support us from £5 a month"}


def test_nothing_is_learned_from_too_few_pages_or_a_minority_of_them():
    line = "Subscribe to the Ledger"
    assert chrome_lines([line], {fingerprint(line): 2}, 2, SETTINGS) == set()
    assert chrome_lines([line], {fingerprint(line): 4}, 10, SETTINGS) == set()  # 40% < 50%


def test_fingerprint_ignores_case_spacing_and_digits():
    assert fingerprint("© 2025  The Ledger") == fingerprint("© 2026 the ledger")
    assert fingerprint("The Ledger") != fingerprint("The Leader")


def test_site_is_the_registered_domain_or_the_host_without_www():
    assert site_of("https://www.bbc.co.uk/news/x") == site_of("https://bbc.co.uk/sport") == "bbc.co.uk"
    assert site_of("https://www.harborledger.example/a") == "harborledger.example"
    assert site_of(None) is None


def test_counts_are_shared_in_redis_and_a_redelivered_page_counts_once(client, keys):
    first, second = SiteChrome(client, keys, SETTINGS), SiteChrome(client, keys, SETTINGS)  # two workers
    pitch = "The Ledger is reader-funded. Support us."
    news = ["Ferries run late.", "Council meets today.", "Storm hits coast."]
    for n in range(3):
        lines = [pitch, news[n]]
        assert (first if n % 2 else second).check_and_record("ledger.example", f"doc{n}", lines) == set()
    assert first.check_and_record("ledger.example", "doc2", [pitch]) == {pitch}  # known from 3 pages...
    assert int(client.get(keys.chrome_pages("ledger.example"))) == 3  # ...and doc2 was not counted again
    assert second.known("ledger.example", [pitch, news[1]]) == {pitch}
    assert second.known("other.example", [pitch]) == set()  # learned per site


def test_a_site_keeps_its_most_frequent_lines_within_the_cap(client, keys):
    small = ChromeSettings(min_pages=3, min_share=0.5, max_lines_per_site=20)
    chrome = SiteChrome(client, keys, small)
    for n in range(12):
        body = [f"body line {chr(97 + n)}{chr(97 + k)}" for k in range(10)]  # distinct without digits
        chrome.check_and_record("busy.example", f"d{n}", ["Sign up for the Busy Brief", *body])
    assert client.zcard(keys.chrome_lines("busy.example")) == 20
    assert chrome.known("busy.example", ["Sign up for the Busy Brief"]) == {"Sign up for the Busy Brief"}


def test_workers_learn_a_sites_chrome_from_the_stream(celery_worker, client, keys, settings):
    """Pages with URLs go through the real pipeline; the site's pitch, on every page, is
    learned in Redis, and article lines are not."""
    manifest = json.loads((RESOURCES / "manifest.json").read_text(encoding="utf-8"))
    site = manifest["sites"]["harborledger"]
    for seed, url in site["urls"].items():
        doc = InputDocument(uuid.uuid4().hex[:16], "url", url, (RESOURCES / "harborledger" / f"{seed}.txt").read_bytes(),
                            url=url, run_id="chrome")
        celery_worker.send_task("storyline.ingest", args=[encode_document(doc)], queue=keys.queue, task_id=doc.doc_id)
    outcomes = wait_outcomes(client, keys, "chrome", 5)
    assert {o["status"] for o in outcomes.values()} == {"article"}
    learned = SiteChrome(client, keys, settings.chrome)
    assert int(client.get(keys.chrome_pages("harborledger.example"))) == 5
    body = manifest["articles"]["000"]["paragraphs"]
    assert learned.known("harborledger.example", [site["learned_only_chrome"], *body]) == {site["learned_only_chrome"]}
