import math

import numpy as np
import pytest

from helpers.evaluation import agreement, centroids, faithfulness, npmi_coherence, shuffled, topic_diversity

DOCS = [
    "goal striker club league match", "club league goal coach match", "striker goal league cup club",
    "bank rates inflation economy growth", "economy growth bank rates market", "inflation rates bank economy shares",
] * 3


def test_coherent_topics_score_higher_npmi_than_mixed_ones():
    tokens = [d.split() for d in DOCS]
    good = npmi_coherence([["goal", "club", "league"], ["bank", "rates", "economy"]], tokens)
    mixed = npmi_coherence([["goal", "bank", "inflation"], ["club", "economy", "rates"]], tokens)
    assert -1 <= mixed < good <= 1


def test_unknown_words_are_left_out_and_nothing_known_gives_nan():
    tokens = [d.split() for d in DOCS]
    assert npmi_coherence([["goal", "club", "zzz"]], tokens) == npmi_coherence([["goal", "club"]], tokens)
    assert math.isnan(npmi_coherence([["zzz", "yyy"]], tokens))


def test_diversity_is_the_share_of_unique_words():
    assert topic_diversity([["a", "b"], ["c", "d"]]) == 1.0
    assert topic_diversity([["a", "b"], ["a", "b"]]) == 0.5


def test_real_labels_are_closer_to_their_topics_than_shuffled_ones():
    embeddings = np.array([[1.0, 0.0]] * 3 + [[0.0, 1.0]] * 3)
    topics = [0, 0, 0, 1, 1, -1]
    space = {"football": [1.0, 0.1], "economy": [0.1, 1.0]}
    embed = lambda texts: np.array([space[t] for t in texts])  # noqa: E731
    labels = {0: "football", 1: "economy"}
    cents = centroids(embeddings, topics)
    assert set(cents) == {0, 1}
    assert faithfulness(labels, cents, embed) > faithfulness(shuffled(labels), cents, embed)


def test_shuffled_never_keeps_a_label_on_its_topic():
    labels = {t: f"label {t}" for t in range(6)}
    assert all(shuffled(labels)[t] != labels[t] for t in labels)
    assert sorted(shuffled(labels).values()) == sorted(labels.values())
    with pytest.raises(ValueError, match="at least two topics"):
        shuffled({0: "only"})


def test_agreement_with_categories():
    perfect = agreement([0, 0, 1, 1], ["a", "a", "b", "b"])
    assert perfect == {"nmi": 1.0, "ari": 1.0}
    assert agreement([0, 1, 0, 1], ["a", "a", "b", "b"])["ari"] < 0.5
    assert agreement([0, 0, -1, 1], ["a", "a", "b", "b"], include_outliers=False)["nmi"] == 1.0
    assert agreement([0, 1], []) is None
