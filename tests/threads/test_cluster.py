from __future__ import annotations

from worker.threads.cluster import (
    Cluster, best_watched, choose, cluster_time, cosine, decay, definition_vector, entities, features,
    key_terms, mentions, merge, thread_label, tokens, vectorise,
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
