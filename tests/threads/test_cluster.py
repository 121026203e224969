from __future__ import annotations

import math

import pytest

from worker.threads.cluster import (
    Cluster, best_watched, choose, cluster_time, compound_parts, cosine, decay, definition_vector, entities,
    features, key_terms, mentions, merge, stem, thread_label, tokens, vectorise,
)


def _vec(title, text):
    return vectorise(features(title, text, "en"), {}, 0, "en", 60)


def test_common_words_weigh_less_than_rare_names():
    v = _vec("Talks", "The negotiators said that Zelensky and Putin met in Istanbul, the officials said.")
    assert v["zelenski"] > v.get("said", 0.0)  # "said" is a stop word now
    assert "the" not in v or v["the"] < v["istanbul"]


def test_inflected_forms_share_a_stem():
    a = _vec("Births fall", "The number of births fell again.")
    b = _vec("Birth rate falls", "The birth rate fell to a record low.")
    assert "birth" in a and "birth" in b and cosine(a, b) > 0.3


def test_entities_are_runs_of_capitalised_words_not_sentence_openers():
    found = [key for key, _ in entities(tokens(
        "The Supreme Court ruled on Monday. After the ruling, President Joe Biden spoke to the "
        "Department of Justice. Pfizer said its vaccine works, and shares of Pfizer rose."
    ), "en")]
    assert "supreme court" in found and "department of justice" in found and "pfizer" in found
    assert "the" not in found and "after" not in found
    assert any("joe biden" in e for e in found)


def test_title_case_headlines_yield_only_names_the_body_confirms():
    f = features("Biden Signs Order On Cybersecurity After Pipeline Hack",
                 "President Joe Biden signed an order after the Colonial Pipeline hack.", "en")
    assert "e:joe biden" in f.counts and "e:colonial pipeline" in f.counts
    assert "e:biden" not in f.counts  # the surname is read as the full name the body gives
    assert "e:signs" not in f.counts and "e:cybersecurity" not in f.counts


def test_decay_halves_after_one_half_life():
    assert decay(0, 10) == 1.0
    assert abs(decay(10, 10) - 0.5) < 1e-9


def test_choose_respects_threshold_and_time():
    v = _vec("Ceasefire talks in Istanbul", "Ukraine and Russia negotiators met in Istanbul for ceasefire talks.")
    fresh = Cluster("c1", v, 3, when=1000.0)
    assert choose(v, [fresh], now=1000.0, threshold=0.5, half_life_hours=24).cluster_id == "c1"
    stale = Cluster("c2", v, 3, when=0.0)
    assert choose(v, [stale], now=3600 * 24 * 30, threshold=0.5, half_life_hours=24).cluster_id is None


def test_a_story_ages_from_its_mean_date_a_thread_from_its_latest():
    assert cluster_time("mean", current=0.0, size=1, when=100.0) == 50.0
    assert cluster_time("last", current=0.0, size=1, when=100.0) == 100.0
    assert cluster_time("last", current=100.0, size=1, when=0.0) == 100.0  # a late-arriving old article


def test_merge_keeps_top_terms_and_stays_close_to_members():
    a = _vec("Ceasefire talks", "Ceasefire talks between Ukraine and Russia resumed in Istanbul.")
    b = _vec("Ceasefire talks", "Ukraine and Russia ceasefire negotiators met again in Istanbul.")
    m = merge(a, 1, b, top_k=5)
    assert len(m) == 5
    assert cosine(m, a) > 0.5 and cosine(m, b) > 0.5


def test_labels_and_key_terms_are_readable():
    f = features("Ceasefire talks resume", "Volodymyr Zelensky and Vladimir Putin sent negotiators to Istanbul. "
                 "Zelensky said the talks on a ceasefire would go on.", "en")
    v = vectorise(f, {}, 0, "en", 60)
    terms = key_terms(v, f.display, 6)
    assert "Volodymyr Zelensky" in terms and "zelenski" not in terms
    label = thread_label("Ceasefire talks resume", v, f.display)
    assert label.startswith("Ceasefire talks resume · ") and "Zelensky" in label


