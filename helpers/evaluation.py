"""Are the topics and labels any good? NPMI coherence, diversity, label faithfulness and confidence, agreement with
known categories, duplicate labels. :func:`evaluate_run` scores one run (notebook 05) with :mod:`helpers.measures`;
:mod:`helpers.comparison` shows the results as tables."""

from __future__ import annotations

import math
from collections import Counter
from typing import Any, Callable, Optional

import numpy as np
import pandas as pd

from .files import to_json_ready, write_json
from .label_measures import duplicate_rate, lexical_categories, rubric_pass_rate
from .label_similarity import label_confidence, retrieval_precision
from .measures import (
    agreement, aspect_words, centroids, ctfidf_words, dominant_categories, faithfulness, label_words, lexical_retriever,
    nan_mean, nearest_categories, npmi_per_topic, tokenize, topic_diversity,
)

# 2: confidence, confidence_lexical; 3: category_match_lexical, duplicate_rate, rubric_pass
EVALUATION_FORMAT_VERSION = 3
KEYWORD_REPRESENTATIONS = {"c-TF-IDF": None, "KeyBERT": "KeyBERT", "MMR": "MMR"}  # name -> BERTopic aspect
LABEL_REPRESENTATIONS = {"LLM label": "label", "LLM first line": "reference_label"}  # name -> labels.csv column
# +1: higher is better, -1: lower is better, 0: neither
DIRECTIONS = {
    "npmi": 1, "diversity": 1, "diversity_top10": 1, "faithfulness": 1, "faithfulness_shuffled": 0,
    "faithfulness_gap": 1, "category_match": 1, "fallback_share": -1, "confidence": 1, "confidence_lexical": 1,
    "category_match_lexical": 1, "duplicate_rate": -1, "rubric_pass": 0,
    "topic_count": 0, "outlier_share": -1, "nmi": 1, "ari": 1, "nmi_without_outliers": 1, "ari_without_outliers": 1,
}


# ---------------------------------------------------------------- one run
def representation_words(topic_model, labels: pd.DataFrame, top_n: int = 25) -> dict[str, dict[int, list[str]]]:
    """Per representation, each topic's words: c-TF-IDF (``top_n``), KeyBERT, MMR, and the labels' content words."""
    words = {"c-TF-IDF": ctfidf_words(topic_model, top_n)}
    for name, aspect in KEYWORD_REPRESENTATIONS.items():
        if aspect and aspect in (topic_model.topic_aspects_ or {}):
            words[name] = aspect_words(topic_model, aspect)
    for name, texts in label_texts(labels).items():
        words[name] = label_words(texts)
    return words


def label_texts(labels: pd.DataFrame) -> dict[str, dict[int, str]]:
    """The labels as shown (``label``) and the LLM's raw first line (``reference_label``), -1 left out."""
    rows = labels[labels.topic != -1]
    return {name: dict(zip(rows.topic.astype(int), rows[column].astype(str)))
            for name, column in LABEL_REPRESENTATIONS.items() if column in rows.columns}


def label_failure_columns(labels: pd.DataFrame) -> dict[str, dict[int, str]]:
    """The rubric's failures per topic: ``llm_failures`` for "LLM first line"; for "LLM label", "keyword fallback"
    where the label fell back to keywords, else ``""``."""
    rows = labels[labels.topic != -1]
    out: dict[str, dict[int, str]] = {}
    if "llm_failures" in rows.columns:
        out["LLM first line"] = dict(zip(rows.topic.astype(int), rows.llm_failures.fillna("").astype(str)))
    if "fallback" in rows.columns:
        out["LLM label"] = {int(t): "keyword fallback" if bool(f) else "" for t, f in zip(rows.topic, rows.fallback)}
    return out


