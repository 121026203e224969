from __future__ import annotations

from worker.threads.cluster import Cluster, choose, cosine, decay, merge, term_counts, vectorise


def _vec(title, text):
    counts, names = term_counts(title, text)
    return vectorise(counts, names, {}, 0, "en", 60)


def test_common_words_weigh_less_than_rare_names():
    v = _vec("Talks", "The negotiators said that Zelensky and Putin met in Istanbul, the officials said.")
    assert v["zelensky"] > v["said"]
    assert "the" not in v or v["the"] < v["istanbul"]


def test_decay_halves_after_one_half_life():
    assert decay(0, 10) == 1.0
    assert abs(decay(10, 10) - 0.5) < 1e-9


def test_choose_respects_threshold_and_time():
    v = _vec("Ceasefire talks in Istanbul", "Ukraine and Russia negotiators met in Istanbul for ceasefire talks.")
    fresh = Cluster("c1", v, 3, last_seen=1000.0)
    assert choose(v, [fresh], now=1000.0, threshold=0.5, half_life_hours=24).cluster_id == "c1"
    stale = Cluster("c2", v, 3, last_seen=0.0)
    assert choose(v, [stale], now=3600 * 24 * 30, threshold=0.5, half_life_hours=24).cluster_id is None


def test_merge_keeps_top_terms_and_stays_close_to_members():
    a = _vec("Ceasefire talks", "Ceasefire talks between Ukraine and Russia resumed in Istanbul.")
    b = _vec("Ceasefire talks", "Ukraine and Russia ceasefire negotiators met again in Istanbul.")
    m = merge(a, 1, b, top_k=5)
    assert len(m) == 5
    assert cosine(m, a) > 0.5 and cosine(m, b) > 0.5