def test_watched_thread_needs_a_key_term_and_similarity():
    definition = definition_vector("Russia-Ukraine peace talks", "Negotiations on a ceasefire in Ukraine.",
                                   ["ceasefire", "peace talks", "Zelensky"], "en", 60)
    watched = [("w_talks", definition, ("ceasefire", "peace talks", "Zelensky"))]
    on = features("Peace talks resume", "Ukrainian and Russian delegations resumed peace talks on a ceasefire.", "en")
    assert mentions(on, "peace talks", "en") and not mentions(on, "Zelensky", "en")
    assert best_watched(vectorise(on, {}, 0, "en", 60), on, watched, "en", 0.1).cluster_id == "w_talks"
    off = features("Bakery draws queues", "A sourdough bakery in Melbourne drew queues on its first weekend.", "en")
    assert best_watched(vectorise(off, {}, 0, "en", 60), off, watched, "en", 0.0).cluster_id is None


def test_every_language_gets_its_stemmer_and_stop_words():
    pl = features("Wybory", "Wyborcy poszli do wyborów w niedzielę, a wyniki wyborów poznamy jutro.", "pl").counts
    assert sum(1 for k in pl if k.startswith("wybor")) <= 2  # inflections share a stem
    de = features("", "Die Regierung und der Kanzler sprachen über die Haushaltskrise.", "de").counts
    assert "die" not in de and "und" not in de  # stop words dropped


def test_german_nouns_are_not_names_but_full_names_are():
    toks = tokens("Die Bundesregierung unter Olaf Scholz streitet. Finanzminister Christian Lindner sagte, der Haushalt sei verhandelbar.")
    names = [key for key, _ in entities(toks, "de")]
    assert "olaf scholz" in names and "christian lindner" in names
    assert "haushalt" not in names and "bundesregierung" not in names


def test_unspaced_scripts_get_character_bigrams():
    counts = features("东京奥运会开幕", "东京奥运会于周五晚开幕。", "zh").counts
    assert counts["东京"] >= 2 and counts["开幕"] >= 2
    a = vectorise(features("东京奥运会开幕", "东京奥运会于周五晚开幕。", "zh"), {}, 0, "zh", 60)
    b = vectorise(features("奥运会在东京开幕", "周五晚，东京奥运会开幕。", "zh"), {}, 0, "zh", 60)
    assert cosine(a, b) > 0.3


def test_caseless_scripts_find_rare_words_as_names():
    counts = features("", "أعلنت وزارة الصحة تسجيل إصابات جديدة بفيروس كورونا", "ar").counts
    assert any(k.startswith("e:") for k in counts)


def test_event_weekday_and_time():
    from worker.threads.cluster import event_time, event_weekday

    assert event_weekday("Talks stall", "Officials met on Wednesday. On Wednesday evening, and on Friday, they spoke.") == 2
    assert event_weekday("", "no day named") is None
    friday = 1_700_179_200.0  # 2023-11-17, a Friday
    assert event_time(friday, 2) == friday - 2 * 86400  # "on Wednesday" in a Friday report
    assert event_time(friday, 4) == friday


def test_undated_choice_uses_its_own_threshold_and_weekdays():
    v = _vec("Ceasefire talks in Istanbul", "Ukraine and Russia negotiators met in Istanbul for ceasefire talks.")
    w = _vec("Ceasefire talks", "Negotiators met for talks on a ceasefire, officials said.")
    sim = cosine(v, w)
    c = Cluster("c1", w, 1, when=0.0, dated=False, weekday=2)
    assert choose(v, [c], 0.0, 0.1, 24, dated=False, undated_threshold=sim * 0.9).cluster_id == "c1"
    assert choose(v, [c], 0.0, 0.1, 24, dated=False, undated_threshold=sim * 1.1).cluster_id is None
    # another weekday named: the bar is higher
    assert choose(v, [c], 0.0, 0.1, 24, dated=False, undated_threshold=sim * 0.9, weekday=0,
                  weekday_mismatch=2.0).cluster_id is None


