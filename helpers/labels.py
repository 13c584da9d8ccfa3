"""The series' side of the labels: the labeler the settings ask for, and the label table notebooks 03 and 06 show.

- :func:`llm_representation` is the LLM representation model a run's settings ask for: ours
  (:class:`helpers.labeler.BatchedTextGeneration`) or the reference's ``TextGeneration``;
- :func:`labels_table` is one row per topic, ours or the reference's labeler, judged by the same rubric
  (:func:`judged_answer`).
Choosing one label per topic is the labeler's (:mod:`helpers.labeler._choice`).
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

import numpy as np
import pandas as pd

from .labeler import BatchedTextGeneration
from .labeler._choice import choose_label, document_share, word_index
from .label_similarity import duplicate_counts, label_confidence, unit_rows
from .labeler._clean import answer_line, clean_label, keywords_label, repair_label
from .labeler._rubric import first_line, label_failures
from .machine import default_cache_dir
from .settings import Settings


def judged_answer(raw: str, prompt: str, keywords: list[str], documents: list[str], titles: list[str]) -> dict[str, Any]:
    """One answer of BERTopic's ``TextGeneration`` (the reference's method) as a record like ours.

    The same cleaning, repair and rubric as :class:`helpers.labeler.BatchedTextGeneration`, with the prompt
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
    labels of the run it nearly ``duplicates`` (:func:`helpers.label_similarity.duplicate_counts`; the
    outlier topic left out), the
    rubric's verdict on the LLM's first answer (``llm_failures``), how many tokens were cut from the
    prompt's documents to fit the model's window (``prompt_cut_tokens``: 0 when none, or when BERTopic's
    ``TextGeneration``, which cuts nothing, made the labels), the reference's label (the
    first line of that answer) and the raw answer.

    ``llm`` is the fitted representation model: ours (its ``records_``) or BERTopic's
    ``TextGeneration`` (its ``prompts_`` and answers, judged here by :func:`judged_answer`).
    ``documents``, ``embeddings`` and ``titles`` are what the topic model was fitted on.
    Every document an outlier (no topic found) stops here, saying what to change."""
    from .topics import check_topics_found

    check_topics_found(list(topic_model.topics_), getattr(getattr(topic_model, "hdbscan_model", None), "min_cluster_size", None))
    topics = np.asarray(topic_model.topics_)
    by_topic = {t: [documents[i] for i in np.flatnonzero(topics == t)] for t in set(topics.tolist())}
    titles_by = {t: [str(titles[i]) for i in np.flatnonzero(topics == t)] for t in by_topic} if titles is not None else {}
    if hasattr(llm, "records_"):  # ours (helpers.labeler.BatchedTextGeneration)
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


def llm_representation(
    settings: Settings,
    generator,
    prompt: str,
    keyword_prompt: Optional[str] = None,
    embeddings: Optional[np.ndarray] = None,
    titles: Optional[Sequence[str]] = None,
):
    """The LLM representation model the run's ``settings`` ask for: ours or the reference's.

    ``settings.label_method`` "batched" is :class:`BatchedTextGeneration` with the settings'
    documents per prompt, words per document, batch size, token budget, candidates and seed
    (``keyword_prompt``, ``embeddings`` and ``titles`` as it takes them); "reference" is
    BERTopic's ``TextGeneration`` with the pipeline's own generation settings (the reference's:
    sampled at 0.1, up to 500 tokens, one topic at a time). Documents are cut to
    ``settings.label_doc_words`` words in both, when set. The settings are the one source of
    every default: nothing here or in the notebooks repeats them.
    """
    tokenizer = "whitespace" if settings.label_doc_words else None
    common = dict(nr_docs=settings.nr_docs, doc_length=settings.label_doc_words, tokenizer=tokenizer,
                  random_state=settings.seed)
    if settings.label_method == "batched":
        return BatchedTextGeneration(
            generator, prompt, batch_size=settings.label_batch_size, max_new_tokens=settings.label_max_new_tokens,
            candidates=settings.label_candidates, keyword_prompt=keyword_prompt, embeddings=embeddings, titles=titles,
            cache_dir=default_cache_dir(settings.cache_dir) / "answers", replay_only=settings.replay_only, **common,
        )
    if settings.label_method == "reference":
        from bertopic.representation import TextGeneration

        return TextGeneration(generator, prompt=prompt, **common)
    raise ValueError(f"Unknown label_method {settings.label_method!r}; use 'batched' or 'reference'.")


def judge_answers(answers: Sequence[str], prompt: str, documents: Sequence[str], embedder=None) -> pd.DataFrame:
    """Notebook 02's rubric, answer by answer: each raw answer cleaned (``clean_label``: its first line, no
    "Label:" or quotes) and repaired (``repair_label``: cut at a phrase boundary), the rubric's verdict
    (``failures``; empty: it passes); with an ``embedder``, how well it covers the ``documents`` (cosine with
    their mean embedding) and which one the labeler would keep (``chosen``, by ``choose_label``)."""
    centre = unit_rows(embedder.encode(list(documents))).mean(axis=0) if embedder is not None else None
    rows = []
    for raw in answers:
        cleaned = clean_label(raw, prompt)
        text = repair_label(cleaned)
        rows.append({"answer": raw, "clean_label": cleaned, "candidate": text,
                     "failures": label_failures(text, prompt, list(documents))})
        if centre is not None:
            rows[-1]["coverage"] = float(unit_rows(embedder.encode([text or " "]))[0] @ centre)
    frame = pd.DataFrame(rows)
    if centre is not None:
        chosen = choose_label([{"text": r["candidate"], "source": "llm", **r} for r in rows])
        frame["chosen"] = [chosen is not None and (r["answer"], r["candidate"]) == (chosen["answer"], chosen["candidate"])
                           for r in rows]
    return frame
