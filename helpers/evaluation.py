"""Are the topics and labels any good? Coherence, diversity, label faithfulness, agreement.

- NPMI coherence (gensim's ``CoherenceModel``, ``c_npmi``, the measure the BERTopic paper
  reports through OCTIS) of each representation's top words on the run's own corpus;
- topic diversity: the share of unique words among all topics' top words (Dieng et al.);
- label faithfulness: cosine similarity between a label's embedding and the centroid of
  its topic's document embeddings, against the score the same labels get on the wrong
  topics (the shuffled-label baseline);
- label confidence: how well a label retrieves its own topic's documents (R-precision,
  :func:`helpers.labels.retrieval_precision`), with the embedding retriever notebook 03's
  label choice used and with a lexical TF-IDF retriever it never saw;
- agreement with known categories: NMI and ARI (scikit-learn), and how often a label is
  closest to the name of its topic's dominant category (by embedding) or to its documents' words
  (``category_match_lexical``, :func:`helpers.label_measures.lexical_categories`);
- distinct labels: the share of topics whose label nearly duplicates another's (``duplicate_rate``);
  the rubric's pass rate (``rubric_pass``) is reported as the filter it is, not as a score.

The measures the label choice never used come first in :func:`representation_table`
(``INDEPENDENT``): lexical confidence, lexical category agreement, duplicate rate.

:func:`evaluate_run` puts them together for one run folder (notebook 05);
:func:`compare_evaluations` sets two of them side by side.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any, Callable, Optional

import numpy as np
import pandas as pd

from .label_measures import duplicate_rate, lexical_categories, rubric_pass_rate
from .labels import label_confidence, retrieval_precision

EVALUATION_FORMAT_VERSION = 3  # 2: confidence and confidence_lexical; 3: category_match_lexical, duplicate_rate, rubric_pass
KEYWORD_REPRESENTATIONS = {"c-TF-IDF": None, "KeyBERT": "KeyBERT", "MMR": "MMR"}  # name -> BERTopic aspect
LABEL_REPRESENTATIONS = {"LLM label": "label", "LLM first line": "reference_label"}  # name -> labels.csv column
# +1: higher is better, -1: lower is better, 0: neither (a fact about the run, not a score)
DIRECTIONS = {
    "npmi": 1, "diversity": 1, "diversity_top10": 1, "faithfulness": 1, "faithfulness_shuffled": 0,
    "faithfulness_gap": 1, "category_match": 1, "fallback_share": -1, "confidence": 1, "confidence_lexical": 1,
    "category_match_lexical": 1, "duplicate_rate": -1, "rubric_pass": 0,
    "topic_count": 0, "outlier_share": -1, "nmi": 1, "ari": 1, "nmi_without_outliers": 1, "ari_without_outliers": 1,
}


# ---------------------------------------------------------------- words and tokens
def tokenize(texts: list[str], stop_words: str = "none") -> list[list[str]]:
    """Lowercase word tokens the way BERTopic's ``CountVectorizer`` finds them.

    ``stop_words="none"`` keeps every token, so runs with and without stop-word removal are
    scored on the same corpus; ``"english"`` drops scikit-learn's English stop words first.
    """
    from sklearn.feature_extraction.text import CountVectorizer

    if stop_words not in ("none", "english"):
        raise ValueError(f"stop_words must be 'none' or 'english', not {stop_words!r}.")
    analyzer = CountVectorizer(stop_words=None if stop_words == "none" else "english").build_analyzer()
    return [analyzer(text) for text in texts]


def ctfidf_words(topic_model, top_n: int = 25) -> dict[int, list[str]]:
    """Each topic's ``top_n`` words by c-TF-IDF weight, read from the fitted matrix.

    BERTopic keeps only ``top_n_words`` (10) in ``get_topic``; the matrix has them all.
    Rows follow the sorted topic ids (outliers, -1, left out here).
    """
    vocabulary = topic_model.vectorizer_model.get_feature_names_out()
    matrix = topic_model.c_tf_idf_
    words = {}
    for row, topic in enumerate(sorted(topic_model.topic_sizes_)):
        if topic == -1:
            continue
        weights = matrix[row].toarray().ravel()
        order = np.argsort(-weights, kind="stable")[:top_n]
        words[topic] = [str(vocabulary[i]) for i in order if weights[i] > 0]
    return words


def aspect_words(topic_model, aspect: str) -> dict[int, list[str]]:
    """The words of one extra representation (``"KeyBERT"``, ``"MMR"``) per topic, -1 left out."""
    return {int(t): [w for w, _ in pairs if w] for t, pairs in topic_model.topic_aspects_[aspect].items() if t != -1}


def label_words(labels: dict[int, str]) -> dict[int, list[str]]:
    """A label's content words (English stop words dropped): what its coherence is scored on."""
    topics = list(labels)
    return dict(zip(topics, tokenize([labels[t] for t in topics], stop_words="english")))


