"""OPML 2.0, the feed readers' subscription list: import (every outline with an ``xmlUrl``, at
any depth) and export. Hand-written on lxml because no maintained library both reads and writes
OPML with our two extra attributes; the parser resolves no entities and fetches nothing.

Storyline's own attributes, which other readers ignore (OPML allows any attribute on an
outline): ``storylineEvery`` (polling interval, seconds) and ``storylinePaused`` ("1")."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import format_datetime

from lxml import etree

#: an OPML file larger than this is refused (a reader's export is a few hundred KiB at most)
MAX_BYTES = 10 * 2**20


@dataclass(frozen=True)
class Outline:
    url: str
    title: str = ""
    every_seconds: int | None = None
    paused: bool = False


def parse_opml(data: bytes) -> list[Outline]:
    """The feeds of an OPML document, in document order, each URL once. Raises ValueError when
    the document is not OPML."""
    if len(data) > MAX_BYTES:
        raise ValueError(f"the OPML file is over {MAX_BYTES:,} bytes")
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, load_dtd=False)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise ValueError(f"not an XML document: {exc}") from exc
    if etree.QName(root).localname.lower() != "opml" or root.find("body") is None:
        raise ValueError("not an OPML document (no <opml> root with a <body>)")
    out: dict[str, Outline] = {}
    for node in root.find("body").iter("outline"):
        url = (node.get("xmlUrl") or node.get("xmlurl") or "").strip()
        if not url or url in out:
            continue
        every = node.get("storylineEvery")
        out[url] = Outline(url=url, title=(node.get("title") or node.get("text") or "").strip(),
                           every_seconds=int(every) if every and every.isdigit() else None,
                           paused=node.get("storylinePaused") == "1")
    return list(out.values())


def to_opml(feeds: Iterable[object], title: str = "Storyline feeds") -> str:
    """An OPML 2.0 document of feed states (``FeedState``: url, every_seconds, paused)."""
    root = etree.Element("opml", version="2.0")
    head = etree.SubElement(root, "head")
    etree.SubElement(head, "title").text = title
    etree.SubElement(head, "dateCreated").text = format_datetime(datetime.now(timezone.utc))
    body = etree.SubElement(root, "body")
    for feed in feeds:
        attrs = {"type": "rss", "text": feed.url, "xmlUrl": feed.url,  # type: ignore[attr-defined]
                 "storylineEvery": str(feed.every_seconds)}  # type: ignore[attr-defined]
        if getattr(feed, "paused", 0):
            attrs["storylinePaused"] = "1"
        etree.SubElement(body, "outline", attrs)
    text: bytes = etree.tostring(root, pretty_print=True, xml_declaration=True, encoding="UTF-8")
    return text.decode("utf-8")
