"""Choosing one label per topic among its candidates (:func:`choose_label`), and renaming a run's near-duplicate
labels (:func:`disambiguate`) without asking the LLM again."""

from __future__ import annotations

from typing import Any, Callable, Mapping, Optional, Sequence

import numpy as np

from ._clean import keywords_label
from ._facts import names_one_event
from ..label_similarity import (PHRASE_STARTS, SIMILARITY_THRESHOLD, same_head, words_of)
from ._rubric import label_failures, variants


JUDGED_DOCS = 2_000  # the most documents of a topic or node a label is judged on


def judged_rows(rows: np.ndarray, most: Optional[int] = JUDGED_DOCS, seed: int = 0, keep: Sequence[int] = ()) -> np.ndarray:
    """The rows of a topic's documents its label is judged on: all, or ``most`` (sorted): those in ``keep`` and the
    rest drawn with ``seed``."""
    rows = np.asarray(rows)
    if not most or len(rows) <= most:
        return rows
    kept = np.intersect1d(np.asarray(keep, dtype=rows.dtype), rows)[:most]
    rest = np.setdiff1d(rows, kept)
    drawn = np.random.default_rng(seed).choice(rest, size=most - len(kept), replace=False)
    return np.sort(np.concatenate([kept, drawn]))


NARROW_SHARE = 0.2  # a label matching fewer of its topic's documents names one story, not the topic ...
BROAD_SHARE = 0.4  # ... when a passing candidate matches at least this share


def content_words(label: str) -> list[str]:
    """The words of ``label`` that carry meaning (English stop words dropped), hyphenated words split."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return [w for w in words_of((label or "").replace("-", " ")) if w not in ENGLISH_STOP_WORDS]


def word_index(documents: Sequence[str]) -> dict[str, set[int]]:
    """Each word of ``documents`` (:func:`._rubric.words_of`) and the documents holding it."""
    index: dict[str, set[int]] = {}
    for i, document in enumerate(documents):
        for word in set(words_of(document)):
            index.setdefault(word, set()).add(i)
    return index


def holders(word: str, index: dict[str, set[int]]) -> set[int]:
    """The documents of ``index`` (:func:`word_index`) holding ``word`` as written, inflected or by its stem
    (a number only as written)."""
    numeric = any(c.isdigit() for c in word)
    forms = {word} if numeric else variants(word)
    stem = word[: max(5, len(word) - 3)] if len(word) >= 5 and not numeric else None
    return set().union(*(docs for form, docs in index.items() if form in forms or (stem and form.startswith(stem))))


def label_holders(label: str, index: dict[str, set[int]]) -> dict[str, set[int]]:
    """Each content word of ``label`` and the documents of ``index`` holding it (:func:`holders`)."""
    return {word: holders(word, index) for word in dict.fromkeys(content_words(label))}


def document_share(label: str, index: dict[str, set[int]], n_documents: int, need: float = 0.5,
                   held: Optional[dict[str, set[int]]] = None) -> float:
    """The share of the topic's ``n_documents`` (``index``: their :func:`word_index`) holding at least ``need`` of
    ``label``'s content words (``held``: :func:`label_holders`, if known); ``nan`` without content words."""
    held = label_holders(label, index) if held is None else held
    if not held or not n_documents:
        return float("nan")
    hits = np.zeros(n_documents, dtype=int)
    for documents in held.values():
        hits[list(documents)] += 1
    return float((hits >= need * len(held)).mean())


RARE_SHARE = 0.05  # a label's word in fewer of its topic's documents names a side issue


def rare_words(label: str, index: dict[str, set[int]], n_documents: int, floor: float = RARE_SHARE,
               held: Optional[dict[str, set[int]]] = None) -> list[str]:
    """The content words of ``label`` held by fewer than ``floor`` of the topic's ``n_documents``: "addiction" in
    "Gaming Addiction: The Game of Life" for video-game reports."""
    held = label_holders(label, index) if held is None else held
    return [w for w, documents in held.items()
            if w not in PHRASE_STARTS and len(documents) < floor * n_documents]  # not "using", "vs"


BROADER = 2.0  # a key phrase near the best one wins when this many times as many documents hold it


def broadest(phrases: list[dict[str, Any]], margin: float = 0.08) -> Optional[dict[str, Any]]:
    """The best-covering key phrase, or one within ``margin`` of it that ``BROADER`` times as many hold whole."""
    if not phrases:
        return None
    best = max(phrases, key=lambda c: c["coverage"])

    def whole(c: dict[str, Any]) -> float:  # nan (no content word) or not measured: 0
        return float(np.nan_to_num(c.get("whole", 0.0)))

    broader = [c for c in phrases if c is not best and best["coverage"] - c["coverage"] <= margin
               and whole(c) > 0 and whole(c) >= BROADER * whole(best)]
    return max(broader, key=lambda c: (whole(c), c["coverage"]), default=best)


