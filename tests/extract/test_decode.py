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


@pytest.mark.parametrize("notice", [
    "Local council backs new bridge\n\nWe use cookies on our website to give you the best experience. Some cookies are "
    "needed for the site to work; others help us show personalised ads. By clicking accept you agree to our use of "
    "cookies. You can change your cookie settings at any time in your browser.",
    "Neue Brücke über den Rhein\n\nWir verwenden auf unserer Webseite Cookies, um Ihnen das beste Angebot zu zeigen. "
    "Mit der weiteren Nutzung erklären Sie sich mit dem Einsatz von Cookies einverstanden. Weitere Informationen "
    "finden Sie in unserer Datenschutzerklärung.",
    "Köprü projesi onaylandı\n\nSize daha iyi hizmet sunabilmek için sitemizde çerezler kullanıyoruz. Sitemizi "
    "kullanmaya devam ederek çerezleri kullanmamıza izin vermiş olursunuz. Gizlilik politikamızı okuyabilirsiniz.",
    # cookies named once, but consent and privacy asked for, and nothing else said
    "Stadtrat beschließt neue Brücke\n\nUm unsere Website zu verbessern und passende Werbung zu zeigen, sammeln wir "
    "technische Informationen über Sie. Einzelheiten zur Datenverarbeitung finden Sie in der Datenschutzerklärung "
    "und in den Regeln zur Cookies-Nutzung. Mit einem Klick auf „Akzeptieren“ stimmen Sie der Verarbeitung Ihrer "
    "Daten zu; Ihre Zustimmung können Sie jederzeit widerrufen.",
])
def test_a_cookie_or_consent_notice_is_not_an_article(notice):
    with pytest.raises(NoContent, match="consent notice"):
        extract_document(notice.encode(), uri="notice.txt", max_bytes=MAX, min_words=20)


def test_news_about_cookies_and_an_article_under_a_cookie_box_are_kept():
    news = ("Regulator fines ad firm over cookies\n\nThe data protection regulator fined an advertising firm on "
            "Tuesday for placing cookies without consent. The firm said it would accept the ruling and change its "
            "cookie settings for users across Europe, where privacy rules are strict. Campaigners said the fine was "
            "too small and asked other regulators to follow.")
    assert "cookies" in extract_document(news.encode(), uri="news.txt", max_bytes=MAX, min_words=20).text
    # a report that names a cookie banner once and quotes "our website" has sentences of its own
    fine = ("Retailer fined over data use\n\nA retailer was fined on Monday for sharing customers' personal data "
            "without consent. 'We take privacy seriously and have updated our website,' a spokesman said. The "
            "regulator said a cookie banner alone did not amount to consent. The retailer can appeal within 30 "
            "days, and said it would.")
    assert "retailer" in extract_document(fine.encode(), uri="fine.txt", max_bytes=MAX, min_words=20).text
    boxed = ("Storm closes harbour\n\nWe use cookies on our website. Accept cookies to continue.\n\n" + " ".join(
        ["The harbour was closed on Monday as a storm brought winds of over 100 km/h to the coast, and ferries "
         "stayed in port while crews checked the sea walls."] * 3) + " Officials said the harbour would reopen once "
        "the wind dropped, probably on Wednesday, and asked drivers to avoid the coast road.")
    assert "harbour" in extract_document(boxed.encode(), uri="boxed.txt", max_bytes=MAX, min_words=20).text


@pytest.mark.parametrize("page", [
    "Przykro nam, ale z Twojego adresu IP odnotowaliśmy bardzo wiele połączeń.\n\nJeśli chcesz kontynuować, "
    "zaznacz pole NIE JESTEM ROBOTEM.\n\nTwój adres IP: 192.0.2.10",
    "Access denied\n\nWe have detected unusual traffic from your computer network. Please complete the CAPTCHA "
    "to show you are not a robot. Your IP address: 192.0.2.10",
])
def test_a_bot_check_or_block_page_is_not_an_article(page):
    with pytest.raises(NoContent, match="bot check"):
        extract_document(page.encode(), uri="blocked.txt", max_bytes=MAX, min_words=10)


def test_a_report_naming_one_block_phrase_is_kept():
    brief = ("Hackers hit city website\n\nThe city's website was down for six hours on Monday after an attack that "
             "flooded it with requests, officials said. Investigators traced the attack to one IP address abroad and "
             "said no personal data was taken. The site was back by the evening.")
    assert "Investigators" in extract_document(brief.encode(), uri="brief.txt", max_bytes=MAX, min_words=10).text


def test_media_players_fallback_sentences_are_dropped_from_scrapes_and_pages():
    body = ("Young opener Manjot Kalra has been suspended for one year from the Ranji Trophy for an alleged age "
            "fraud during his junior days, the outgoing ombudsman ruled on Friday. Another junior star's case has "
            "been referred to the national board, since he now plays senior cricket for another state.")
    scrape = ("Opener suspended\n\nYour browser does not support the audio element. " + body + "\n\nTo view this "
              "video please enable JavaScript, and consider upgrading to a web browser that supports HTML5 video")
    text = extract_document(scrape.encode(), uri="s.txt", max_bytes=MAX, min_words=20).text
    assert "browser" not in text and text.startswith("Young opener")
    page = (f"<html><body><article><h1>Opener suspended</h1><p>Ihr Browser unterstützt das Video-Element nicht.</p>"
            f"<p>{body}</p></article></body></html>")
    text = extract_document(page.encode(), uri="p.html", max_bytes=MAX, min_words=20).text
    assert "Browser" not in text and "Young opener" in text
    # a report that mentions browsers keeps its words
    news = "Browser makers agree on standard\n\n" + body.replace("Young opener", "Your browser does not support it yet, but young opener")
    assert "Your browser does not support it yet" in extract_document(news.encode(), uri="n.txt", max_bytes=MAX, min_words=20).text


def test_mojibake_in_a_text_is_repaired():
    # UTF-8 read as Latin-1 upstream: "für" came as "fÃ¼r"
    good = ("Raupen fressen Plastik\n\nDie Raupen der Großen Wachsmotte verbringen ihre Zeit für gewöhnlich damit, "
            "sich in Bienenstöcken mit Wachs und Honig vollzustopfen, bis sie sich verpuppen. Forscher einer "
            "Universität in Kanada haben nun entdeckt, dass sie auch Plastik fressen können.")
    bad = good.encode("utf-8").decode("latin-1")
    assert "Ã¼" in bad
    article = extract_document(bad.encode("utf-8"), uri="moji.txt", max_bytes=MAX, min_words=20)
    assert "für gewöhnlich" in article.text and "Ã" not in article.text
    # a text without the marks is returned as it came
    assert extract_document(good.encode(), uri="ok.txt", max_bytes=MAX, min_words=20).text == article.text
