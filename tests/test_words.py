"""The Unicode-aware word measure: a sensible count in every script (str.split() gives 1 for
a whole Japanese sentence, and re's \\w splits Devanagari at its vowel signs)."""

import pytest

from worker.words import alphabetic_units, is_unspaced, units, word_count

CASES = [
    # (script, text, expected word_count): words where the script spaces them, characters where it does not
    ("latin", "Don't stop the state-run press, 2025.", 6),
    ("cyrillic", "Привет, мир! Как дела?", 4),
    ("arabic", "مرحبا بكم في الأخبار", 4),
    ("hebrew", "שלום עולם", 2),
    ("devanagari", "भारत की राजधानी नई दिल्ली में पढ़ाई", 7),
    ("hangul", "서울 시장은 오늘 발표했다", 4),
    ("japanese", "東京都は新型コロナウイルスの感染者を確認した。", 22),
    ("chinese", "国务院总理今天在北京会见了外国代表团。", 18),
]


@pytest.mark.parametrize("script,text,expected", CASES, ids=[c[0] for c in CASES])
def test_word_count_is_sensible_in_every_script(script, text, expected):
    assert word_count(text) == expected


def test_devanagari_words_keep_their_vowel_signs():
    assert units("पढ़ाई दिल्ली") == ["पढ़ाई", "दिल्ली"]


def test_thai_characters_keep_their_marks_and_count_one_each():
    us = units("มีฝน")
    assert us == ["มี", "ฝ", "น"]
    assert is_unspaced("ประเทศไทยมีฝนตก")


def test_mixed_japanese_with_latin_names_is_unspaced_and_counts_both():
    text = "トヨタ自動車のCEOは東京で発表した"
    assert is_unspaced(text)
    assert "CEO" in units(text)


def test_numbers_are_units_but_not_alphabetic():
    assert word_count("In 2025 the 3 men") == 5
    assert alphabetic_units("In 2025 the 3 men") == ["In", "the", "men"]


def test_cjk_is_told_from_other_unspaced_scripts():
    from worker.words import is_cjk

    assert is_cjk("東京都は新型コロナウイルスの感染者を確認した。")
    assert is_cjk("国务院总理今天在北京会见了外国代表团。")
    assert not is_cjk("ประเทศไทยมีฝนตก")
    assert not is_cjk("Tokyo said on Monday")


def test_prefix_end_counts_units_in_every_script():
    from worker.words import prefix_end

    assert prefix_end("one two, three four", 2) == len("one two")
    assert prefix_end("one two", 2) is None  # no more than n units: nothing to cut
    assert prefix_end("東京都は新型", 3) == 3  # one character, one unit
    assert prefix_end("Москва заявила сегодня", 1) == len("Москва")
    assert prefix_end("", 5) is None
