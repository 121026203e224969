"""trafilatura's in-page author search (``trafilatura.metadata.extract_author``), answered in one
pass over the tree instead of a deep copy and five regex XPaths (pure).

Why hand-written: trafilatura looks for a byline in the markup when the page's meta tags and
JSON-LD name no author, which is most pages. It deep-copies the whole tree, deletes comment
sections, sidebars, figures and dates from the copy (``AUTHOR_DISCARD_XPATHS``), then runs
three XPaths over every element (``AUTHOR_XPATHS``). Their ``re:test`` calls back into Python
for each element, for each attribute tested: ~8 ms on a median page, a sixth of the whole extract
stage, and alone the margin between Storyline's cost and trafilatura defaults' (which extract
no metadata). trafilatura has no option to make it cheaper, so ``extract_html`` installs this
function in its place.

The answer is the same, by construction: the same predicates (attribute equalities, ``contains``
and the same regular expressions, ``re.search`` as lxml's EXSLT ``re:test`` does), the same
order (each expression's matches in document order, the first expression with a usable match
wins), and the same text: a match's subtree is copied and the discarded elements in it deleted
with trafilatura's own ``delete_element`` (tails kept), then joined as ``extract_metainfo``
does. Only the small subtrees of candidate bylines are copied, never the page.
``tests/extract/test_author.py`` checks the two give the same author on every page of the three
development sets' CI samples.
"""

from __future__ import annotations

import re
from copy import deepcopy

from lxml.etree import XPath
from lxml.html import HtmlElement
from trafilatura.json_metadata import normalize_authors
from trafilatura.utils import trim
from trafilatura.xml import delete_element

# -- AUTHOR_DISCARD_XPATHS (trafilatura/xpaths.py, 2.3) -------------------------------------------
_DISCARD_TAGS = frozenset(("a", "div", "section", "span"))
_DISCARD_ID = re.compile(r"^comments|comment-?list|ProductReviews")
_DISCARD_CLASS = re.compile(
    r"^[Cc]omments|commentlist|comments-list|sidebar|is-hidden|quote|embedly-instagram|article-(?:share|support)|"
    r"print|category|meta-date|meta-reviewer"
)
_ALWAYS_DISCARDED = frozenset(("time", "figure"))

# -- AUTHOR_XPATHS: three expressions, tried in order ---------------------------------------------
_TAGS_1 = frozenset(("a", "address", "div", "link", "p", "span", "strong"))
_CLASS_1 = re.compile(r"author-?name|AuthorName|authorName")
_TAGS_2 = frozenset(("a", "div", "h3", "h4", "p", "span"))
_CLASS_EQ_2 = frozenset(("byline", "username", "byl", "BBL"))
_ID_2 = re.compile(r"author|zuozhe|bianji|xiaobian")
_CLASS_2 = re.compile(r"author|channel-name|zuozhe|bianji|xiaobian|submitted-by|posted-by|journalist-name")
_ID_3 = re.compile(r"[Aa]uthor")
_CLASS_3 = re.compile(r"[Aa]uthor|screenname|writer|[Bb]yline")

#: longest byline text kept (extract_author's len_limit)
_LEN_LIMIT = 120


def _discarded(el: HtmlElement, tag: str, is_root: bool) -> bool:
    if tag in _ALWAYS_DISCARDED:
        return True
    if is_root or tag not in _DISCARD_TAGS:  # the first discard XPath is ".//*": the root is not its match
        return False
    ident, cls = el.get("id") or "", el.get("class") or ""
    return (
        ident == "comments" or cls in ("comments", "title", "date")
        or bool(_DISCARD_ID.search(ident)) or bool(_DISCARD_CLASS.search(cls))
        or "Figure" in (el.get("data-component") or "")
    )


def _has_rel_me(el: HtmlElement) -> bool:
    """XPath ``rel='me'`` in the first expression: a child *element* named rel whose string
    value is "me" (so it is in trafilatura's expression; it almost never matches)."""
    return any(c.tag == "rel" and c.xpath("string()") == "me" for c in el)


