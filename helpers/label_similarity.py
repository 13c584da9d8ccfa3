"""A label's words and how alike two labels are: shared by the labeler and notebook 05's measures.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Sequence

import numpy as np

_WORD = re.compile(r"[A-Za-z0-9]+(?:['’][A-Za-z]+)*")


def words_of(text: str) -> list[str]:
    """The words of ``text``, lowercased, without a possessive "'s" ("Brown's" -> "brown")."""
    return list(_words(text or ""))


@lru_cache(maxsize=200_000)
def _words(text: str) -> tuple[str, ...]:
    return tuple(re.sub(r"['’]s$", "", w.lower()) for w in _WORD.findall(text))


PHRASE_STARTS = {
    "of", "in", "on", "for", "with", "by", "at", "from", "to", "about", "against", "after", "over", "into", "as",
    "and", "or", "but", "that", "which", "who", "while", "during", "between", "amid", "under", "vs", "versus",
    "using", "via",
}


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """Each row scaled to length 1 (cosine similarity becomes a dot product)."""
    vectors = np.asarray(vectors, dtype=float)
    return vectors / np.clip(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12, None)


def retrieval_precision(similarities: np.ndarray, topics: Sequence[int], label_topics: Sequence[int]) -> list[float]:
    """R-precision of each label's row of ``similarities`` to every document: the share of its topic's ``n`` documents
    among the ``n`` most similar (1.0: exactly its topic)."""
    topics = np.asarray(topics)
    out = []
    for row, topic in zip(np.asarray(similarities), label_topics):
        size = int((topics == topic).sum())
        top = np.argsort(-row, kind="stable")[:size]
        out.append(float((topics[top] == topic).mean()) if size else float("nan"))
    return out


def label_confidence(label_vectors: np.ndarray, doc_vectors: np.ndarray, topics: Sequence[int],
                     label_topics: Sequence[int]) -> list[float]:
    """:func:`retrieval_precision` of the cosine similarities between label and document embeddings."""
    return retrieval_precision(unit_rows(label_vectors) @ unit_rows(doc_vectors).T, topics, label_topics)


# cosine similarity (all-MiniLM-L6-v2) above which two labels name the same thing (benchmarks/label_similarity.py)
SIMILARITY_THRESHOLD = 0.7


@lru_cache(maxsize=50_000)
def head_phrase(label: str) -> frozenset[str]:
    """The content words of ``label``'s first phrase (up to a preposition, conjunction or clause break), as nouns: "The
    Olympic Games" -> {"olympic", "game"}."""
    from lemminflect import getLemma
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    head: list[str] = []
    for raw in (label or "").split():
        word = raw.strip("\"'“”‘’()").lower()
        if head and (word in PHRASE_STARTS or raw.startswith("(") or word in ("-", "–")):
            break
        head += [w for w in words_of(word.replace("-", " ")) if w not in ENGLISH_STOP_WORDS and w not in PHRASE_STARTS]
        if head and raw.rstrip()[-1:] in ":;,":
            break
    return frozenset((getLemma(w, upos="NOUN") or [w])[0].lower() for w in head)


def bracket_words(label: str) -> frozenset[str]:
    """The words of the qualifier in brackets that ends ``label`` ("Olympic (Kelly Holmes)" -> {"kelly", "holmes"})."""
    found = re.search(r"\(([^()]*)\)\s*$", label or "")
    return frozenset(words_of(found.group(1))) if found else frozenset()


def same_head(a: str, b: str) -> bool:
    """True when one label's head phrase holds the other's ("Olympic", "The Olympic Games") and no bracketed qualifier
    tells them apart."""
    ha, hb = head_phrase(a), head_phrase(b)
    return bool(ha and hb) and (ha <= hb or hb <= ha) and bracket_words(a) == bracket_words(b)


def near_duplicates(labels: Sequence[str], vectors: np.ndarray,
                    threshold: float = SIMILARITY_THRESHOLD) -> list[tuple[int, int, str]]:
    """Every pair ``(i, j, why)`` of ``labels`` that are near duplicates; ``vectors`` are their embeddings."""
    similarities = unit_rows(vectors) @ unit_rows(vectors).T if len(labels) else np.zeros((0, 0))
    pairs = []
    for i in range(len(labels)):
        for j in range(i + 1, len(labels)):
            if same_head(labels[i], labels[j]):
                pairs.append((i, j, "same head phrase"))
            elif similarities[i, j] > threshold:
                pairs.append((i, j, f"similarity {similarities[i, j]:.2f}"))
    return pairs


def duplicate_counts(labels: Sequence[str], vectors: np.ndarray, threshold: float = SIMILARITY_THRESHOLD) -> list[int]:
    """For each label, how many other labels of the run it nearly duplicates (0: it is distinct)."""
    counts = [0] * len(labels)
    for i, j, _ in near_duplicates(labels, vectors, threshold):
        counts[i] += 1
        counts[j] += 1
    return counts
