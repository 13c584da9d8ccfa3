"""Key phrases: each topic's most typical phrases of 1-3 words (c-TF-IDF over n-grams), label candidates beside
the LLM's answers in :class:`.BatchedTextGeneration`."""

from __future__ import annotations

import re
from collections import Counter
from typing import Mapping, Optional

import numpy as np

from ._clean import balanced


# Words that name no topic: a key phrase starting or ending with one is skipped.
_EMPTY_WORDS = {"said", "says", "mr", "mrs", "ms", "year", "years", "old", "new", "people", "told", "just", "like",
                "time", "use", "used", "using", "make", "way", "number", "best", "good", "set", "world", "paper",
                "results", "based", "proposed", "approach", "method", "methods", "show"}


def key_phrases(docs_per_topic: Mapping[int, list[str]], top_n: int = 3, stop_words: str = "english",
                min_count: int = 3, lead_words: int = 100) -> dict[int, list[str]]:
    """Each topic's most typical phrases of 1, 2 and 3 words (``top_n`` of each) by c-TF-IDF, in the documents' casing.
    A phrase occurs at least ``min_count`` times in its topic; only each document's first ``lead_words`` words count."""
    from bertopic.vectorizers import ClassTfidfTransformer
    from sklearn.feature_extraction.text import CountVectorizer

    topics = sorted(docs_per_topic)
    vectorizer = CountVectorizer(ngram_range=(1, 3), stop_words=None if stop_words == "none" else stop_words)
    leads = {t: [" ".join(d.split()[:lead_words]) for d in docs_per_topic[t]] for t in topics}
    counts = vectorizer.fit_transform([" ".join(leads[t]) for t in topics]).tocsr()
    counts.sort_indices()  # ties go the same way every run
    weights = ClassTfidfTransformer().fit_transform(counts).tocsr()  # over every n-gram, before pruning
    frequent = np.flatnonzero(counts.max(axis=0).toarray().ravel() >= min_count)
    vocabulary = vectorizer.get_feature_names_out()[frequent]
    counts, weights = counts[:, frequent], weights[:, frequent]
    lengths = np.array([v.count(" ") + 1 for v in vocabulary])
    empty = np.array([v.split()[0] in _EMPTY_WORDS or v.split()[-1] in _EMPTY_WORDS for v in vocabulary], dtype=bool)
    phrases = {}
    for row, topic in enumerate(topics):
        columns, found = counts[row].indices, counts[row].data
        typical = weights[row, columns].toarray().ravel() if len(columns) else np.zeros(0)
        chosen = []
        for n in (1, 2, 3):
            scores = np.where((lengths[columns] == n) & (found >= min_count) & ~empty[columns], typical, -1.0)
            order = np.argsort(-scores, kind="stable")[:top_n]
            chosen += [vocabulary[columns[k]] for k in order if scores[k] > 0]
        phrases[topic] = [cased for cased in (_usual_casing(p, leads[topic]) for p in chosen) if cased]
    return phrases


def _usual_casing(phrase: str, documents: list[str]) -> Optional[str]:
    """``phrase`` as the documents write it, capitalized; ``None`` when it cuts a name short ("England coach Andy")."""
    # stop words were dropped: "bank england" is written "Bank of England"
    pattern = re.compile(r"\b" + r"\W+(?:\w+\W+)?".join(map(re.escape, phrase.split())) + r"\b(?=(?: (\w+))?)",
                         re.IGNORECASE)
    matches = [m for doc in documents for m in pattern.finditer(doc)]
    if matches and sum(bool(m.group(1)) and m.group(1).istitle() for m in matches) > len(matches) / 2:
        return None
    found = Counter(m.group(0) for m in matches)
    text = balanced(re.sub(r"\s+", " ", found.most_common(1)[0][0])) if found else phrase
    return text[:1].upper() + text[1:]
