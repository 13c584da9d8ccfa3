"""Distinct labels: no two topics of one run named the same, or nearly the same.

Two labels are near duplicates when they share their head phrase (the content words before the
first preposition, conjunction or clause break, as nouns: "The Olympic Games" and "Olympic"), or
when their embeddings are closer than ``SIMILARITY_THRESHOLD`` (measured:
``benchmarks/label_similarity.py``, BENCHMARKS.md). :func:`disambiguate` renames the topic whose
label fits it less with another passing candidate, or with a short qualifier from its own key
phrases, the way Toponymy's ``disambiguate_topics`` does, without asking the LLM again.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Callable, Optional, Sequence

import numpy as np

from .rubric import _PHRASE_STARTS, label_failures, words_of

# cosine similarity (all-MiniLM-L6-v2) above which two labels name the same thing: measured by
# benchmarks/label_similarity.py: no pair of 106 labels of distinct topics is above it (max 0.68); 10 of
# 20 near-duplicate pairs are, 12 of 20 with the head-phrase rule (BENCHMARKS.md)
SIMILARITY_THRESHOLD = 0.7


@lru_cache(maxsize=50_000)
def head_phrase(label: str) -> frozenset[str]:
    """The content words of ``label``'s first phrase, as nouns: "The Olympic Games" -> {"olympic", "game"}.

    The first phrase ends at a preposition, a conjunction or a clause break (":", ",", "(", " - "); a
    label starting with one ("In the UK") has all its content words as head. Hyphenated words count part
    by part.
    """
    from lemminflect import getLemma
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    head: list[str] = []
    for raw in (label or "").split():
        word = raw.strip("\"'“”‘’()").lower()
        if head and (word in _PHRASE_STARTS or raw.startswith("(") or word in ("-", "–")):
            break
        head += [w for w in words_of(word.replace("-", " ")) if w not in ENGLISH_STOP_WORDS and w not in _PHRASE_STARTS]
        if head and raw.rstrip()[-1:] in ":;,":
            break
    return frozenset((getLemma(w, upos="NOUN") or [w])[0].lower() for w in head)


def bracket_words(label: str) -> frozenset[str]:
    """The words of the qualifier in brackets that ends ``label`` ("Olympic (Kelly Holmes)" -> {"kelly", "holmes"})."""
    found = re.search(r"\(([^()]*)\)\s*$", label or "")
    return frozenset(words_of(found.group(1))) if found else frozenset()


def same_head(a: str, b: str) -> bool:
    """True when one label's head phrase holds the other's ("Olympic" and "The Olympic Games") and no
    qualifier in brackets tells them apart ("The Olympic Games (Drugs test)" is not "Olympic Games")."""
    ha, hb = head_phrase(a), head_phrase(b)
    return bool(ha and hb) and (ha <= hb or hb <= ha) and bracket_words(a) == bracket_words(b)


def near_duplicates(labels: Sequence[str], vectors: np.ndarray,
                    threshold: float = SIMILARITY_THRESHOLD) -> list[tuple[int, int, str]]:
    """Every pair ``(i, j, why)`` of ``labels`` that are near duplicates; ``vectors`` are their embeddings."""
    from .labels import unit_rows

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


def qualified(label: str, phrases: Sequence[str]) -> list[str]:
    """``label`` with a short qualifier from the topic's own key ``phrases``: "Olympic (Kelli White)"."""
    own = set(words_of(label))
    return [f"{label} ({p})" for p in phrases if p and not set(words_of(p)) <= own]


def disambiguate(records: list[dict[str, Any]], embed: Callable[[list[str]], np.ndarray],
                 threshold: float = SIMILARITY_THRESHOLD, fixed: Optional[set] = None) -> list[dict[str, Any]]:
    """Rename labels until no two of ``records`` (one per topic) are near duplicates, where it can.

    Topics are settled in order of how well their label covers them (the chosen candidate's
    ``coverage``): the better fit keeps its label. A later topic whose label duplicates a settled
    one takes its next passing candidate (best coverage first) that duplicates none, or its label
    with a qualifier from its own passing key phrases (:func:`qualified`, judged by the rubric): the
    qualifier first when the label is the LLM's own (a good model's name is kept, made distinct),
    else the candidate first; when neither is distinct it keeps its label (counted by
    :func:`duplicate_counts`). Topics in ``fixed`` (kept from an earlier
    fit, or edited by hand) and keyword fallbacks are never renamed. A renamed record keeps its
    former label as ``duplicate_of_label`` and says why in ``renamed``.
    """
    fixed = fixed or set()
    vectors: dict[str, np.ndarray] = {}

    def vector(text: str) -> np.ndarray:
        if text not in vectors:
            vectors[text] = np.asarray(embed([text or " "]))[0]
            vectors[text] = vectors[text] / max(float(np.linalg.norm(vectors[text])), 1e-12)
        return vectors[text]

    def clash(text: str, settled: list[str]) -> Optional[str]:
        return next((s for s in settled if same_head(text, s) or float(vector(text) @ vector(s)) > threshold), None)

    def fit(r: dict[str, Any]) -> float:
        return max((c.get("coverage", 0.0) for c in r.get("candidates", []) if c.get("text") == r["label"]), default=0.0)

    order = sorted(range(len(records)), key=lambda i: (records[i]["topic"] not in fixed and not records[i]["fallback"],
                                                       -fit(records[i])))
    settled: list[str] = []
    for i in order:
        record = records[i]
        other = clash(record["label"], settled)
        if other is not None and record["topic"] not in fixed and not record["fallback"]:
            choice = _alternative(record, settled, clash)
            if choice is not None:
                records[i] = {**record, "label": choice["text"], "source": choice["source"],
                              "duplicate_of_label": record["label"], "renamed": f"near duplicate of {other!r}"}
        settled.append(records[i]["label"])
    return records


def _alternative(record: dict[str, Any], settled: list[str], clash: Callable) -> Optional[dict[str, Any]]:
    """The passing candidate, or the label with a qualifier, that duplicates no ``settled`` label."""
    passing = sorted((c for c in record.get("candidates", []) if not c["failures"] and c["text"] != record["label"]),
                     key=lambda c: -c.get("coverage", 0.0))
    others = [c for c in passing if clash(c["text"], settled) is None]
    source = next((c["source"] for c in record.get("candidates", []) if c["text"] == record["label"]), record["source"])
    qualifiers = [{"text": text, "source": source}
                  for text in qualified(record["label"], [c["text"] for c in passing if c["source"] == "key phrase"])
                  if clash(text, settled) is None and not label_failures(text)]  # the words are the topic's own
    ordered = qualifiers + others if source == "llm" else others + qualifiers
    return ordered[0] if ordered else None
