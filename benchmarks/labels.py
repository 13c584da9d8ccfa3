"""Benchmark: LLM topic labels, the reference's way vs ours, in one run on the same inputs.

    .venv/bin/python benchmarks/labels.py                      # offline default, every topic
    .venv/bin/python benchmarks/labels.py --topics 8 --json out.json

Fits one BERTopic model (offline profile: BBC News, packaged MiniLM, scaled
min_cluster_size), captures the exact inputs BERTopic hands a representation model,
then labels the same topics with the same LLM and prompt, timed:

(a) reference: BERTopic's ``TextGeneration`` with the reference's generation settings
    (sampled at temperature 0.1, up to 500 new tokens, repetition_penalty 1.1, one topic
    at a time); the label is the answer's first line, as the reference reads it;
(b) ours: :class:`helpers.labeler.BatchedTextGeneration` (batched, greedy, a budget large
    enough to finish, stop at line end; the reference's prompt and the short keywords-only
    prompt in one batched call, plus key phrases; the strict rubric and the coverage choice).

Both are judged by the strict rubric, :func:`helpers.labeler._rubric.label_failures`, with the same
inputs: the prompt, the topic's documents and titles, the raw answer and whether the token
budget ended it. Prints seconds, the ratio, the strict pass rate of each method and, for
ours, of each source (the LLM's own answers, key phrases, keyword fallbacks) and of the
LLM's raw answers before any choice; failures by reason; the mean confidence of the labels
(:func:`helpers.label_similarity.label_confidence`, embedding retriever) and the same with a lexical
TF-IDF retriever the choice never used; every label side by side.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script: benchmarks.llama2_topics importable

import argparse
import dataclasses
import json
import os
import platform
import time
from collections import Counter
from typing import Any

from bertopic.representation._base import BaseRepresentation


class CaptureInputs(BaseRepresentation):
    """A representation model that only records what BERTopic passes it."""

    def __init__(self):
        self.inputs: tuple = ()

    def extract_topics(self, topic_model, documents, c_tf_idf, topics):
        self.inputs = (topic_model, documents, c_tf_idf, topics)
        return topics


def fitted_inputs(settings, n_topics: int | None):
    """Fit the topic model once; return BERTopic's representation inputs (optionally first N topics) and the corpus."""
    from helpers.data import load_corpus
    from helpers.machine import default_cache_dir
    from bertopic import BERTopic
    from bertopic.vectorizers import ClassTfidfTransformer
    from hdbscan import HDBSCAN
    from sklearn.feature_extraction.text import CountVectorizer
    from umap import UMAP

    from helpers.topics import embed_documents, fit_min_cluster_size, open_embedding_model

    corpus = load_corpus(settings.dataset, settings.text_column, settings.title_column, settings.category_column,
                         settings.sample_size, settings.seed)
    docs = corpus.abstract.tolist()
    embedding_model = open_embedding_model(settings)
    embeddings, _ = embed_documents(embedding_model, settings.embedding_model, docs, default_cache_dir(settings.cache_dir),
                                    precision=settings.precision, window=settings.embedding_max_tokens)
    capture = CaptureInputs()
    size, _ = fit_min_cluster_size(len(docs), settings.min_cluster_size)
    model = BERTopic(  # notebook 03's model, the LLM label replaced by a capture of its inputs
        embedding_model=embedding_model,
        umap_model=UMAP(n_neighbors=15, n_components=5, min_dist=0.0, metric="cosine", random_state=settings.seed),
        hdbscan_model=HDBSCAN(min_cluster_size=size, metric="euclidean", cluster_selection_method="eom",
                              prediction_data=True),
        vectorizer_model=CountVectorizer(stop_words=settings.stop_word_list),
        ctfidf_model=ClassTfidfTransformer(reduce_frequent_words=settings.reduce_frequent_words),
        representation_model={"capture": capture}, top_n_words=settings.top_n_words,
    )
    model.fit_transform(docs, embeddings)
    topic_model, documents, c_tf_idf, topics = capture.inputs
    topics = {t: words for t, words in topics.items() if t != -1}  # the outliers get no label worth judging
    if n_topics:
        topics = dict(list(topics.items())[:n_topics])
    return topic_model, documents, c_tf_idf, topics, corpus, embeddings


