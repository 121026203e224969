"""trafilatura's fast path returning the page's menu instead of its article: a body that is
mostly one-line list items asks readability, whose text is kept unless it is a list too
(worker/extract/html.py, ``LIST_BODY_SHARE``)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from worker.extract import extract_document
from worker.extract.html import is_list

DATA = Path(__file__).resolve().parents[2] / "bench" / "data"

#: a Brazilian city's news page (extraction benchmark): trafilatura's fast body is the site's
#: 850-line menu ("Acesso à Informação", "Protocolo", "Ouvidoria", ...), the article 4 paragraphs
MENU_PAGE = "f6ac15a4d98511396da23e4428deb5605422b1c8bbc8284e771f6896bdccf57f"


def test_a_menu_body_is_replaced_by_the_article():
    raw = gzip.decompress((DATA / "extraction-benchmark" / "html" / f"{MENU_PAGE}.html.gz").read_bytes())
    truth = json.loads((DATA / "extraction-benchmark" / "ground-truth.json").read_text(encoding="utf-8"))[MENU_PAGE]
    article = extract_document(raw, uri="page.html", content_type="text/html", max_bytes=10_000_000, min_words=1)
    assert article.body_source == "readability:list"
    assert "Ouvidoria" not in article.text
    first = truth["articleBody"].split("\n")[0].strip()
    assert first[:60] in article.text


def test_a_german_page_whose_fast_body_is_its_link_lists():
    # trafilatura-eval's mix1.de-clio: the fast body is 148 lines, most of them links
    raw = gzip.decompress((DATA / "trafilatura-eval" / "html" / "mix1.de-clio.html.gz").read_bytes())
    article = extract_document(raw, uri="page.html", content_type="text/html", max_bytes=10_000_000, min_words=1)
    assert article.body_source == "readability:list"
    assert not is_list(article.text)


def test_a_list_is_told_by_the_characters_of_its_short_lines_in_every_script():
    menu = "\n".join(["Home", "Politik", "Wirtschaft", "Sport", "ニュース", "الأخبار", "Контакты"] * 20)
    prose = ("Der Stadtrat hat am Dienstag beschlossen, die Brücke über den Fluss bis zum Herbst "
             "für Lastwagen zu sperren, weil Gutachter Risse in den Pfeilern gefunden haben.")
    assert is_list(menu)
    assert not is_list(prose)
    # one short line over a long paragraph: a heading, not a list
    assert not is_list("Brücke gesperrt\n" + prose * 3)
    # more of the characters in short lines than in the prose line: a list
    assert is_list("\n".join(["Home", "Politik", "Sport"] * 6) + "\n" + prose[:66])
    # a CJK sentence is one line of many units (characters), not a list item
    assert not is_list("市议会周二决定，在秋季之前禁止卡车通过这座桥，因为专家在桥墩上发现了裂缝。")
    assert not is_list("")


def test_an_article_with_a_short_fact_list_keeps_trafilatura_body():
    # bullet facts inside a long article are well under half of its characters
    paras = [
        "The council closed the old river bridge to lorries on Tuesday after engineers found cracks in two of its piers.",
        "Residents of the east bank said the detour through the industrial estate adds twenty minutes to every trip.",
        "The mayor promised a temporary steel span before winter, paid for from the reserve fund set aside last year.",
        "Hauliers warned that the nearest crossing cannot carry their heaviest vehicles, so some deliveries will stop.",
        "Police will watch both approaches, and drivers who ignore the new signs face fines from next Monday onwards.",
        "An inspection in 2019 had rated the structure fair, although it noted rust on the bearings under the deck.",
        "Opposition councillors asked why repairs promised then were postponed twice and never put out to tender.",
        "A full report on the state of every bridge in the district is due in spring, the transport office said.",
    ]
    facts = ["Length: 240 m", "Built: 1962", "Closed: 12 May", "Detour: 8 km"]
    html = ("<html><head><title>Bridge closed</title></head><body><article><h1>Bridge closed</h1>"
            + "".join(f"<p>{p}</p>" for p in paras[:4]) + "<ul>" + "".join(f"<li>{f}</li>" for f in facts) + "</ul>"
            + "".join(f"<p>{p}</p>" for p in paras[4:]) + "</article></body></html>")
    article = extract_document(html.encode(), uri="page.html", content_type="text/html", max_bytes=10_000_000, min_words=1)
    assert article.body_source == "trafilatura"
    assert "Built: 1962" in article.text
