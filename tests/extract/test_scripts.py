"""Real pages of the three development sets in each non-Latin script: extracted, not
dead-lettered, and with a word_count that is sensible for the script (characters in Chinese
and Japanese, words elsewhere). On the old str.split() count, the Japanese benchmark page was
refused as "only 18 words"."""

from __future__ import annotations

import pytest
import regex

from bench.extraction import LOADERS, MAX_BYTES, MIN_WORDS
from worker.extract import check_prose, extract_document
from worker.words import word_count

#: (set, page id, script) -- every script of the sets other than Latin
PAGES = [
    ("extraction-benchmark", "85439e26c41c75901820d01a13e8cea7836abb58635ea3986f71a163ab0311d3", "japanese"),
    ("extraction-benchmark", "f105de6e63ca91ea482f60193f6252092557f969f2fd128ff68c0d4d6b90dd7d", "japanese"),
    ("readability-pages", "qq", "chinese"),
    ("readability-pages", "gmw", "chinese"),
    ("trafilatura-eval", "nhk.or.jp.k100.html", "japanese"),
    ("extraction-benchmark", "0ec95c7261d122f304728e90c983450ef1ce1e0b423546835c397d50aaf0d0f2", "hangul"),
    ("extraction-benchmark", "3c6d3381ef52ca26be2fbde19c1b0fe17d85682b726dfecf5e300c1ca34546b1", "cyrillic"),
    ("trafilatura-eval", "football.ua.podolski.html", "cyrillic"),
    ("trafilatura-eval", "assabah.com.tn.article.html", "arabic"),
    ("trafilatura-eval", "ukbdnews.com.23646.html", "bengali"),
]
_CJK = regex.compile(r"[\p{Han}\p{Hiragana}\p{Katakana}]")

_cache: dict[str, dict] = {}


def _page(set_name: str, page_id: str):
    if set_name not in _cache:
        _cache[set_name] = {p.id: p for p in LOADERS[set_name](sample=True)}
    return _cache[set_name][page_id]


@pytest.mark.parametrize("set_name,page_id,script", PAGES, ids=[f"{p[2]}-{p[1][:12]}" for p in PAGES])
def test_page_is_extracted_with_a_sensible_word_count(set_name, page_id, script):
    page = _page(set_name, page_id)
    article = extract_document(page.raw, uri="page.html", url=page.url, content_type="text/html",
                               max_bytes=MAX_BYTES, min_words=MIN_WORDS)  # the pipeline's own gate
    spaced = len(article.text.split())
    if script in ("japanese", "chinese"):
        cjk = len(_CJK.findall(article.text))
        # one unit per character: at least every Han/kana character, far more than spaces give
        assert article.word_count >= cjk > 0
        assert article.word_count >= 3 * spaced
    else:
        # words: close to what the spaces say (punctuation-only tokens aside)
        assert 0.75 * spaced <= article.word_count <= 1.2 * spaced
    assert article.word_count >= MIN_WORDS


HEBREW = ("ממשלת ישראל אישרה היום את התקציב החדש לשנה הבאה לאחר דיון ארוך בכנסת. שר האוצר אמר כי "
          "התקציב יחזק את הכלכלה ויסייע למשפחות צעירות, בעוד האופוזיציה טענה כי הוא פוגע בשירותים "
          "הציבוריים ובמערכת הבריאות. ההצבעה הסופית צפויה בשבוע הבא.")
THAI = ("กรุงเทพมหานครประกาศมาตรการใหม่เพื่อลดปัญหาฝุ่นละอองขนาดเล็กในช่วงฤดูหนาว โดยจะจำกัดการใช้รถบรรทุกในเขตเมือง"
        "และขอความร่วมมือประชาชนให้ใช้ระบบขนส่งสาธารณะมากขึ้น ผู้ว่าราชการกล่าวว่ามาตรการนี้จะเริ่มตั้งแต่สัปดาห์หน้า")
HINDI = ("भारत सरकार ने आज नई शिक्षा नीति के तहत स्कूलों में पढ़ाई के घंटे बढ़ाने की घोषणा की। शिक्षा मंत्री ने कहा कि "
         "इससे ग्रामीण क्षेत्रों के छात्रों को सबसे अधिक लाभ मिलेगा और शिक्षकों की भर्ती भी की जाएगी। विपक्ष ने इस "
         "फैसले का स्वागत किया लेकिन धन की कमी पर सवाल उठाए।")


@pytest.mark.parametrize("text,script", [(HEBREW, "hebrew"), (THAI, "thai"), (HINDI, "devanagari")])
def test_scripts_absent_from_the_sets_pass_the_prose_gate(text, script):
    """No page of the sets is in Hebrew, Thai or Devanagari: a short news paragraph in each
    must pass the gate (the old \\w regex refused Hindi as "not prose") with a sensible count."""
    check_prose(text, min_words=MIN_WORDS, max_words=50_000)
    if script == "thai":
        assert word_count(text) > 100  # characters (with their marks): no spaces inside sentences
    else:
        assert word_count(text) == pytest.approx(len(text.split()), rel=0.1)


def test_text_drawn_from_a_few_dozen_han_characters_is_not_prose():
    """5,000 random characters of a 64-character alphabet: as many units as a long article, but
    a real Chinese text of 2,500 characters uses hundreds of distinct ones."""
    import random

    from worker.errors import NoContent
    from worker.extract import check_prose

    rnd = random.Random(7)
    garbage = "".join(chr(rnd.choice(range(0x4E00, 0x4E40))) for _ in range(5000))
    with pytest.raises(NoContent, match="not prose"):
        check_prose(garbage, min_words=20, max_words=100_000)
