"""Label measures the label choice never used: the yardstick notebook 05 and the benchmarks lead with.

- :func:`lexical_categories`: the known category each text is closest to by the words it shares
  with the category's documents (TF-IDF), not by the embedding model the choice ranked with;
- :func:`duplicate_rate`: the share of topics whose label nearly duplicates another topic's
  (:mod:`helpers.label_similarity`);
- :func:`rubric_pass_rate`: the share of labels the strict rubric lets through: a filter the
  labeler applies, not a measure of quality (ours pass by construction).
"""

from __future__ import annotations

from typing import Callable, Optional, Sequence

import numpy as np


def lexical_categories(documents: Sequence[str], categories: Sequence[str]) -> Callable[[list[str]], list[Optional[str]]]:
    """A function naming, for each text, the category whose documents it shares most words with.

    Each category is the mean TF-IDF vector (English stop words, sublinear tf) of its documents;
    a text goes to the category of highest cosine similarity. Zero-shot for a label: it is not
    told its topic, and no embedding model is involved.
    """
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.preprocessing import normalize

    tfidf = TfidfVectorizer(stop_words="english", sublinear_tf=True).fit(documents)
    matrix = tfidf.transform(documents)
    names = sorted(set(categories))
    labels = np.asarray(categories)
    centres = normalize(np.vstack([np.asarray(matrix[labels == n].mean(axis=0)) for n in names]))

    def nearest(texts: list[str]) -> list[Optional[str]]:
        scores = np.asarray(tfidf.transform(texts) @ centres.T)
        # a text that shares no word with any category is near none of them (a miss), not the first by name
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