def test_a_dated_story_days_old_joins_on_what_text_alone_would_join():
    v = _vec("Ceasefire talks in Istanbul", "Ukraine and Russia negotiators met in Istanbul for ceasefire talks.")
    c = Cluster("c1", v, 3, when=0.0)
    three_days = 3 * 86400.0
    assert choose(v, [c], three_days, 0.5, 24).cluster_id is None  # decayed to 1/8
    assert choose(v, [c], three_days, 0.5, 24, undated_threshold=0.6, text_window_hours=96).cluster_id == "c1"
    assert choose(v, [c], 3 * three_days, 0.5, 24, undated_threshold=0.6, text_window_hours=96).cluster_id is None


def test_german_compounds_count_as_their_parts_too():
    assert compound_parts("bundesregierung", "de") == ("bund", "regierung")
    assert compound_parts("wirtschaftsminister", "de") == ("wirtschaft", "minister")
    assert compound_parts("regierung", "de") == ()  # no split beats a common word
    # a part rarer than the compound is a suffix or a fragment, not a more general word:
    # "Fahrerin" is not "fahr" + "erin", "Wattenscheid" not "watt" + "scheid"
    assert compound_parts("fahrerin", "de") == ()
    assert compound_parts("autofahrerin", "de") == ("auto", "fahrerin")
    assert compound_parts("wattenscheid", "de") == ()
    assert compound_parts("donnerstagnachmittag", "de") == ("donnerstag", "nachmittag")
    a = features("Die Regierung stürzt", "Die Regierung verlor am Dienstag die Abstimmung.", "de")
    b = features("Bundesregierung gestürzt", "Die Bundesregierung verlor die Vertrauensfrage.", "de")
    assert stem("regierung", "de") in a.counts and stem("regierung", "de") in b.counts
    english = features("Shutdown continues", "The governmentshutdown continues.", "en")
    assert stem("government", "en") not in english.counts  # English is not split


def test_lead_cuts_unspaced_text_by_characters():
    from worker.threads.cluster import lead
    from worker.words import word_count

    body = "国务院总理今天在北京会见了外国代表团。" * 60  # 1,140 characters, no space at all
    cut = lead(body, 400)
    assert 200 < word_count(cut) <= 400 and cut.endswith("。")
    assert lead("短い記事です。", 400) == "短い記事です。"


def test_event_weekday_reads_the_lede_not_the_background():
    from worker.threads.cluster import WEEKDAY_LEDE_WORDS, event_weekday

    filler = " ".join(["officials"] * WEEKDAY_LEDE_WORDS)
    text = f"The council voted on Monday to close the plant. {filler}. On Friday, Friday and Friday talks resume."
    assert event_weekday("Council votes", text) == 0  # Monday, named in the lede; not Friday, named later


