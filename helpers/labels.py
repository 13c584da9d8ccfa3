"""From candidates to one label per topic: coverage, confidence, the choice and the label table.

- :func:`choose_label` keeps the candidate that passes the rubric and covers the topic's
  documents best, the LLM's own answer first;
- :func:`label_confidence` says how well a label retrieves its own topic's documents;
  :func:`document_share` how many of them its words match;
- :func:`labels_table` is one row per topic, ours or the reference's labeler.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

import numpy as np
import pandas as pd

from .distinct import duplicate_counts
from .rubric import answer_line, clean_label, first_line, keywords_label, label_failures, repair_label, variants, words_of


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """Each row scaled to length 1 (cosine similarity becomes a dot product)."""
    vectors = np.asarray(vectors, dtype=float)
    return vectors / np.clip(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12, None)


def retrieval_precision(similarities: np.ndarray, topics: Sequence[int], label_topics: Sequence[int]) -> list[float]:
    """R-precision of each row of ``similarities`` (one label against every document) for its topic.

    For a topic of ``n`` documents: the share of the ``n`` documents most similar to the
    label that belong to the topic. 1.0 when the label finds exactly its topic; about
    ``n / corpus size`` for a label that could be anything.
    """
    topics = np.asarray(topics)
    out = []
    for row, topic in zip(np.asarray(similarities), label_topics):
        size = int((topics == topic).sum())
        top = np.argsort(-row, kind="stable")[:size]
        out.append(float((topics[top] == topic).mean()) if size else float("nan"))
    return out


def label_confidence(label_vectors: np.ndarray, doc_vectors: np.ndarray, topics: Sequence[int],
                     label_topics: Sequence[int]) -> list[float]:
    """How well each label retrieves its own topic's documents by embedding: :func:`retrieval_precision`
    of the cosine similarities between the labels' and the documents' embeddings."""
    return retrieval_precision(unit_rows(label_vectors) @ unit_rows(doc_vectors).T, topics, label_topics)


JUDGED_DOCS = 2_000  # the most documents of one topic or hierarchy node a label is judged on (BENCHMARKS.md, Scale)


def judged_rows(rows: np.ndarray, most: Optional[int] = JUDGED_DOCS, seed: int = 0, keep: Sequence[int] = ()) -> np.ndarray:
    """The rows of a topic's (or node's) documents its label is judged on: all of them, or ``most`` (in order)
    when there are more: the rows in ``keep`` (the documents its prompt showed the LLM, so a name copied from
    them is not taken for an invented word) and the rest drawn at random (``seed``). Key phrases, the rubric's
    vocabulary and the document share then cost the same at any corpus size (a hierarchy's root holds the
    whole corpus)."""
    rows = np.asarray(rows)
    if not most or len(rows) <= most:
        return rows
    kept = np.intersect1d(np.asarray(keep, dtype=rows.dtype), rows)[:most]
    rest = np.setdiff1d(rows, kept)
    drawn = np.random.default_rng(seed).choice(rest, size=most - len(kept), replace=False)
    return np.sort(np.concatenate([kept, drawn]))


NARROW_SHARE = 0.2  # a label matching fewer of its topic's documents names one story, not the topic ...
BROAD_SHARE = 0.4  # ... when a passing candidate matching at least this share exists (BENCHMARKS.md)


def content_words(label: str) -> list[str]:
    """The words of ``label`` that carry meaning (English stop words dropped), hyphenated words split."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return [w for w in words_of((label or "").replace("-", " ")) if w not in ENGLISH_STOP_WORDS]


def word_index(documents: Sequence[str]) -> dict[str, set[int]]:
    """Each word of ``documents`` (:func:`helpers.rubric.words_of`) and the documents holding it."""
    index: dict[str, set[int]] = {}
    for i, document in enumerate(documents):
        for word in set(words_of(document)):
            index.setdefault(word, set()).add(i)
    return index


def document_share(label: str, index: dict[str, set[int]], n_documents: int) -> float:
    """The share of a topic's documents that hold at least half of ``label``'s content words (each
    found as written, inflected or by its stem, as :func:`helpers.rubric.invented_words` finds them);
    ``index`` is :func:`word_index` of those ``n_documents``. "The 2004 World Open" in a topic of tennis
    reports matches few of them; "Tennis" most. ``nan`` for a label without content words."""
    words = content_words(label)
    if not words or not n_documents:
        return float("nan")
    hits = np.zeros(n_documents, dtype=int)
    for word in dict.fromkeys(words):
        forms = {word} if any(c.isdigit() for c in word) else variants(word)
        stem = word[: max(5, len(word) - 3)] if len(word) >= 5 and not any(c.isdigit() for c in word) else None
        found = set().union(*(docs for form, docs in index.items() if form in forms or (stem and form.startswith(stem))))
        hits[list(found)] += 1
    return float((hits * 2 >= len(set(words))).mean())


