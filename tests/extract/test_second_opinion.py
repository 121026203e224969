"""Choosing between trafilatura's and readability's bodies, and teaser/headline removal (pure)."""

from __future__ import annotations

from worker.extract.second_opinion import choose_body, containment, drop_chrome_lines

ARTICLE = " ".join(f"Sentence {i} of the article tells readers about event number {i} in detail." for i in range(60))
TEASERS = "\n".join(f"Teaser headline {i} about something else entirely on this site" for i in range(30))


def test_trafilatura_is_kept_when_both_agree():
    assert choose_body(ARTICLE, ARTICLE).reason == "trafilatura"


def test_bloated_trafilatura_gives_way_to_readability_contained_in_it():
    choice = choose_body(ARTICLE + "\n" + TEASERS, ARTICLE)
    assert choice.reason == "readability:bloated" and choice.text == ARTICLE


def test_truncated_trafilatura_gives_way_to_readability_containing_it():
    half = ARTICLE[: len(ARTICLE) // 3]
    choice = choose_body(half, ARTICLE)
    assert choice.reason == "readability:truncated" and choice.text == ARTICLE


def test_readability_is_not_taken_when_it_found_another_text():
    other = " ".join(f"Comment {i}: I disagree with point {i} strongly and at length." for i in range(30))
    assert choose_body(ARTICLE, other).reason == "trafilatura"
    assert choose_body(ARTICLE, "").reason == "trafilatura"


def test_containment_is_directional():
    assert containment(ARTICLE[:2000], ARTICLE) > 0.99
    assert containment(ARTICLE, ARTICLE[:2000]) < 0.5


def test_repeated_headline_with_its_kicker_and_teaser_lines_are_dropped():
    paragraphs = ["World", "Talks resume in Paris", "Body paragraph one.", "READ MORE: Another story here",
                  "Related research shows the talks matter.", "DON'T MISS", "Body paragraph two."]
    assert drop_chrome_lines(paragraphs, title="Talks resume in Paris") == [
        "Body paragraph one.", "Related research shows the talks matter.", "Body paragraph two."]


def test_a_body_paragraph_above_a_repeated_headline_is_not_dropped():
    paragraphs = ["A long first paragraph that is part of the body, not a label.", "Talks resume", "More body."]
    assert drop_chrome_lines(paragraphs, title="Talks resume") == paragraphs


def test_readability_reads_a_page_with_control_characters_and_logs_no_error(caplog):
    # a vertical tab in a text node: readability moved it into a new <p>, lxml refused it
    # ("All strings must be XML compatible") and readability logged the traceback at ERROR
    from worker.extract.html import _readability_paragraphs

    page = ("<html><body><div><div><p>" + "The council met again. " * 10 + "</p>The vote\x0b followed. "
            + "Members spoke at length about the bridge. " * 20 + "</div></div></body></html>")
    with caplog.at_level("DEBUG"):
        paragraphs = _readability_paragraphs(page)
    assert any("The vote followed." in p for p in paragraphs)
    assert not [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")]