def _expression(el: HtmlElement, tag: str, check_rel: bool) -> int:
    """The first of AUTHOR_XPATHS that ``el`` matches (1-3), or 0."""
    cls, ident, itemprop = el.get("class"), el.get("id"), el.get("itemprop")
    if tag == "author" or (tag in _TAGS_1 and (
        el.get("rel") == "author" or ident == "author" or cls == "author" or itemprop == "author name"
        or el.get("data-testid") in ("AuthorCard", "AuthorURL") or (cls is not None and bool(_CLASS_1.search(cls)))
        or (check_rel and _has_rel_me(el))
    )):
        return 1
    cls, ident, itemprop = cls or "", ident or "", itemprop or ""
    if tag in _TAGS_2 and (
        cls in _CLASS_EQ_2 or "author" in itemprop or bool(_ID_2.search(ident)) or bool(_CLASS_2.search(cls))
    ):
        return 2
    if ("Byline" in (el.get("data-component") or "") or "author" in itemprop
            or bool(_ID_3.search(ident)) or bool(_CLASS_3.search(cls))):
        return 3
    return 0


#: the only elements either list of XPaths can match: those with an attribute they test, or of a
#: tag they name, or with a <rel> child (selected in C; the exact predicates run in Python on
#: these, about 60% of a page's elements, with no regular expression per element in XPath)
_MAY_MATCH = XPath(
    "//*[@class or @id or @itemprop or @rel or @data-testid or @data-component or self::time or self::figure "
    "or self::author or rel]"
)

#: a cheap first test of an element's class and id: every alternative of every predicate on
#: them contains one of these strings, so an element matching neither is skipped at once
_MAY_CLASS = re.compile(
    r"uthor|yline|writer|screenname|channel-name|zuozhe|bianji|xiaobian|submitted-by|posted-by|journalist-name|"
    r"omments|commentlist|sidebar|is-hidden|quote|embedly-instagram|article-|print|category|meta-date|meta-reviewer|"
    r"^(?:title|date|byline|username|byl|BBL)$"
)
_MAY_ID = re.compile(r"uthor|zuozhe|bianji|xiaobian|omment|ProductReviews")
_SPECIAL_TAGS = frozenset(("time", "figure", "author"))
_RARE_ATTRIBUTES = ("itemprop", "rel", "data-testid", "data-component")


def _text_without(el: HtmlElement, dropped: set[HtmlElement]) -> str:
    """``el``'s text as extract_metainfo reads it from the pruned copy of the page."""
    inner = [d for d in el.iterdescendants() if d in dropped]
    if not inner:
        return trim(" ".join(el.itertext()))
    copy = deepcopy(el)
    # the same elements of the copy, by position in document order, deleted outermost first
    outer = {id(d) for d in inner if not any(a in dropped for a in d.iterancestors() if a is not el)}
    for orig, dup in zip(list(el.iterdescendants()), list(copy.iterdescendants())):
        if id(orig) in outer:
            delete_element(dup)  # tail kept, as prune_unwanted_nodes does
    return trim(" ".join(copy.itertext()))


def extract_author(tree: HtmlElement) -> str | None:
    """Drop-in for ``trafilatura.metadata.extract_author``: the same answer (see the module's text)."""
    root = tree
    check_rel = tree.find(".//rel") is not None
    dropped: set[HtmlElement] = set()
    matches: tuple[list[HtmlElement], ...] = ([], [], [])
    for el in _MAY_MATCH(tree):
        tag = el.tag
        attrib = el.attrib
        if not (tag in _SPECIAL_TAGS or check_rel or _MAY_CLASS.search(attrib.get("class", ""))
                or _MAY_ID.search(attrib.get("id", "")) or any(a in attrib for a in _RARE_ATTRIBUTES)):
            continue  # most elements: no predicate below can accept them
        if _discarded(el, tag, el is root):
            dropped.add(el)
        else:
            n = _expression(el, tag, check_rel)
            if n:
                matches[n - 1].append(el)
    for found in matches:
        for el in found:
            # an element under a discarded one is not in the pruned copy trafilatura searches
            if any(a in dropped for a in el.iterancestors()):
                continue
            content = _text_without(el, dropped)
            if content and 2 < len(content) < _LEN_LIMIT:
                return normalize_authors(None, content)
    return None