def choose_label(candidates: list[dict[str, Any]], margin: float = 0.08) -> Optional[dict[str, Any]]:
    """The candidate to keep, ``None`` when none passes the rubric. Each has ``text``, ``source`` ("llm" or "key
    phrase"), ``failures``, ``coverage`` (cosine similarity to the topic's documents) and maybe ``share``, ``whole``,
    ``rare``. The LLM's answer wins unless a key phrase (:func:`broadest`) covers over ``margin`` better (any better
    when it has ``rare`` words); a choice under ``NARROW_SHARE`` gives way to one with ``BROAD_SHARE``, one naming one
    event (:func:`._facts.names_one_event`) to one naming none."""
    passing = [c for c in candidates if not c["failures"]]
    phrases = [c for c in passing if c["source"] == "key phrase"]
    best = max((c["coverage"] for c in phrases), default=None)
    answers = [c for c in passing if c["source"] == "llm"  # an answer naming what its documents barely mention: no lead
               and (best is None or best - c["coverage"] <= (0.0 if c.get("rare") else margin))]
    chosen = max(answers, key=lambda c: c["coverage"], default=broadest(phrases, margin))
    if chosen is not None and chosen.get("share", 1.0) < NARROW_SHARE:
        broad = [c for c in passing if c.get("share", 0.0) >= BROAD_SHARE]
        chosen = max(broad, key=lambda c: c["coverage"], default=chosen)
    if chosen is not None and names_one_event(chosen["text"]):
        share = chosen.get("share", 1.0)
        wider = [c for c in passing if not names_one_event(c["text"]) and c.get("share", 1.0) >= share]
        chosen = max(wider, key=lambda c: c["coverage"], default=chosen)
    return chosen


def judged_record(key, group: Mapping[str, Any], raws: list[str], candidates: list[dict[str, Any]],
                  vocabulary: set[str], index: dict[str, set[int]]) -> dict[str, Any]:
    """One group's record: every candidate's coverage, document share, rare words and rubric verdict, and the choice."""
    centre = np.asarray(group["vectors"]).mean(axis=0)
    for candidate in candidates:
        candidate["coverage"] = float(candidate.pop("vector") @ centre)
        held, n = label_holders(candidate["text"], index), len(group["documents"])  # the index scanned once per word
        candidate["share"] = document_share(candidate["text"], index, n, held=held)
        candidate["whole"] = document_share(candidate["text"], index, n, need=1.0, held=held)
        candidate["rare"] = rare_words(candidate["text"], index, n, held=held)
        candidate["failures"] = label_failures(candidate["text"], group["prompt"], group["documents"],
                                               group["titles"], vocabulary=vocabulary,
                                               repaired_from=candidate["line"])
    chosen = choose_label(candidates)
    return dict(topic=key, prompt=group["prompt"], raw=raws[0], answers=raws, candidates=candidates,
                label=chosen["text"] if chosen else keywords_label(list(group["keywords"])),
                source=chosen["source"] if chosen else "keywords", fallback=chosen is None,
                share=chosen["share"] if chosen else float("nan"),
                prompt_cut_tokens=group.get("prompt_cut_tokens", 0))

def qualified(label: str, phrases: Sequence[str]) -> list[str]:
    """``label`` with a short qualifier from the topic's own key ``phrases``: "Olympic (Kelli White)"."""
    own = set(words_of(label))
    return [f"{label} ({p})" for p in phrases if p and not set(words_of(p)) <= own]


def disambiguate(records: list[dict[str, Any]], embed: Callable[[list[str]], np.ndarray],
                 threshold: float = SIMILARITY_THRESHOLD, fixed: Optional[set] = None) -> list[dict[str, Any]]:
    """Rename labels until no two of ``records`` (one per topic) are near duplicates (the same head phrase, or
    embeddings closer than ``threshold``), where it can: the better-fitting topic keeps its label, the other takes
    another passing candidate or its label qualified by a key phrase (:func:`qualified`). Topics in ``fixed``, keyword
    fallbacks and the outliers (-1) are never renamed; a renamed record gets ``duplicate_of_label`` and ``renamed``."""
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
        if record["topic"] == -1:  # the outliers are no topic
            continue
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
