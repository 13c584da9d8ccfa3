"""Issue 35, item 5: a refit keeps a topic's label while the topic is essentially the same documents (at least 90%
of its documents were the earlier topic's, and 90% of that topic's are in it); a topic that changed more is asked
again. Through BERTopic itself (a real fit and ``update_topics`` on a small corpus), 03's ``labels_table`` and 06's
``remember``, with a stand-in for the LLM that records what it is asked."""

import numpy as np
import pandas as pd
import pytest
from bertopic.backend import BaseEmbedder

from cells import run_cell
from helpers.labeler import BatchedTextGeneration
from helpers.labeler._memory import KEEP_SHARE, same_topic

POOLS = {
    "football": "football league clubs striker goal match cup players season coach penalty stadium".split(),
    "banks": "bank shares profits interest rates market investors lending loans economy growth inflation".split(),
    "films": "film awards stars oscar director actor cinema screen studio premiere actress festival".split(),
}
FIRST = {"football": "Football league", "banks": "Bank shares", "films": "Film awards"}
AGAIN = {"football": "Football clubs", "banks": "Bank profits", "films": "Film stars"}  # what a second asking says
SIZES = {"football": 36, "banks": 36, "films": 48}


class WordCounts(BaseEmbedder):
    """Each text as the counts of the corpus's words: the three topics lie apart, a label lies near its topic."""

    VOCABULARY = [w for pool in POOLS.values() for w in pool]

    def embed(self, documents, verbose=False):
        return np.array([[text.lower().count(w) + 1e-3 for w in self.VOCABULARY] for text in documents])


class Answers:
    """A text-generation pipeline's stand-in: names a prompt's topic by its keywords (after the "|"), from
    ``table``; records every prompt it is asked."""

    tokenizer = None

    def __init__(self, table):
        self.table, self.asked = table, []

    def __call__(self, batch, **kwargs):
        self.asked += batch
        out = []
        for prompt in batch:
            keywords = prompt.rsplit("|", 1)[1]
            pool = max(POOLS, key=lambda p: sum(w in keywords.split(", ") for w in POOLS[p]))
            out.append([{"generated_text": self.table[pool]}])
        return out


def corpus() -> tuple[list[str], list[str]]:
    rng = np.random.default_rng(0)
    docs, kinds = [], []
    for kind, size in SIZES.items():
        docs += [f"The {' '.join(rng.choice(POOLS[kind], 6, replace=False))} story." for _ in range(size)]
        kinds += [kind] * size
    return docs, kinds


def labeler(generator, embeddings):
    return BatchedTextGeneration(generator, "[DOCUMENTS]|[KEYWORDS]", key_phrases=0, embeddings=embeddings,
                                 show_progress=False)


@pytest.fixture(scope="module")
def refit():
    """03's fit and labels, then 06's update_topics after 4 film reports went to football (36 of its 40
    documents were football's: 90%) and 9 to banks (36 of 45: 80%)."""
    from bertopic import BERTopic
    from bertopic.dimensionality import BaseDimensionalityReduction
    from sklearn.cluster import KMeans

    from helpers.labels import labels_table

    docs, kinds = corpus()
    embedder = WordCounts()
    embeddings = embedder.embed(docs)
    first = labeler(Answers(FIRST), embeddings)
    model = BERTopic(embedding_model=embedder, umap_model=BaseDimensionalityReduction(),
                     hdbscan_model=KMeans(3, n_init=10, random_state=0), representation_model={"LLM": first})
    model.fit_transform(docs, embeddings)
    before = list(model.topics_)
    topic_of = {kind: before[kinds.index(kind)] for kind in POOLS}
    assert all(before[i] == topic_of[k] for i, k in enumerate(kinds)), "KMeans finds the three topics"
    labels = labels_table(model, first, docs, embeddings)  # 03's labels.csv
    films = [i for i, k in enumerate(kinds) if k == "films"]
    after = list(before)
    for i in films[:4]:
        after[i] = topic_of["football"]
    for i in films[4:13]:
        after[i] = topic_of["banks"]
    again = Answers(AGAIN)
    llm = labeler(again, embeddings)
    llm.remember(labels, before)  # notebook 06
    model.update_topics(docs, topics=after, representation_model={"LLM": llm})
    names = {r["topic"]: r["label"] for r in llm.records_}
    return dict(before=before, after=after, topic_of=topic_of, labels=labels, llm=llm, asked=again.asked, names=names)


def test_03_labelled_every_topic_with_the_first_answers(refit):
    named = dict(zip(refit["labels"].topic, refit["labels"].label))
    assert named == {refit["topic_of"][k]: FIRST[k] for k in POOLS}


def test_a_topic_90_percent_the_same_keeps_its_label_and_one_80_percent_the_same_is_asked_again(refit):
    football, banks, films = (refit["topic_of"][k] for k in POOLS)
    assert refit["names"] == {football: "Football league", banks: "Bank profits", films: "Film stars"}
    changes = {kind: sorted(topics) for kind, topics in refit["llm"].changes_.items()}
    assert changes == {"kept": [football], "regenerated": sorted([banks, films]), "new": []}
    asked = refit["asked"]
    assert len(asked) == 2 and not any("football" in p.rsplit("|", 1)[1] for p in asked), "football was not asked"


def test_notebook_06_writes_out_the_same_rule_and_agrees_with_the_labeler(refit):
    taught = run_cell("06_refining_topics.ipynb", "teach:label-fate", np=np)
    football, banks, films = (refit["topic_of"][k] for k in POOLS)
    fate = taught["label_fate"](refit["before"], refit["after"])
    assert fate == {football: "kept", banks: "asked again", films: "asked again"}
    assert taught["labeler_fates"](refit["llm"].changes_) == fate
    assert taught["KEEP_SHARE"] == KEEP_SHARE == 0.9


@pytest.mark.parametrize("now, earlier, kept", [
    (range(36), range(40), True),  # lost 4 of 40: 90% of the earlier topic is still in it
    (range(32), range(40), False),  # lost 8 of 40: 80%
    (range(40), range(36), True),  # gained 4: 36 of its 40 were the earlier topic's
    (range(45), range(36), False),  # gained 9: 36 of 45, 80%
    (range(2, 40), range(38), True),  # 36 in common of 38 and 38: 94.7% both ways
    (range(40), range(40), True),
])
def test_same_topic_at_the_edges_both_ways(now, earlier, kept):
    assert same_topic(frozenset(now), frozenset(earlier)) is kept
    taught = run_cell("06_refining_topics.ipynb", "teach:label-fate", np=np)
    before = [0 if i in earlier else -1 for i in range(50)]
    after = [0 if i in now else -1 for i in range(50)]
    assert (taught["label_fate"](before, after)[0] == "kept") is kept
