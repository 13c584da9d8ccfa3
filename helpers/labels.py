"""The labeler the settings ask for (:func:`llm_representation`) and the label table notebooks 03 and 06 show
(:func:`labels_table`).
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
    """One answer of BERTopic's ``TextGeneration`` as a record like ours: cleaned, repaired and judged as
    :class:`helpers.labeler.BatchedTextGeneration` does; the keywords when it fails."""
    text = repair_label(clean_label(raw, prompt))
    failures = label_failures(text, prompt, documents, titles, repaired_from=answer_line(raw, prompt))
    label = keywords_label(keywords) if failures else text
    return dict(prompt=prompt, raw=raw, answers=[raw], label=label, source="keywords" if failures else "llm",
                fallback=bool(failures), candidates=[dict(text=text, source="llm", failures=failures)])


def labels_table(topic_model, llm, documents: list[str], embeddings: Optional[np.ndarray] = None,
                 titles: Optional[Sequence[str]] = None, aspect: str = "LLM") -> pd.DataFrame:
    """One row per topic: ``label``, ``source`` ("llm", "key phrase" or "keywords"), ``fallback``, ``confidence``,
    ``share``, ``duplicates``, ``llm_failures`` (rubric on the first LLM answer), ``prompt_cut_tokens``,
    ``reference_label`` and ``raw``. ``llm`` is the fitted representation model (ours or ``TextGeneration``);
    ``documents``, ``embeddings`` and ``titles`` are what the topic model was fitted on. Raises ValueError, saying what
    to change, when every document is an outlier."""
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
    """The representation model ``settings.label_method`` asks for: "batched" (:class:`BatchedTextGeneration`) or
    "reference" (BERTopic's ``TextGeneration``), configured from ``settings``; ValueError otherwise."""
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
    """Notebook 02's rubric per answer: cleaned, repaired and judged (``failures``); with an ``embedder``, its
    ``coverage`` of ``documents`` and whether the labeler would pick it (``chosen``)."""
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
