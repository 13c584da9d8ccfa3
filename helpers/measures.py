"""The measures, one function each, combined by :mod:`helpers.evaluation`; notebook 05 writes short forms of them
out."""

from __future__ import annotations

import math
from collections import Counter
from typing import Any, Callable, Optional

import numpy as np


# ---- words and tokens
def tokenize(texts: list[str], stop_words: str = "none") -> list[list[str]]:
    """Lowercase word tokens as BERTopic's ``CountVectorizer`` finds them; ``stop_words``: "none" (keep all) or
    "english"."""
    from sklearn.feature_extraction.text import CountVectorizer

    if stop_words not in ("none", "english"):
        raise ValueError(f"stop_words must be 'none' or 'english', not {stop_words!r}.")
    analyzer = CountVectorizer(stop_words=None if stop_words == "none" else "english").build_analyzer()
    return [analyzer(text) for text in texts]


def ctfidf_words(topic_model, top_n: int = 25) -> dict[int, list[str]]:
    """Each topic's ``top_n`` words by c-TF-IDF weight, ``get_topic``'s first, in its order; -1 left out."""
    vocabulary = topic_model.vectorizer_model.get_feature_names_out()
    matrix = topic_model.c_tf_idf_
    words = {}
    for row, topic in enumerate(sorted(topic_model.topic_sizes_)):
        if topic == -1:
            continue
        weights = matrix[row].toarray().ravel()
        shown = [w for w, _ in (topic_model.get_topic(topic) or []) if w]
        ranked = [str(vocabulary[i]) for i in np.argsort(-weights, kind="stable") if weights[i] > 0]
        words[topic] = list(dict.fromkeys(shown + ranked))[:top_n]
    return words


def aspect_words(topic_model, aspect: str) -> dict[int, list[str]]:
    """One extra representation's words (``"KeyBERT"``, ``"MMR"``) per topic, -1 left out."""
    return {int(t): [w for w, _ in pairs if w] for t, pairs in topic_model.topic_aspects_[aspect].items() if t != -1}


def label_words(labels: dict[int, str]) -> dict[int, list[str]]:
    """A label's content words (English stop words dropped): what its coherence is scored on."""
    topics = list(labels)
    return dict(zip(topics, tokenize([labels[t] for t in topics], stop_words="english")))


# ---- coherence and diversity
def npmi_per_topic(topic_words: list[list[str]], tokenized_docs: list[list[str]], top_n: int = 10) -> list[float]:
    """NPMI (``c_npmi``, in [-1, 1]) of each topic's first ``top_n`` words; words not in ``tokenized_docs`` skipped,
    ``nan`` if under two remain."""
    from gensim.corpora import Dictionary
    from gensim.models.coherencemodel import CoherenceModel

    dictionary = Dictionary(tokenized_docs)
    known = [[w for w in words[:top_n] if w in dictionary.token2id] for words in topic_words]
    scorable = [i for i, words in enumerate(known) if len(words) >= 2]
    scores = [float("nan")] * len(topic_words)
    if not scorable:
        return scores
    model = CoherenceModel(topics=[known[i] for i in scorable], texts=tokenized_docs, dictionary=dictionary,
                           coherence="c_npmi", topn=top_n, processes=1)
    for i, score in zip(scorable, model.get_coherence_per_topic()):
        scores[i] = float(np.clip(score, -1.0, 1.0))  # bounded by definition; gensim can exceed by ~1e-11
    return scores


def topic_diversity(topic_words: list[list[str]], top_n: int = 25) -> float:
    """Share of unique words among all topics' top ``top_n`` words (1: no word repeats)."""
    words = [w for topic in topic_words for w in topic[:top_n]]
    return len(set(words)) / len(words) if words else float("nan")


def nan_mean(values) -> float:
    """Mean of the finite values; ``nan`` if none (no numpy warning)."""
    finite = [float(v) for v in values if v is not None and math.isfinite(v)]
    return float(np.mean(finite)) if finite else float("nan")


# ---- faithfulness
def centroids(embeddings: np.ndarray, topics: list[int]) -> dict[int, np.ndarray]:
    """Mean document embedding per topic (outliers, topic -1, left out)."""
    topics = np.asarray(topics)
    return {int(t): embeddings[topics == t].mean(axis=0) for t in sorted(set(topics.tolist())) if t != -1}


def cosine_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine similarity of every row of ``a`` with every row of ``b``."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return a @ b.T


def faithfulness(text_vectors: np.ndarray, centroid_vectors: np.ndarray) -> dict[str, Any]:
    """Cosine of each topic's text to its own centroid (row ``i`` of both arrays: one topic) as ``faithfulness``, to the
    others as ``faithfulness_shuffled`` (a full shuffle's expected score), the ``faithfulness_gap`` and
    ``per_topic``."""
    sims = cosine_matrix(text_vectors, centroid_vectors)
    n = len(sims)
    own = np.diag(sims)
    shuffled = float((sims.sum() - own.sum()) / (n * (n - 1))) if n > 1 else float("nan")
    return {
        "faithfulness": float(own.mean()),
        "faithfulness_shuffled": shuffled,
        "faithfulness_gap": float(own.mean()) - shuffled,
        "per_topic": own.tolist(),
    }


# ---- known categories
def agreement(topics: list[int], categories: list[str], include_outliers: bool = True) -> Optional[dict[str, float]]:
    """NMI and ARI of topic assignments against known categories (``None`` without categories)."""
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    if not categories:
        return None
    pairs = [(t, c) for t, c in zip(topics, categories) if include_outliers or t != -1]
    if not pairs:
        return None
    assigned, known = zip(*pairs)
    return {"nmi": float(normalized_mutual_info_score(known, assigned)),
            "ari": float(adjusted_rand_score(known, assigned))}


def dominant_categories(topics: list[int], categories: list[str]) -> dict[int, tuple[str, float]]:
    """Each topic's most frequent category and the share of its documents in it (-1 left out)."""
    counts: dict[int, Counter] = {}
    for topic, category in zip(topics, categories):
        if topic != -1:
            counts.setdefault(int(topic), Counter())[category] += 1
    return {t: (c.most_common(1)[0][0], c.most_common(1)[0][1] / sum(c.values())) for t, c in sorted(counts.items())}


def nearest_categories(text_vectors: np.ndarray, category_vectors: np.ndarray, names: list[str]) -> list[str]:
    """For each text, the category name whose embedding is most similar to it."""
    sims = cosine_matrix(text_vectors, category_vectors)
    return [names[i] for i in sims.argmax(axis=1)]


def lexical_retriever(documents: list[str]) -> Callable[[list[str]], np.ndarray]:
    """A TF-IDF retriever fitted on ``documents``: texts -> similarity to each document by shared words, for
    :func:`helpers.label_similarity.retrieval_precision`."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    tfidf = TfidfVectorizer(stop_words="english", sublinear_tf=True).fit(documents)
    document_matrix = tfidf.transform(documents).T
    return lambda texts: (tfidf.transform(texts) @ document_matrix).toarray()