def choose_label(candidates: list[dict[str, Any]], margin: float = 0.08) -> Optional[dict[str, Any]]:
    """The candidate to keep: the LLM's own answer, unless a key phrase covers the topic clearly better,
    or the choice names one story while a candidate names the topic.

    Each candidate has ``text``, ``source`` ("llm" or "key phrase"), ``failures`` (the
    rubric's) and ``coverage``: the mean cosine similarity of its embedding to the topic's
    documents, which rewards a label that describes the topic as a whole over one that
    matches one of its documents. Only candidates that pass the rubric compete. The
    best-covering LLM answer wins unless the best key phrase covers the topic more than
    ``margin`` better (an answer that names a side issue); ``None`` when nothing passes.
    With each candidate's ``share`` (:func:`document_share`), a choice matching under
    ``NARROW_SHARE`` of the documents gives way to the best-covering candidate matching at least
    ``BROAD_SHARE`` of them ("Celebrity Big Brother" for a topic of television news).
    """
    passing = [c for c in candidates if not c["failures"]]
    best = {source: max((c for c in passing if c["source"] == source), key=lambda c: c["coverage"], default=None)
            for source in ("llm", "key phrase")}
    llm, phrase = best["llm"], best["key phrase"]
    chosen = llm if llm and (not phrase or phrase["coverage"] - llm["coverage"] <= margin) else phrase
    if chosen is not None and chosen.get("share", 1.0) < NARROW_SHARE:
        broad = [c for c in passing if c.get("share", 0.0) >= BROAD_SHARE]
        chosen = max(broad, key=lambda c: c["coverage"], default=chosen)
    return chosen


def judged_answer(raw: str, prompt: str, keywords: list[str], documents: list[str], titles: list[str]) -> dict[str, Any]:
    """One answer of BERTopic's ``TextGeneration`` (the reference's method) as a record like ours.

    The same cleaning, repair and rubric as :class:`BatchedTextGeneration`, with the prompt
    the answer came from: the label when it passes, the keywords when it does not.
    """
    text = repair_label(clean_label(raw, prompt))
    failures = label_failures(text, prompt, documents, titles, repaired_from=answer_line(raw, prompt))
    label = keywords_label(keywords) if failures else text
    return dict(prompt=prompt, raw=raw, answers=[raw], label=label, source="keywords" if failures else "llm",
                fallback=bool(failures), candidates=[dict(text=text, source="llm", failures=failures)])


def labels_table(topic_model, llm, documents: list[str], embeddings: Optional[np.ndarray] = None,
                 titles: Optional[Sequence[str]] = None, aspect: str = "LLM") -> pd.DataFrame:
    """One row per topic: the label, where it came from (``source``: "llm", "key phrase" or
    "keywords"; ``fallback`` for the last), its ``confidence`` (:func:`label_confidence`), the
    ``share`` of its topic's documents its words match (:func:`document_share`), how many other
    labels of the run it nearly ``duplicates`` (:func:`helpers.distinct.duplicate_counts`; the
    outlier topic left out), the
    rubric's verdict on the LLM's first answer (``llm_failures``), how many tokens were cut from the
    prompt's documents to fit the model's window (``prompt_cut_tokens``: 0 when none, or when BERTopic's
    ``TextGeneration``, which cuts nothing, made the labels), the reference's label (the
    first line of that answer) and the raw answer.

    ``llm`` is the fitted representation model: ours (its ``records_``) or BERTopic's
    ``TextGeneration`` (its ``prompts_`` and answers, judged here by :func:`judged_answer`).
    ``documents``, ``embeddings`` and ``titles`` are what the topic model was fitted on.
    """
    topics = np.asarray(topic_model.topics_)
    by_topic = {t: [documents[i] for i in np.flatnonzero(topics == t)] for t in set(topics.tolist())}
    titles_by = {t: [str(titles[i]) for i in np.flatnonzero(topics == t)] for t in by_topic} if titles is not None else {}
    if hasattr(llm, "records_"):  # ours (helpers.batched_generation.BatchedTextGeneration)
        records = llm.records_
    else:
        answers = topic_model.get_topics(full=True)[aspect]
        records = [dict(topic=t, **judged_answer(words[0][0], prompt, [w for w, _ in topic_model.get_topic(t)],
                                                 by_topic.get(t, []), titles_by.get(t, [])))
                   for (t, words), prompt in zip(answers.items(), getattr(llm, "prompts_", [""] * len(answers)))]
    embed = topic_model.embedding_model.embed
    if records and "confidence" not in records[0]:
        vectors = embeddings if embeddings is not None else embed(list(documents))
        scores = label_confidence(embed([r["label"] for r in records]), vectors, topics, [r["topic"] for r in records])
        records = [{**r, "confidence": c} for r, c in zip(records, scores)]
    named = [r for r in records if r["topic"] != -1]
    duplicates = dict(zip([r["topic"] for r in named], duplicate_counts(
        [r["label"] for r in named], embed([r["label"] for r in named]) if named else np.zeros((0, 1)))))
    rows = []
    for r in records:
        first = next((c for c in r["candidates"] if c["source"] == "llm"), {"failures": []})
        docs = by_topic.get(r["topic"], [])
        share = r.get("share", float("nan")) if "share" in r and not r["fallback"] else document_share(
            r["label"], word_index(docs), len(docs))
        rows.append(dict(topic=r["topic"], label=r["label"], source=r["source"], fallback=r["fallback"],
                         confidence=r["confidence"], share=share, duplicates=duplicates.get(r["topic"], 0),
                         llm_failures="; ".join(first["failures"]), prompt_cut_tokens=r.get("prompt_cut_tokens", 0),
                         reference_label=first_line(r["raw"]), raw=r["raw"]))
    return pd.DataFrame(rows)