# ---------------------------------------------------------------- coherence and diversity
def npmi_per_topic(topic_words: list[list[str]], tokenized_docs: list[list[str]], top_n: int = 10) -> list[float]:
    """NPMI (``c_npmi``, in [-1, 1]) of each topic's first ``top_n`` words over ``tokenized_docs``.

    Words the corpus never contains are left out (gensim cannot score them); a topic with
    fewer than two known words gets ``nan``. One ``CoherenceModel`` scores every topic.
    """
    from gensim.corpora import Dictionary
    from gensim.models.coherencemodel import CoherenceModel

    dictionary = Dictionary(tokenized_docs)
    known = [[w for w in words[:top_n] if w in dictionary.token2id] for words in topic_words]
    scorable = [i for i, words in enumerate(known) if len(words) >= 2]
    scores = [float("nan")] * len(topic_words)
    if not scorable:
        return scores
    model = CoherenceModel(topics=[known[i] for i in scorable], texts=tokenized_docs, dictionary=dictionary,
                           coherence="c_npmi", topn=top_n, processes=1)
    for i, score in zip(scorable, model.get_coherence_per_topic()):
        scores[i] = float(np.clip(score, -1.0, 1.0))  # bounded by definition; gensim can exceed by ~1e-11
    return scores


def npmi_coherence(topic_words: list[list[str]], tokenized_docs: list[list[str]], top_n: int = 10) -> float:
    """Mean NPMI of the topics that can be scored (:func:`npmi_per_topic`); ``nan`` when none can."""
    return nan_mean(npmi_per_topic(topic_words, tokenized_docs, top_n))


def topic_diversity(topic_words: list[list[str]], top_n: int = 25) -> float:
    """Share of unique words among all topics' top ``top_n`` words (1: no word repeats)."""
    words = [w for topic in topic_words for w in topic[:top_n]]
    return len(set(words)) / len(words) if words else float("nan")


def nan_mean(values) -> float:
    """Mean of the finite values; ``nan`` when there are none (no numpy warning)."""
    finite = [float(v) for v in values if v is not None and math.isfinite(v)]
    return float(np.mean(finite)) if finite else float("nan")


# ---------------------------------------------------------------- faithfulness
def centroids(embeddings: np.ndarray, topics: list[int]) -> dict[int, np.ndarray]:
    """Mean document embedding per topic (outliers, topic -1, left out)."""
    topics = np.asarray(topics)
    return {int(t): embeddings[topics == t].mean(axis=0) for t in sorted(set(topics.tolist())) if t != -1}


def cosine_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine similarity of every row of ``a`` with every row of ``b``."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return a @ b.T


def faithfulness(text_vectors: np.ndarray, centroid_vectors: np.ndarray) -> dict[str, Any]:
    """How close each topic's text (label or keywords) is to its own topic, and to the others.

    Row ``i`` of both arrays belongs to the same topic. ``faithfulness`` is the mean cosine
    similarity of each text with its own centroid; ``faithfulness_shuffled`` is the score of
    the same texts given to the wrong topics: the mean over every text-other-centroid pair,
    which is exactly the expected score of a random shuffle that moves every label (so no
    seed decides it). ``per_topic`` keeps each topic's own score.
    """
    sims = cosine_matrix(text_vectors, centroid_vectors)
    n = len(sims)
    own = np.diag(sims)
    shuffled = float((sims.sum() - own.sum()) / (n * (n - 1))) if n > 1 else float("nan")
    return {
        "faithfulness": float(own.mean()),
        "faithfulness_shuffled": shuffled,
        "faithfulness_gap": float(own.mean()) - shuffled,
        "per_topic": own.tolist(),
    }


# ---------------------------------------------------------------- known categories
def agreement(topics: list[int], categories: list[str], include_outliers: bool = True) -> Optional[dict[str, float]]:
    """NMI and ARI of topic assignments against known categories (``None`` without categories)."""
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    if not categories:
        return None
    pairs = [(t, c) for t, c in zip(topics, categories) if include_outliers or t != -1]
    if not pairs:
        return None
    assigned, known = zip(*pairs)
    return {"nmi": float(normalized_mutual_info_score(known, assigned)),
            "ari": float(adjusted_rand_score(known, assigned))}