def evaluate_run(
    topic_model,
    documents: pd.DataFrame,
    labels: pd.DataFrame,
    embed: Callable[[list[str]], np.ndarray],
    document_embeddings: np.ndarray,
    npmi_top_n: int = 10,
    diversity_top_n: int = 25,
    coherence_stop_words: str = "none",
) -> dict[str, Any]:
    """Every number of notebook 05 for one run, JSON-ready: ``documents`` and ``labels`` are the run's parquet and csv,
    ``embed`` the run's embedding model as a function, ``document_embeddings`` notebook 03's vectors."""
    topics = documents.topic.astype(int).tolist()
    topic_ids = sorted(t for t in set(topics) if t != -1)
    if not topic_ids:
        raise ValueError("This run has no topic besides the outliers (-1): there is nothing to evaluate.")
    has_categories = "category" in documents.columns and documents.category.notna().all()
    categories = documents.category.astype(str).tolist() if has_categories else []

    words = representation_words(topic_model, labels, diversity_top_n)
    texts = {name: {t: ", ".join(w[:npmi_top_n]) for t, w in per_topic.items()}
             for name, per_topic in words.items() if name in KEYWORD_REPRESENTATIONS}
    texts.update(label_texts(labels))
    fallback = labels.set_index("topic").fallback.astype(bool) if "fallback" in labels.columns else None

    tokenized = tokenize(documents.abstract.tolist(), coherence_stop_words)
    order = [(name, t) for name in words for t in topic_ids]
    npmi = dict(zip(order, npmi_per_topic([words[name].get(t, []) for name, t in order], tokenized, npmi_top_n)))

    topic_centroids = centroids(document_embeddings, topics)
    dominant = dominant_categories(topics, categories) if categories else {}
    names = sorted(set(categories))
    context = dict(topics=topics, topic_ids=topic_ids, words=words, texts=texts, npmi=npmi, fallback=fallback,
                   embed=embed, document_embeddings=document_embeddings, dominant=dominant, names=names,
                   centroid_matrix=np.array([topic_centroids[t] for t in topic_ids]), diversity_top_n=diversity_top_n,
                   category_vectors=embed(names) if categories else None,
                   retrieve=lexical_retriever(documents.abstract.tolist()), failures=label_failure_columns(labels),
                   lexical_category=lexical_categories(documents.abstract.tolist(), categories) if categories else None)
    representations, per_topic = {}, {t: {} for t in topic_ids}
    for name in words:
        representations[name], entries = score_representation(name, context)
        for t, entry in zip(topic_ids, entries):
            per_topic[t][name] = entry
    sizes = Counter(topics)
    return to_json_ready({
        "format_version": EVALUATION_FORMAT_VERSION,
        "method": {"npmi_top_n": npmi_top_n, "diversity_top_n": diversity_top_n,
                   "coherence_stop_words": coherence_stop_words, "coherence": "gensim CoherenceModel c_npmi",
                   "categories": names or None},
        "run": run_scores(topics, topic_ids, categories),
        "representations": representations,
        "topics": [{"topic": t, "size": sizes[t],
                    **({"dominant_category": dominant[t][0], "purity": dominant[t][1]} if categories else {}),
                    "representations": per_topic[t]} for t in topic_ids],
    })


