"""worker/extract/author.py stands in for trafilatura's ``extract_author``: it must give the
same answer, which is the point of it (the same bylines, at a fraction of the cost)."""

from __future__ import annotations

from copy import deepcopy

import lxml.html
import pytest
import trafilatura.htmlprocessing
import trafilatura.metadata
from trafilatura.json_metadata import normalize_authors
from trafilatura.utils import load_html
from trafilatura.xpaths import AUTHOR_DISCARD_XPATHS, AUTHOR_XPATHS

from bench.extraction import LOADERS
from worker.extract.author import extract_author


def trafilatura_author(tree):
    """trafilatura 2.3's extract_author, as written there (html.py replaces the module's)."""
    subtree = trafilatura.htmlprocessing.prune_unwanted_nodes(deepcopy(tree), AUTHOR_DISCARD_XPATHS)
    author = trafilatura.metadata.extract_metainfo(subtree, AUTHOR_XPATHS, len_limit=120)
    return normalize_authors(None, author) if author else author


CASES = [
    # a byline in a span, a date inside it that the copy prunes (its tail kept)
    '<html><body><p class="byline">By Jane Doe<time>2 May 2024</time>, Reuters</p></body></html>',
    # the first expression wins over an earlier match of the third
    '<html><body><div class="writer">Desk Page</div><a rel="author">John Roe</a></body></html>',
    # a byline inside the comments section is not the article's
    '<html><body><div id="comments"><span class="author">A Commenter</span></div>'
    '<span class="author-name">Maria Rossi</span></body></html>',
    # inside a figure (discarded), then a Chinese editor's id
    '<html><body><figure><span class="author">Photo Person</span></figure><div id="zuozhe">李明</div></body></html>',
    # too long to be a byline: the next candidate
    '<html><body><span class="author">' + "word " * 40 + '</span><p class="byl">Ann Lee</p></body></html>',
    # nothing that names an author
    '<html><body><p class="lead">Some text.</p></body></html>',
    # a sidebar with an author box, and the article's data-component byline
    '<html><body><aside><div class="sidebar"><span class="author">Sidebar Sam</span></div></aside>'
    '<div data-component="Byline">Kim Park</div></body></html>',
]


@pytest.mark.parametrize("html", CASES)
def test_same_answer_as_trafilatura_on_crafted_bylines(html):
    tree = lxml.html.fromstring(html)
    assert extract_author(tree) == trafilatura_author(tree)


def test_finds_the_byline_and_skips_pruned_sections():
    tree = lxml.html.fromstring(CASES[2])
    assert extract_author(tree) == "Maria Rossi"
    assert extract_author(lxml.html.fromstring(CASES[0])) == trafilatura_author(lxml.html.fromstring(CASES[0]))


def test_html_installs_it_in_trafilatura():
    import worker.extract.html  # noqa: F401

    assert trafilatura.metadata.extract_author is extract_author


@pytest.mark.slow
@pytest.mark.parametrize("set_name", list(LOADERS))
def test_same_answer_as_trafilatura_on_every_sample_page(set_name):
    differ = []
    for page in LOADERS[set_name](sample=True):
        tree = load_html(page.html)
        if tree is not None and extract_author(tree) != trafilatura_author(tree):
            differ.append(page.id)
    assert not differ, f"{set_name}: author differs from trafilatura's on {differ}"