def dominant_categories(topics: list[int], categories: list[str]) -> dict[int, tuple[str, float]]:
    """Each topic's most frequent category and the share of its documents in it (-1 left out)."""
    counts: dict[int, Counter] = {}
    for topic, category in zip(topics, categories):
        if topic != -1:
            counts.setdefault(int(topic), Counter())[category] += 1
    return {t: (c.most_common(1)[0][0], c.most_common(1)[0][1] / sum(c.values())) for t, c in sorted(counts.items())}


def nearest_categories(text_vectors: np.ndarray, category_vectors: np.ndarray, names: list[str]) -> list[str]:
    """For each text, the category name whose embedding is most similar to it."""
    sims = cosine_matrix(text_vectors, category_vectors)
    return [names[i] for i in sims.argmax(axis=1)]


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
    """The rubric's verdict per label row: the first LLM answer's (``llm_failures``) for "LLM first line";
    for "LLM label", a keyword fallback fails ("keyword fallback") and a chosen label passes (the filter)."""
    rows = labels[labels.topic != -1]
    out: dict[str, dict[int, str]] = {}
    if "llm_failures" in rows.columns:
        out["LLM first line"] = dict(zip(rows.topic.astype(int), rows.llm_failures.fillna("").astype(str)))
    if "fallback" in rows.columns:
        out["LLM label"] = {int(t): "keyword fallback" if bool(f) else "" for t, f in zip(rows.topic, rows.fallback)}
    return out


