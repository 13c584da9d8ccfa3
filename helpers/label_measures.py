"""Label measures the label choice never used, which notebook 05 and the benchmarks lead with.
"""

from __future__ import annotations

from typing import Callable, Optional, Sequence

import numpy as np


def lexical_categories(documents: Sequence[str], categories: Sequence[str]) -> Callable[[list[str]], list[Optional[str]]]:
    """A function naming each text's nearest category by TF-IDF cosine to the category's documents (no embeddings);
    ``None`` for a text sharing no word."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.preprocessing import normalize

    tfidf = TfidfVectorizer(stop_words="english", sublinear_tf=True).fit(documents)
    matrix = tfidf.transform(documents)
    names = sorted(set(categories))
    labels = np.asarray(categories)
    centres = normalize(np.vstack([np.asarray(matrix[labels == n].mean(axis=0)) for n in names]))

    def nearest(texts: list[str]) -> list[Optional[str]]:
        scores = np.asarray(tfidf.transform(texts) @ centres.T)
        # no shared word: a miss, not the first category by name
        return [names[i] if row.max() > 0 else None for i, row in zip(scores.argmax(axis=1), scores)]

    return nearest


def duplicate_rate(texts: Sequence[str], vectors: np.ndarray) -> float:
    """The share of ``texts`` (one per topic) that nearly duplicate another of them (0: every one is distinct)."""
    from .label_similarity import duplicate_counts

    counts = duplicate_counts(list(texts), vectors)
    return float(np.mean([c > 0 for c in counts])) if counts else float("nan")


def rubric_pass_rate(failures: Sequence[str]) -> float:
    """The share of labels whose rubric verdict (``"; "``-joined reasons, as labels.csv writes them) is empty."""
    return float(np.mean([not str(f).strip() for f in failures])) if len(failures) else float("nan")
