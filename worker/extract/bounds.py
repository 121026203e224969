"""Bounds on the work one input may cost before extraction starts (pure, no I/O).

Extraction (lxml, trafilatura, readability) costs more than linearly in the number of elements
of a page: 3 MB of ``<p>`` tags (a million elements) took ~243 s of a pool process and 1.4 GB,
near Celery's soft limit, where the byte limit alone let it through. Counting tags is one regex
pass (tens of ms on 10 MB), so a page over the bound is refused before any parser sees it.

``MAX_TAGS`` was chosen across the three HTML sets of shared/data: their largest pages hold
1,737 (extraction-benchmark, 181 pages), 9,892 (readability-pages, 260) and 10,126
(trafilatura-eval, 990) start tags. A bound fit on any two sets (10,126) refuses no page of the
third, and five times it keeps the costliest shape measured (a list of 25,000 links) at ~9 s
and ~160 MB: far from the soft limit, and no real page comes near it.
"""

from __future__ import annotations

import re

from worker.errors import TooLarge

#: most start tags an HTML page may have (see the module's docstring for how it was chosen)
MAX_TAGS = 50_000

#: a start tag: '<' then a letter ('</p>', '<!--', '<?xml' and a '<' in text are not counted)
_START_TAG = re.compile(r"<[A-Za-z]")


def count_tags(html: str, stop_after: int | None = None) -> int:
    """Start tags in ``html``, counting no further than ``stop_after`` (when given)."""
    n = 0
    for n, _ in enumerate(_START_TAG.finditer(html), 1):
        if stop_after is not None and n >= stop_after:
            break
    return n


def check_markup(html: str, *, max_tags: int = MAX_TAGS) -> None:
    """Refuse (TooLarge, permanent) a page with more than ``max_tags`` start tags."""
    if html.count("<") <= max_tags:
        return  # every start tag opens with "<": no page under the bound needs the regex pass
    if count_tags(html, stop_after=max_tags + 1) > max_tags:
        raise TooLarge(f"over {max_tags:,} HTML tags: more markup than any news page holds, and too costly to "
                       "extract (worker/extract/bounds.py, MAX_TAGS)")