def score_representation(name: str, c: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """One representation's row of :func:`evaluate_run` and its per-topic entries (``c``: the run's context)."""
    topic_ids, words, texts, npmi, fallback = c["topic_ids"], c["words"], c["texts"], c["npmi"], c["fallback"]
    categories = c["category_vectors"] is not None
    shown = [texts[name].get(t, "") or " " for t in topic_ids]
    text_vectors = c["embed"](shown)
    faith = faithfulness(text_vectors, c["centroid_matrix"])
    semantic = label_confidence(text_vectors, c["document_embeddings"], c["topics"], topic_ids)
    lexical = retrieval_precision(c["retrieve"](shown), c["topics"], topic_ids)
    nearest = nearest_categories(text_vectors, c["category_vectors"], c["names"]) if categories else None
    nearest_lexical = c["lexical_category"](shown) if categories else None
    # a keyword fallback is not the LLM's label: score the other topics only
    scored = [i for i, t in enumerate(topic_ids)
              if not (name == "LLM label" and fallback is not None and bool(fallback.get(t, False)))]
    ids = [topic_ids[i] for i in scored]
    topic_words = [words[name].get(t, []) for t in ids]
    top_n = c["diversity_top_n"]
    row: dict[str, Any] = {
        "scored_topics": len(ids),
        "npmi": nan_mean(npmi[(name, t)] for t in ids),
        "npmi_scored_topics": sum(math.isfinite(npmi[(name, t)]) for t in ids),
        "diversity": topic_diversity(topic_words, top_n) if ids else float("nan"),
        "diversity_top10": topic_diversity(topic_words, 10) if ids else float("nan"),
        "words_per_topic": float(np.median([len(w[:top_n]) for w in topic_words])) if ids else float("nan"),
    }
    if len(ids) >= 2:
        row.update({k: v for k, v in faithfulness(text_vectors[scored], c["centroid_matrix"][scored]).items()
                    if k != "per_topic"})
    row.update(confidence=nan_mean(semantic[i] for i in scored), confidence_lexical=nan_mean(lexical[i] for i in scored))
    row["category_match"] = (float(np.mean([nearest[i] == c["dominant"][topic_ids[i]][0] for i in scored]))
                             if categories and scored else None)
    row["category_match_lexical"] = (float(np.mean([nearest_lexical[i] == c["dominant"][topic_ids[i]][0]
                                                    for i in scored])) if categories and scored else None)
    row["duplicate_rate"] = duplicate_rate([shown[i] for i in scored], text_vectors[scored]) if scored else None
    if name in c["failures"]:
        row["rubric_pass"] = rubric_pass_rate([c["failures"][name].get(t, "") for t in topic_ids])
    if name == "LLM label" and fallback is not None:
        row["fallback_share"] = float(np.mean([bool(fallback.get(t, False)) for t in topic_ids]))
    entries = [{"text": texts[name].get(t, ""), "npmi": npmi[(name, t)], "faithfulness": faith["per_topic"][i],
                "confidence": semantic[i], "confidence_lexical": lexical[i],
                **({"nearest_category": nearest[i], "nearest_category_lexical": nearest_lexical[i]} if nearest else {})}
               for i, t in enumerate(topic_ids)]
    return row, entries


def run_scores(topics: list[int], topic_ids: list[int], categories: list[str]) -> dict[str, Any]:
    """The run-level numbers of :func:`evaluate_run`: size, topics, outliers, and agreement with the categories."""
    run_level: dict[str, Any] = {
        "documents": len(topics),
        "topic_count": len(topic_ids),
        "outlier_share": Counter(topics).get(-1, 0) / len(topics),
    }
    if categories:
        with_outliers = agreement(topics, categories)
        without = agreement(topics, categories, include_outliers=False)
        run_level.update({**with_outliers, "nmi_without_outliers": without["nmi"] if without else None,
                          "ari_without_outliers": without["ari"] if without else None})
    return run_level


EVALUATION_FILE = "evaluation.json"


def evaluate_folder(run_dir, cache_dir: Optional[str] = None, settings=None, **options) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(evaluation, results)`` for the run folder notebook 03 wrote, opened with ``settings`` and its cached
    embeddings (``cache_dir``: None -> this session's); ``options`` go to :func:`evaluate_run`. Raises ``ValueError``
    for another run's models."""
    from .machine import default_cache_dir
    from .topics import embed_documents
    from .runs import load_results

    try:
        results = load_results(run_dir, settings)
    except ValueError as error:  # another run's models
        raise ValueError(f"{error} To compare with it, run notebook 05 on that folder with its own settings "
                         f"first: its evaluation.json is then read.") from None
    session, embedding_model, documents = results["session"], results["embedding_model"], results["documents"]
    embeddings, _ = embed_documents(
        embedding_model, session.embedding_model, documents.abstract.tolist(),
        default_cache_dir(cache_dir or session.cache_dir), show_progress_bar=False, precision=session.precision,
        window=session.embedding_max_tokens,
    )
    evaluation = evaluate_run(
        results["topic_model"], documents, results["labels"],
        lambda texts: embedding_model.encode(texts, show_progress_bar=False), embeddings, **options,
    )
    return {**evaluation, "results_key": results_key(run_dir)}, results


RESULT_FILES = ("settings.json", "topics.csv", "labels.csv", "documents.parquet")


def results_key(run_dir) -> str:
    """A hash of the run folder's results as they are now (settings, topics, labels, documents)."""
    from pathlib import Path

    from .topics import content_key

    return content_key(*[(Path(run_dir) / name).read_bytes() for name in RESULT_FILES])


def saved_evaluation(run_dir, method: dict[str, Any]) -> Optional[dict[str, Any]]:
    """The folder's ``evaluation.json`` if computed the same way from its current results, else ``None``."""
    import json
    from pathlib import Path

    path = Path(run_dir) / EVALUATION_FILE
    if not path.exists() or not all((Path(run_dir) / name).is_file() for name in RESULT_FILES):
        return None  # refused later, where the results are read
    try:
        saved = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None  # cut short: compute again
    if not isinstance(saved, dict):
        return None
    same = saved.get("format_version") == EVALUATION_FORMAT_VERSION and all(
        saved.get("method", {}).get(k) == v for k, v in method.items())
    if same and saved.get("results_key") != results_key(run_dir):
        same = False
    return saved if same else None


def save_evaluation(run_dir, evaluation: dict[str, Any]) -> dict[str, Any]:
    """Write ``evaluation`` to ``run_dir/evaluation.json`` keyed by :func:`results_key` (notebook 06 reuses it).
    Returns it, keyed."""
    from pathlib import Path

    keyed = {**evaluation, "results_key": results_key(run_dir)}
    write_json(Path(run_dir) / EVALUATION_FILE, keyed)
    return keyed