def judge(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Strict pass count and rate, and failures by reason, of ``rows`` (each with ``failures``)."""
    reasons = Counter(f for r in rows for f in r["failures"])
    passed = sum(not r["failures"] for r in rows)
    return {"n": len(rows), "passed": passed, "pass_rate": round(passed / len(rows), 3) if rows else None,
            "failures_by_reason": dict(reasons)}


def confidences(labels: dict[int, str], embed, embeddings, corpus, documents) -> dict[str, Any]:
    """The measures the label choice never used first: mean confidence with a lexical TF-IDF retriever,
    agreement with the topic's majority BBC category measured lexically (:func:`lexical_categories`),
    the duplicate rate (:mod:`helpers.label_similarity`); then the embedding confidence and each label's document
    share (:func:`helpers.labeler._choice.document_share`). ``per_topic``: (embedding, lexical) confidence."""
    import numpy as np

    from helpers.measures import dominant_categories, lexical_retriever
    from helpers.label_measures import duplicate_rate, lexical_categories
    from helpers.labeler._choice import document_share, word_index
    from helpers.label_similarity import label_confidence, retrieval_precision

    topics, ids = documents.Topic.to_numpy(), list(labels)
    texts = [labels[t] for t in ids]
    vectors = embed(texts)
    semantic = label_confidence(vectors, embeddings, topics, ids)
    lexical = retrieval_precision(lexical_retriever(corpus.abstract.tolist())(texts), topics, ids)
    dominant = dominant_categories(topics.tolist(), corpus.category.astype(str).tolist())
    nearest = lexical_categories(corpus.abstract.tolist(), corpus.category.astype(str).tolist())(texts)
    shares = {}
    for t in ids:
        docs = [corpus.abstract.iloc[i] for i in np.flatnonzero(topics == t)]
        shares[t] = round(document_share(labels[t], word_index(docs), len(docs)), 3)
    return {"confidence_lexical": round(float(np.nanmean(lexical)), 3),
            "category_match_lexical": round(float(np.mean([nearest[i] == dominant[t][0] for i, t in enumerate(ids)])), 3),
            "duplicate_rate": round(duplicate_rate(texts, vectors), 3),
            "confidence": round(float(np.nanmean(semantic)), 3), "share": shares,
            "per_topic": {t: (round(a, 3), round(b, 3)) for t, a, b in zip(ids, semantic, lexical)}}


def llama2_labels(embed) -> dict[str, Any]:
    """What our pipeline does to the reference post's six Llama-2-13b-chat labels: each answer replayed as the
    LLM's (:mod:`benchmarks.llama2_topics`: its topic's keywords and documents written from the post's tables),
    cleaned, repaired, judged, chosen among the topic's key phrases and made distinct, as notebook 03 does."""
    from benchmarks.llama2_topics import LLAMA2_TOPICS
    from helpers.labeler._choice import disambiguate
    from helpers.labeler._clean import clean_label, repair_label
    from helpers.labeler._rubric import label_failures, vocabulary_of

    records = replayed_labels({t: (d["label"], d["keywords"], d["documents"]) for t, d in LLAMA2_TOPICS.items()},
                              embed)
    records = {r["topic"]: r for r in disambiguate(records, embed)}
    out = {}
    for topic, d in LLAMA2_TOPICS.items():
        repaired = repair_label(clean_label(d["label"]), vocabulary=vocabulary_of(d["documents"]))
        final = records[topic]["label"]
        out[d["label"]] = {"cleaned and repaired": repaired, "rubric": label_failures(repaired, "", d["documents"]),
                           "label": final, "source": records[topic]["source"],
                           "kept": final == d["label"], "change": None if final == d["label"] else f"-> {final!r}"}
    return out


def replayed_labels(topics: dict, embed) -> list[dict[str, Any]]:
    """Our labeler's records for ``topics`` ({topic: (the LLM's answer, keywords, documents)}), the answers replayed."""
    from helpers.labeler import BatchedTextGeneration
    from helpers.label_similarity import unit_rows
    from helpers.prompts import fill_prompt

    prompts = {t: fill_prompt("[DOCUMENTS]\n[KEYWORDS]", docs[:4], words) for t, (_, words, docs) in topics.items()}

    class Replay:
        tokenizer = None

        def stream_answers(self, asked, max_new_tokens, candidates):
            for i, prompt in asked.items():
                yield i, [next(a for t, (a, _, _) in topics.items() if prompts[t] == prompt)]

        def budget_was_hit(self, raw, n):
            return False

    labeler = BatchedTextGeneration(Replay(), "[DOCUMENTS]\n[KEYWORDS]", show_progress=False)
    groups = {t: dict(prompt=prompts[t], keywords=words, documents=docs, titles=[], vectors=unit_rows(embed(docs)))
              for t, (_, words, docs) in topics.items()}
    return labeler.label_groups(groups, embed)


def lexical_bound(records: list[dict[str, Any]], corpus, documents) -> dict[str, Any]:
    """The most any choice among our candidates could score on the lexical retriever: per topic, the candidate
    (passing the rubric; then any) it ranks best. Not a method (it grades with the yardstick itself): the bound a
    choice rule meets when it picks, over the same candidates, what this retriever likes."""
    import numpy as np

    from helpers.label_similarity import retrieval_precision
    from helpers.measures import lexical_retriever

    retrieve, topics = lexical_retriever(corpus.abstract.tolist()), documents.Topic.to_numpy()
    best: dict[str, list[float]] = {"passing": [], "any": []}
    picks = {}
    for r in records:
        for kind in best:
            texts = [c["text"] for c in r["candidates"] if c["text"].strip() and (kind == "any" or not c["failures"])]
            texts = texts or [r["label"]]
            scores = retrieval_precision(retrieve(texts), topics, [r["topic"]] * len(texts))
            best[kind].append(max(scores))
            if kind == "passing":
                picks[r["topic"]] = texts[int(np.argmax(scores))]
    return {"passing_candidates": round(float(np.mean(best["passing"])), 3),
            "any_candidate": round(float(np.mean(best["any"])), 3), "picks": picks}


def reference_labels(settings, generator, prompt, inputs, failures) -> tuple[list[dict[str, Any]], float, list[str]]:
    """BERTopic's ``TextGeneration`` with the reference's settings on ``inputs``: rows, seconds, its prompts."""
    from helpers.labeler._rubric import first_line
    from helpers.labels import llm_representation

    topic_model, documents, c_tf_idf, topics = inputs
    reference = llm_representation(dataclasses.replace(settings, label_method="reference"), generator, prompt)
    topic_model.verbose = False
    start = time.perf_counter()
    out = reference.extract_topics(topic_model, documents, c_tf_idf, topics)
    seconds = time.perf_counter() - start
    rows = []
    for (t, answer), ref_prompt in zip(out.items(), reference.prompts_):
        label = first_line(answer[0][0])  # as the reference reads it
        rows.append(dict(topic=t, label=label, failures=failures(label, ref_prompt, answer[0][0], t, 500)))
    return rows, seconds, reference.prompts_


def our_labels(settings, args, generator, prompt, keyword_prompt, inputs, embeddings, titles) -> tuple[Any, float]:
    """Ours, as notebook 03 runs it, on ``inputs``: the labeler (its ``records_``) and the seconds it took."""
    from helpers.labels import llm_representation

    labeler = llm_representation(
        dataclasses.replace(settings, label_method="batched", label_batch_size=args.batch_size), generator, prompt,
        keyword_prompt=keyword_prompt, embeddings=embeddings, titles=titles)
    labeler.show_progress = False
    labeler.cache_dir = None  # time the generation itself, never answers recorded by an earlier run
    start = time.perf_counter()
    labeler.extract_topics(*inputs)
    return labeler, time.perf_counter() - start


def our_rows(ours, failures, budget: int) -> tuple[list[dict[str, Any]], dict[str, list[dict[str, Any]]]]:
    """Our labels judged by the rubric, and the LLM's two answers (reference prompt, keywords prompt) per topic."""
    rows, raw_rows = [], {"reference prompt": [], "keywords prompt": []}
    for r in ours.records_:
        rows.append(dict(topic=r["topic"], label=r["label"], source=r["source"], confidence=r["confidence"],
                         failures=failures(r["label"], r["prompt"], "", r["topic"], budget, r["fallback"])))
        for name, candidate in zip(raw_rows, [c for c in r["candidates"] if c["source"] == "llm"]):
            raw_rows[name].append(dict(topic=r["topic"], label=candidate["text"], failures=candidate["failures"]))
    return rows, raw_rows


def run(args) -> dict[str, Any]:
    import numpy as np

    from helpers.labeler._clean import budget_was_hit
    from helpers.llm import load_llm, make_generator
    from helpers.machine import resolve_precision
    from helpers.prompts import build_keyword_prompt, build_prompt
    from helpers.labeler._rubric import label_failures, vocabulary_of
    from helpers.settings import resolve_settings

    settings = resolve_settings(args.profile, sample_size=args.sample_size)
    topic_model, documents, c_tf_idf, topics, corpus, embeddings = fitted_inputs(settings, args.topics)
    inputs = (topic_model, documents, c_tf_idf, topics)
    # the reference's setup: the model in its own dtype (fp32), the reference's generation settings
    tokenizer, model = load_llm(settings.llm_model, settings.quantization, settings.cache_dir)
    prompt, keyword_prompt = build_prompt(settings.llm_model, tokenizer), build_keyword_prompt(settings.llm_model, tokenizer)
    doc_topics = documents.Topic.to_numpy()
    texts = {t: [corpus.abstract.iloc[i] for i in np.flatnonzero(doc_topics == t)] for t in topics}
    titles = {t: [corpus.title.iloc[i] for i in np.flatnonzero(doc_topics == t)] for t in topics}
    vocabularies = {t: vocabulary_of([*texts[t], *titles[t]]) for t in topics}

    def failures(label, prompt_text, raw, topic, budget, fallback=False):
        hit = budget_was_hit(raw, tokenizer, budget)
        return label_failures(label, prompt_text, texts[topic], titles[topic], answer=raw, budget_hit=hit,
                              fallback=fallback, vocabulary=vocabularies[topic])

    ref_rows, ref_seconds, ref_prompts = reference_labels(settings, make_generator(model, tokenizer), prompt, inputs,
                                                          failures)
    ours_args = (settings, args)
    _, fp32_seconds = our_labels(*ours_args, make_generator(model, tokenizer), prompt, keyword_prompt, inputs,
                                 embeddings, corpus.title.tolist())  # ours at the reference's precision
    precision = resolve_precision(settings.precision)
    del model
    _, ours_model = load_llm(settings.llm_model, settings.quantization, settings.cache_dir, precision=precision)
    ours, our_seconds = our_labels(*ours_args, make_generator(ours_model, tokenizer), prompt, keyword_prompt, inputs,
                                   embeddings, corpus.title.tolist())  # ours as the series runs it
    assert [r["prompt"] for r in ours.records_] == ref_prompts, "both methods ask the reference's prompt"
    rows, raw_rows = our_rows(ours, failures, settings.label_max_new_tokens)
    return report(settings, args, (topic_model, documents, topics, corpus, embeddings),
                  (ref_rows, ref_seconds, fp32_seconds), (ours, rows, raw_rows, our_seconds, precision))


def report(settings, args, fitted, reference, ours_run) -> dict[str, Any]:
    """The benchmark's result: keywords, reference and ours side by side, the Llama-2 labels, the lexical bound."""
    topic_model, documents, topics, corpus, embeddings = fitted
    ref_rows, ref_seconds, fp32_seconds = reference
    ours, rows, raw_rows, our_seconds, precision = ours_run
    embed, n = topic_model.embedding_model.embed, len(topics)
    keywords = {t: ", ".join(w for w, _ in words[:10]) for t, words in topics.items()}
    return {
        "keywords": {**confidences(keywords, embed, embeddings, corpus, documents), "labels": keywords},
        "llama2": llama2_labels(embed),
        "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}, {os.cpu_count()} cores",
        "profile": settings.profile, "llm": settings.llm_model, "quantization": settings.quantization,
        "documents": len(corpus), "topics": n, "batch_size": args.batch_size,
        "label_max_new_tokens": settings.label_max_new_tokens, "label_candidates": settings.label_candidates,
        "reference": {"seconds": round(ref_seconds, 1), "labels_per_s": round(n / ref_seconds, 3), **judge(ref_rows),
                      **confidences({r["topic"]: r["label"] for r in ref_rows}, embed, embeddings, corpus, documents),
                      "labels": {r["topic"]: r["label"] for r in ref_rows},
                      "label_failures": {r["topic"]: r["failures"] for r in ref_rows}},
        "ours_fp32_seconds": round(fp32_seconds, 1), "speedup_same_precision": round(ref_seconds / fp32_seconds, 1),
        "ours": {"precision": precision, "seconds": round(our_seconds, 1), "labels_per_s": round(n / our_seconds, 3),
                 **judge(rows),
                 **confidences({r["topic"]: r["label"] for r in rows}, embed, embeddings, corpus, documents),
                 "by_source": {s: judge([r for r in rows if r["source"] == s]) for s in ("llm", "key phrase", "keywords")},
                 "llm_answers_before_choice": {name: judge(rs) for name, rs in raw_rows.items()},
                 "labels": {r["topic"]: r["label"] for r in rows},
                 "sources": {r["topic"]: r["source"] for r in rows},
                 "renamed": {r["topic"]: [r["duplicate_of_label"], r["renamed"]] for r in ours.records_ if "renamed" in r},
                 "llm_answers": {r["topic"]: [c["text"] for c in r["candidates"] if c["source"] == "llm"]
                                 for r in ours.records_},
                 "lexical_bound": lexical_bound(ours.records_, corpus, documents)},
        "speedup": round(ref_seconds / our_seconds, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", default="offline")
    parser.add_argument("--sample-size", type=int, default=None, help="documents (default: the whole corpus)")
    parser.add_argument("--topics", type=int, default=None, help="label only the first N topics (default: all)")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--json", help="also write the full result, labels included, to this file")
    args = parser.parse_args()
    result = run(args)
    if args.json:
        with open(args.json, "w") as out:
            json.dump(result, out, indent=2)
    print(f"machine: {result['machine']}; {result['documents']} documents, {result['topics']} topics, "
          f"{result['llm']} ({result['quantization']})")
    for name in ("keywords", "reference", "ours"):
        r = result[name]
        print(f"{name:9s}: lexical confidence {r['confidence_lexical']:.3f}  category (lexical) "
              f"{r['category_match_lexical']:.3f}  duplicates {r['duplicate_rate']:.3f}  "
              f"(embedding confidence {r['confidence']:.3f})")
    for name in ("reference", "ours"):
        r = result[name]
        print(f"{name:9s}: {r['seconds']:7.1f} s  {r['labels_per_s']:.3f} labels/s  rubric filter passes {r['passed']}/"
              f"{r['n']} ({r['pass_rate']:.0%})  failures {r['failures_by_reason']}")
    for source, r in result["ours"]["by_source"].items():
        print(f"  ours, source {source!r}: {r['n']} labels, {r['passed']} pass")
    for name, r in result["ours"]["llm_answers_before_choice"].items():
        print(f"  the LLM's answers to the {name}, before any choice: {r['passed']}/{r['n']} pass {r['failures_by_reason']}")
    print(f"ours ({result['ours']['precision']}) is {result['speedup']} x faster; in the reference's fp32 it takes "
          f"{result['ours_fp32_seconds']} s: {result['speedup_same_precision']} x")
    bound = result["ours"]["lexical_bound"]
    print(f"the best any choice among our candidates could do on the lexical retriever: {bound['passing_candidates']:.3f} "
          f"(passing the rubric), {bound['any_candidate']:.3f} (any); keywords {result['keywords']['confidence_lexical']:.3f}")
    for label, r in result["llama2"].items():
        print(f"  Llama-2 {label!r}: {'kept' if r['kept'] else 'changed ' + r['change']}")
    for t, (before, why) in result["ours"]["renamed"].items():
        print(f"  renamed {t}: {before!r} ({why})")
    for t in result["ours"]["labels"]:
        print(f"  {t:3d}  ref: {result['reference']['labels'][t][:60]!r:64s} ours ({result['ours']['sources'][t]}): "
              f"{result['ours']['labels'][t]!r} share {result['ours']['share'][t]}")


if __name__ == "__main__":
    main()