def test_unrelated_japanese_and_chinese_articles_share_no_function_bigrams():
    """Bigrams of two function characters ("し"+"た") were the strongest features of every
    Japanese article: two unrelated ones scored 0.17, near the dated story bar (0.18)."""
    from itertools import combinations

    from tests.conftest import RESOURCES
    from worker.threads.cluster import cosine, features, lead, vectorise

    texts = {p.stem: p.read_text(encoding="utf-8") for p in sorted((RESOURCES / "cjk").glob("*.txt"))}
    vecs = {k: vectorise(features(None, lead(t), k[:2]), {}, 0.0, k[:2], 60) for k, t in texts.items()}
    assert not {"した", "され", "れた", "する"} & set(vecs["ja_lhpat"])
    assert max(cosine(vecs[a], vecs[b]) for a, b in combinations(vecs, 2)) < 0.1
    for k, t in texts.items():  # the first half of an article is still close to it
        half = vectorise(features(None, lead(t[: len(t) // 2]), k[:2]), {}, 0.0, k[:2], 60)
        assert cosine(vecs[k], half) > 0.7


def test_languages_beyond_the_large_lists_get_stop_words_and_a_prior():
    """Hebrew, Persian, Greek and Hindi had English frequencies: no stop words, so particles
    such as את and را led their vectors, and in a caseless script every word was a name."""
    from worker.threads.cluster import features, vectorise

    texts = {
        "he": ("הממשלה אישרה את התקציב", "הממשלה אישרה ביום רביעי את תקציב המדינה לשנה הבאה. שר האוצר אמר כי "
               "התקציב יחזק את הכלכלה ויקטין את הגירעון. האופוזיציה מתחה ביקורת על הקיצוצים בחינוך ובבריאות."),
        "fa": ("دولت بودجه جدید را تصویب کرد", "دولت روز چهارشنبه بودجه سال آینده را تصویب کرد. وزیر اقتصاد گفت این "
               "بودجه اقتصاد کشور را تقویت می‌کند و کسری بودجه را کاهش می‌دهد. مخالفان از کاهش هزینه‌ها انتقاد کردند."),
        "el": ("Η κυβέρνηση ενέκρινε τον προϋπολογισμό", "Η κυβέρνηση ενέκρινε την Τετάρτη τον προϋπολογισμό του "
               "επόμενου έτους. Ο υπουργός δήλωσε ότι ο προϋπολογισμός θα ενισχύσει την οικονομία."),
        "hi": ("सरकार ने नई शिक्षा नीति की घोषणा की", "केंद्र सरकार ने बुधवार को नई शिक्षा नीति की घोषणा की। मंत्री ने कहा "
               "कि यह नीति छात्रों के लिए नए अवसर खोलेगी और स्कूलों में मातृभाषा में पढ़ाई को बढ़ावा देगी।"),
    }
    particles = {"את", "را", "کرد", "τον", "την", "του", "की", "के", "ने", "क"}
    for language, (title, body) in texts.items():
        feats = features(title, body, language)
        vec = vectorise(feats, {}, 0.0, language, 60)
        assert not particles & set(vec), language
        names = [f for f in feats.counts if f.startswith("e:")]
        # not every run of words (before: a third of the features; Hebrew's prefixed words, ו- and
        # ב-, are still rare as written, so it keeps a few)
        assert len(names) < 0.25 * len(feats.counts), (language, names)


def test_a_caseless_language_without_frequencies_gets_no_rarity_names():
    """Korean has no wordfreq list usable without MeCab: every word would be "rare", and every
    run of words a name."""
    from tests.conftest import RESOURCES
    from worker.threads.cluster import features, has_frequencies, lead

    assert not has_frequencies("ko") and has_frequencies("he") and has_frequencies("ar")
    text = (RESOURCES / "cjk" / "ko_entermedia_8576.txt").read_text(encoding="utf-8")
    feats = features(None, lead(text), "ko")
    assert feats.counts and not [f for f in feats.counts if f.startswith("e:")]


def test_a_full_stop_without_its_space_ends_the_word_and_opens_a_sentence():
    toks = tokens("Die Einschränkungen.Die Politik muss handeln, sagt der U.S.-Experte von amazon.com e.V. Stuttgart.PP")
    words = [t.word for t in toks]
    assert "Einschränkungen" in words and "Einschränkungen.Die" not in words
    assert [t.sentence_start for t in toks if t.word == "Die"] == [True, True]
    # abbreviations, domains and all-capital codes keep their dots
    assert "amazon.com" in words and "e.V" in words and "Stuttgart.PP" in words


def test_the_frequency_fast_path_gives_wordfreqs_own_values():
    from itertools import islice

    from wordfreq import get_frequency_dict, top_n_list, word_frequency

    from worker.threads.cluster import _PLAIN_LANGUAGES, _freq

    checked = 0
    for language in sorted(_PLAIN_LANGUAGES):
        listed = list(get_frequency_dict(language))
        # common words, words from the whole list down to its rarest, and words it lacks
        words = top_n_list(language, 300) + listed[:: max(1, len(listed) // 700)] + [w + "qx" for w in listed[:50]]
        for word in words:
            assert _freq.__wrapped__(word, language) == word_frequency(word, language), (language, word)
            checked += 1
        # names and capitalised words take wordfreq's own path, and agree all the more
        for word in islice((w.title() for w in listed[:100]), 20):
            assert _freq.__wrapped__(word, language) == word_frequency(word, language)
    assert checked > 10_000


def _at(cos: float, other: str) -> dict[str, float]:
    """A unit vector at cosine ``cos`` to {"x": 1}, the rest of it on its own axis ``other``."""
    return {"x": cos, other: math.sqrt(1.0 - cos * cos)}


def test_an_undated_story_alone_of_its_kind_is_joined_at_the_lone_bar():
    article = {"x": 1.0}
    story = Cluster("s1", _at(0.26, "a"), 2, when=0.0, dated=False)
    rival = Cluster("s2", _at(0.15, "b"), 2, when=0.0, dated=False)  # at the thread bar: one of its kind
    stranger = Cluster("s3", _at(0.05, "c"), 2, when=0.0, dated=False)
    undated = dict(dated=False, undated_threshold=0.30, lone_threshold=0.24, lone_rival=0.12)
    assert choose(article, [story], 0.0, 0.18, 24, **undated).cluster_id == "s1"
    assert choose(article, [story, stranger], 0.0, 0.18, 24, **undated).cluster_id == "s1"
    # another story of its kind: the undated bar (0.30) rules, and 0.26 is under it
    assert choose(article, [story, rival], 0.0, 0.18, 24, **undated).cluster_id is None
    # under the lone bar, or with the rule off, nothing is joined
    assert choose(article, [Cluster("s4", _at(0.22, "d"), 2, when=0.0, dated=False)], 0.0, 0.18, 24, **undated).cluster_id is None
    assert choose(article, [story], 0.0, 0.18, 24, **{**undated, "lone_threshold": 0.0}).cluster_id is None
    # a weekday mismatch raises the lone bar as it raises the undated one
    dated_by = Cluster("s5", _at(0.26, "e"), 2, when=0.0, dated=False, weekday=0)
    assert choose(article, [dated_by], 0.0, 0.18, 24, weekday=2, weekday_mismatch=2.0, **undated).cluster_id is None
    # between two dates the decay decides, not this rule: ten days apart, nothing joins
    far = Cluster("s6", _at(0.26, "f"), 2, when=0.0, dated=True)
    assert choose(article, [far], 10 * 86400.0, 0.18, 24, dated=True, undated_threshold=0.30,
                  lone_threshold=0.24, lone_rival=0.12).cluster_id is None


@pytest.mark.parametrize(("title", "text", "label"), [
    ("Council approves budget", "The council voted. It was late.", "Council approves budget"),
    (None, "The council voted on Tuesday. It was late.", "The council voted on Tuesday."),
    ("  ", "\n\nZłe wieści z Japonii. Statek stoi w porcie.", "Złe wieści z Japonii."),
    (None, "One two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
           "seventeen eighteen.", "One two three four five six seven eight nine ten eleven twelve thirteen fourteen "
                                  "fifteen sixteen…"),
    (None, "议员被指控涉嫌腐败交易。另一句话。", "议员被指控涉嫌腐败交易。"),  # a CJK full stop needs no space
    (None, "民主联盟被指控对卷入涉嫌腐败交易的成员采取软弱的态度", "民主联盟被指控对卷入涉嫌腐败交易…"),  # 16 characters
    (None, "", "(untitled)"),
])
def test_an_article_without_a_title_is_labelled_by_its_first_sentence(title, text, label):
    from worker.threads.cluster import headline_of

    assert headline_of(title, text) == label
