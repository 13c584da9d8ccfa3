"""Are the topics and labels any good? Coherence, diversity, label faithfulness, agreement.

- NPMI coherence (gensim's ``CoherenceModel``, ``c_npmi``) of each representation's
  top words on the run's own corpus, tokenized the way the topic model's vectorizer did;
- topic diversity: the share of unique words among all topics' top-25 (Dieng et al.);
- label faithfulness: cosine similarity between a label's embedding and the centroid of
  its topic's document embeddings, against the same score for shuffled labels;
- agreement with known categories: NMI and ARI (scikit-learn).
"""

from __future__ import annotations

from typing import Callable, Optional

import numpy as np


def npmi_coherence(topic_words: list[list[str]], tokenized_docs: list[list[str]], top_n: int = 10) -> float:
    """Mean NPMI (``c_npmi``, in [-1, 1]) of each topic's ``top_n`` words over ``tokenized_docs``.

    Words the corpus never contains are left out (gensim cannot score them); a topic
    with fewer than two known words is skipped. ``nan`` when no topic can be scored.
    """
    from gensim.corpora import Dictionary
    from gensim.models.coherencemodel import CoherenceModel

    dictionary = Dictionary(tokenized_docs)
    known = [[w for w in words[:top_n] if w in dictionary.token2id] for words in topic_words]
    known = [words for words in known if len(words) >= 2]
    if not known:
        return float("nan")
    model = CoherenceModel(topics=known, texts=tokenized_docs, dictionary=dictionary, coherence="c_npmi",
                           topn=top_n, processes=1)
    return float(np.clip(model.get_coherence(), -1.0, 1.0))  # bounded by definition; gensim can exceed by ~1e-11


def topic_diversity(topic_words: list[list[str]], top_n: int = 25) -> float:
    """Share of unique words among all topics' top ``top_n`` words (1: no word repeats)."""
    words = [w for topic in topic_words for w in topic[:top_n]]
    return len(set(words)) / len(words) if words else float("nan")


def centroids(embeddings: np.ndarray, topics: list[int]) -> dict[int, np.ndarray]:
    """Mean document embedding per topic (outliers, topic -1, left out)."""
    topics = np.asarray(topics)
    return {int(t): embeddings[topics == t].mean(axis=0) for t in sorted(set(topics.tolist())) if t != -1}


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity of two vectors."""
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


def faithfulness(
    texts: dict[int, str], topic_centroids: dict[int, np.ndarray], embed: Callable[[list[str]], np.ndarray]
) -> float:
    """Mean cosine similarity between each topic's text (label or keywords) and its centroid."""
    topics = [t for t in texts if t in topic_centroids]
    vectors = embed([texts[t] for t in topics])
    return float(np.mean([cosine(v, topic_centroids[t]) for v, t in zip(vectors, topics)]))


def shuffled(texts: dict[int, str], seed: int = 42) -> dict[int, str]:
    """The same texts given to other topics: a derangement, so no topic keeps its own."""
    topics = list(texts)
    if len(topics) < 2:
        raise ValueError("A shuffled baseline needs at least two topics.")
    rng = np.random.default_rng(seed)
    order = list(topics)
    while any(a == b for a, b in zip(topics, order)):
        order = list(rng.permutation(topics))
    return {t: texts[o] for t, o in zip(topics, order)}


def agreement(topics: list[int], categories: list[str], include_outliers: bool = True) -> Optional[dict[str, float]]:
    """NMI and ARI of topic assignments against known categories (``None`` without categories)."""
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    if not categories:
        return None
    pairs = [(t, c) for t, c in zip(topics, categories) if include_outliers or t != -1]
    assigned, known = zip(*pairs)
    return {"nmi": float(normalized_mutual_info_score(known, assigned)),
            "ari": float(adjusted_rand_score(known, assigned))}