def lexical_retriever(documents: list[str]) -> Callable[[list[str]], np.ndarray]:
    """A TF-IDF retriever over ``documents`` (English stop words, sublinear tf), fitted once: it turns
    texts into their similarities to every document, by the words they share, not by what an
    embedding model makes of them. Feed its rows to :func:`helpers.labels.retrieval_precision`."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    tfidf = TfidfVectorizer(stop_words="english", sublinear_tf=True).fit(documents)
    document_matrix = tfidf.transform(documents).T
    return lambda texts: (tfidf.transform(texts) @ document_matrix).toarray()


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
    """Every number of notebook 05 for one run, as a JSON-ready dict (``nan`` -> ``None``).

    ``documents`` is the run's ``documents.parquet`` (``abstract``, ``topic``, optional
    ``category``); ``labels`` its ``labels.csv``; ``embed`` turns texts into vectors with
    the run's embedding model; ``document_embeddings`` are the documents' vectors (the
    cached ones from notebook 03).
    """
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
    """One representation's row of :func:`evaluate_run` (``c``: what it computed for the run) and its
    per-topic entries, in ``c["topic_ids"]`` order."""
    topic_ids, words, texts, npmi, fallback = c["topic_ids"], c["words"], c["texts"], c["npmi"], c["fallback"]
    categories = c["category_vectors"] is not None
    shown = [texts[name].get(t, "") or " " for t in topic_ids]
    text_vectors = c["embed"](shown)
    faith = faithfulness(text_vectors, c["centroid_matrix"])
    semantic = label_confidence(text_vectors, c["document_embeddings"], c["topics"], topic_ids)
    lexical = retrieval_precision(c["retrieve"](shown), c["topics"], topic_ids)
    nearest = nearest_categories(text_vectors, c["category_vectors"], c["names"]) if categories else None
    nearest_lexical = c["lexical_category"](shown) if categories else None
    # a label that fell back to keywords is not the LLM's: its row scores the other topics only
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


def to_json_ready(value: Any) -> Any:
    """Nested dicts/lists with numpy scalars made plain and ``nan`` made ``None`` (valid JSON)."""
    if isinstance(value, dict):
        return {str(k): to_json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json_ready(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if not math.isfinite(value) else float(value)
    return value


# ---------------------------------------------------------------- tables and comparison
KEYWORD_ROWS = tuple(KEYWORD_REPRESENTATIONS)  # 10 or 25 words per topic
LABEL_ROWS = tuple(LABEL_REPRESENTATIONS)  # a handful of words per topic
NOT_SCORES = ("faithfulness_shuffled", "fallback_share", "words_per_topic", "npmi_scored_topics", "scored_topics",
              "rubric_pass")
# what the label choice never used, first: the lexical retriever, lexical category agreement, the duplicate rate
INDEPENDENT = ("confidence_lexical", "category_match_lexical", "duplicate_rate")


def styled_representations(table: pd.DataFrame):
    """The per-representation table with the best value of each score in bold, within its kind only:
    keyword lists against keyword lists, labels against labels (a 4-word label and a 25-word list
    are not scored on equal terms)."""
    scores = [c for c in table.columns if c not in NOT_SCORES]

    def bold(column: pd.Series) -> list[str]:
        out = []
        for name, value in column.items():
            group = [n for n in (KEYWORD_ROWS if name in KEYWORD_ROWS else LABEL_ROWS) if n in column.index]
            best = column[group].min() if DIRECTIONS.get(column.name, 1) < 0 else column[group].max()
            out.append("font-weight: bold" if pd.notna(value) and value == best else "")
        return out

    return table.style.format(precision=3, na_rep="–").apply(bold, subset=scores)


def representation_table(evaluation: dict[str, Any]) -> pd.DataFrame:
    """One row per representation, one column per metric: first the measures the label choice never used
    (``INDEPENDENT``), then the others; ``rubric_pass`` (a filter, not a score) last."""
    table = pd.DataFrame(evaluation["representations"]).T.rename_axis("representation")
    first = [c for c in INDEPENDENT if c in table.columns]
    last = [c for c in ("rubric_pass",) if c in table.columns]
    return table[first + [c for c in table.columns if c not in first and c not in last] + last]


def run_table(evaluation: dict[str, Any]) -> pd.Series:
    """The run-level numbers: topic count, outlier share, NMI/ARI when categories are known."""
    return pd.Series(evaluation["run"], name="value")


def long_table(evaluation: dict[str, Any], run: str) -> pd.DataFrame:
    """Every metric as ``run, representation, metric, value`` rows (run-level ones under ``"run"``)."""
    rows = [{"run": run, "representation": name, "metric": metric, "value": value}
            for name, metrics in evaluation["representations"].items() for metric, value in metrics.items()]
    rows += [{"run": run, "representation": "run", "metric": metric, "value": value}
             for metric, value in evaluation["run"].items()]
    frame = pd.DataFrame(rows)
    return frame[frame.metric.isin(DIRECTIONS)].reset_index(drop=True)


def compare_evaluations(
    a: dict[str, Any], b: dict[str, Any], names: tuple[str, str] = ("this run", "other run")
) -> pd.DataFrame:
    """Two evaluations side by side: ``representation, metric, <a>, <b>, difference, better``.

    ``difference`` is a - b; ``better`` names the run whose value is better by the metric's
    direction (``"="`` when equal, empty when the metric has no better side or a value is missing).
    """
    left, right = (long_table(e, n).drop(columns="run").rename(columns={"value": n}) for e, n in zip((a, b), names))
    keys = pd.concat([left, right])[["representation", "metric"]].drop_duplicates()  # the evaluations' own order
    frame = keys.merge(left, how="left").merge(right, how="left").reset_index(drop=True)
    va = pd.to_numeric(frame[names[0]], errors="coerce")
    vb = pd.to_numeric(frame[names[1]], errors="coerce")
    frame["difference"] = va - vb
    direction = frame.metric.map(DIRECTIONS).fillna(0)
    signed = frame["difference"] * direction

    def better(i: int) -> str:
        if direction[i] == 0 or not np.isfinite(signed[i]):
            return ""
        if abs(signed[i]) < 1e-9:
            return "="
        return names[0] if signed[i] > 0 else names[1]

    frame["better"] = [better(i) for i in range(len(frame))]
    return frame


def _flat(settings: dict[str, Any]) -> dict[str, Any]:
    """``settings`` with nested mappings spelled out: ``{"versions": {"torch": "2.8"}}`` -> ``{"versions.torch": "2.8"}``."""
    flat = {}
    for key, value in settings.items():
        if isinstance(value, dict):
            flat.update({f"{key}.{k}": v for k, v in _flat(value).items()})
        else:
            flat[key] = value
    return flat


def settings_differences(a: dict[str, Any], b: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """The settings two runs do not share: ``{name: (a's value, b's value)}``, including what they ran with
    (``settings.json``'s ``precision_resolved`` and each key library's ``versions.<name>``)."""
    a, b = _flat(a), _flat(b)
    return {k: (a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)}


def comparability_notes(a: dict[str, Any], b: dict[str, Any], settings_a: dict, settings_b: dict) -> list[str]:
    """Reasons a side-by-side reading can mislead: other corpus, other embedding model, other scoring."""
    notes = []
    if a["run"]["documents"] != b["run"]["documents"] or settings_a.get("dataset") != settings_b.get("dataset"):
        notes.append("The runs use different corpora: NPMI and NMI/ARI are computed on each run's own documents.")
    if settings_a.get("embedding_model") != settings_b.get("embedding_model"):
        notes.append("The runs use different embedding models: faithfulness scores are not on the same scale.")
    if a["method"] != b["method"]:
        notes.append("The evaluations were computed with different settings (see `method`).")
    precisions = settings_a.get("precision_resolved"), settings_b.get("precision_resolved")
    if precisions[0] != precisions[1]:
        shown = " and ".join(p or "not recorded" for p in precisions)
        notes.append(f"The runs computed in different precisions ({shown}): the topics move with precision as much "
                     f"as with another seed (BENCHMARKS.md).")
    versions = [k for k in settings_differences(settings_a, settings_b) if k.startswith("versions.")]
    if versions:
        notes.append(f"The runs used other versions of {', '.join(v.split('.', 1)[1] for v in versions)}.")
    return notes


# ---------------------------------------------------------------- run folders
EVALUATION_FILE = "evaluation.json"


def evaluate_folder(run_dir, cache_dir: Optional[str] = None, **options) -> tuple[dict[str, Any], dict[str, Any]]:
    """Evaluate the run folder notebook 03 wrote: ``(evaluation, results)``.

    Loads the run's own embedding model (from its ``settings.json``), reuses the document
    embeddings notebook 03 cached (``cache_dir``: None -> the run's), and passes
    ``options`` (``npmi_top_n``, ``diversity_top_n``, ``coherence_stop_words``) to
    :func:`evaluate_run`.
    """
    from .machine import default_cache_dir
    from .topics import embed_documents, load_results

    results = load_results(run_dir)
    settings, embedding_model, documents = results["settings"], results["embedding_model"], results["documents"]
    embeddings, _ = embed_documents(
        embedding_model, settings["embedding_model"], documents.abstract.tolist(),
        default_cache_dir(cache_dir or settings.get("cache_dir")), show_progress_bar=False,
        precision=settings.get("precision", "fp32"),
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
    """The run folder's ``evaluation.json`` when it was computed the same way from the results the
    folder holds now (:func:`results_key`: a re-run 03 or an edited labels.csv makes it stale), else ``None``."""
    import json
    from pathlib import Path

    path = Path(run_dir) / EVALUATION_FILE
    if not path.exists():
        return None
    saved = json.loads(path.read_text())
    same = saved.get("format_version") == EVALUATION_FORMAT_VERSION and all(
        saved.get("method", {}).get(k) == v for k, v in method.items())
    if same and saved.get("results_key") != results_key(run_dir):
        same = False
    return saved if same else None


def topic_table(evaluation: dict[str, Any], representation: str = "LLM label") -> pd.DataFrame:
    """One row per topic: size, dominant category and purity, the label, its faithfulness and nearest category."""
    rows = []
    for topic in evaluation["topics"]:
        shown = topic["representations"].get(representation, {})
        rows.append({
            "topic": topic["topic"], "size": topic["size"],
            "dominant_category": topic.get("dominant_category"), "purity": topic.get("purity"),
            representation: shown.get("text"), "confidence": shown.get("confidence"),
            "confidence_lexical": shown.get("confidence_lexical"), "faithfulness": shown.get("faithfulness"),
            "nearest_category": shown.get("nearest_category"),
            "nearest_category_lexical": shown.get("nearest_category_lexical"),
            "keywords_npmi": topic["representations"].get("c-TF-IDF", {}).get("npmi"),
        })
    return pd.DataFrame(rows).set_index("topic")


def styled_comparison(frame: pd.DataFrame, names: tuple[str, str]):
    """The comparison table with the better value of each row in green and the worse in red."""
    good, bad = "background-color: #d4edda", "background-color: #f8d7da"

    def colors(row):
        out = {column: "" for column in row.index}
        if row["better"] in names:
            other = names[1] if row["better"] == names[0] else names[0]
            out[row["better"]], out[other] = good, bad
        return pd.Series(out)

    return frame.style.apply(colors, axis=1).format(precision=3, na_rep="–", subset=[*names, "difference"])


def write_json(path, data: dict[str, Any]):
    """Write ``data`` as indented JSON atomically (``nan`` written as ``null``)."""
    import json
    from pathlib import Path

    from .files import atomic_write

    return atomic_write(Path(path), lambda tmp: Path(tmp).write_text(json.dumps(to_json_ready(data), indent=2)))
