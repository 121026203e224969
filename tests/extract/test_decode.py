"""Bytes that are not usable text are refused with the reason."""

from __future__ import annotations

import gzip

import pytest

from worker.errors import EmptyInput, NotText, TooLarge, UndecodableText
from worker.extract import extract_document
from worker.errors import NoContent
from worker.extract.decode import decode_body

MAX = 1_000_000


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        (b"", EmptyInput),
        (b"   \n\t ", EmptyInput),
        (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, NotText),
        (gzip.compress(b"hello " * 1000), NotText),
        (bytes(range(256)) * 50, NotText),
        (b"x" * (MAX + 1), TooLarge),
    ],
    ids=["empty", "whitespace", "png", "gzip", "random-binary", "too-large"],
)
def test_unusable_bytes_are_refused(raw, error):
    with pytest.raises(error):
        decode_body(raw, max_bytes=MAX)


def test_latin1_and_utf16_without_bom_are_decoded():
    text = "Zürich: les négociations ont repris à Genève. " * 20
    assert decode_body(text.encode("latin-1"), max_bytes=MAX) == text
    assert "Genève" in decode_body(text.encode("utf-16-le"), max_bytes=MAX)


def test_declared_charset_wins():
    text = "Привет мир, это новости дня. " * 10
    assert decode_body(text.encode("cp1251"), max_bytes=MAX, declared_charset="cp1251") == text


def test_text_with_only_chrome_is_no_content():
    with pytest.raises(NoContent):
        extract_document(b"Related Posts\n\nLEAVE A REPLY\n\nPopular Articles\n", uri="x.txt", max_bytes=MAX, min_words=20)


def test_undecodable_is_a_permanent_error():
    # a body that says it is UTF-16 (its BOM) but does not decode as UTF-16: cut in the middle of
    # a character, or holding a lone surrogate. No charset guess may turn it into text. (The
    # version before fed bytes that some single-byte charset decodes, and passed either way.)
    import codecs

    text = "News of the day, and more news. ".encode("utf-16-le") * 20
    for raw in (codecs.BOM_UTF16_LE + text + b"N", codecs.BOM_UTF16_LE + text + b"\x00\xd8N\x00"):
        with pytest.raises(UndecodableText, match="utf-16"):
            decode_body(raw, max_bytes=MAX)


def test_a_registration_wall_is_not_an_article():
    wall = ("Oil to outperform TAKE A FREE TRIAL Registered users can read up to 3 reports. Enter your details "
            "below for immediate access. Note our system only accepts work email addresses. The password for your "
            "account must be at least 8 characters long. Email address First Name Last Name Organisation Job Title")
    with pytest.raises(NoContent, match="registration or paywall"):
        extract_document(wall.encode(), uri="wall.txt", max_bytes=MAX, min_words=20)


def test_an_article_ending_in_a_signup_box_is_kept():
    from tests.conftest import seed_paths

    body = seed_paths()[0].read_text() + "\nRegister now\nEmail address\nFirst name\nPassword\n"
    assert extract_document(body.encode(), uri="x.txt", max_bytes=MAX, min_words=20).word_count > 300
