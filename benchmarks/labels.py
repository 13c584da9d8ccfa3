"""Benchmark: LLM topic labels, the reference's way vs ours, in one run on the same inputs.

    .venv/bin/python benchmarks/labels.py                      # offline default, every topic
    .venv/bin/python benchmarks/labels.py --topics 8 --json out.json

Fits one BERTopic model (offline profile: BBC News, packaged MiniLM, scaled
min_cluster_size), captures the exact inputs BERTopic hands a representation model,
then labels the same topics with the same LLM and prompt, timed:

(a) reference: BERTopic's ``TextGeneration`` with the reference's generation settings
    (sampled at temperature 0.1, up to 500 new tokens, repetition_penalty 1.1, one topic
    at a time); the label is the answer's first line, as the reference reads it;
(b) ours: :class:`helpers.labels.BatchedTextGeneration` (batched, greedy, short budget,
    stop at line end), the label is the cleaned answer before any keyword fallback.

Both are judged by :func:`helpers.labels.label_problem`: empty, prompt echo, over 12
words, or a word looping. Prints seconds, the ratio, labels per second, unusable counts.
"""

from __future__ import annotations

import argparse
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
    """Fit the topic model once; return BERTopic's representation inputs (optionally first N topics)."""
    from helpers.data import load_corpus
    from helpers.llm import default_cache_dir
    from helpers.topics import build_topic_model, embed_documents, fit_min_cluster_size, load_embedding_model

    corpus = load_corpus(settings.dataset, settings.text_column, settings.title_column, settings.category_column,
                         settings.sample_size, settings.seed)
    docs = corpus.abstract.tolist()
    embedding_model = load_embedding_model(settings.embedding_model)
    embeddings, _ = embed_documents(embedding_model, settings.embedding_model, docs, default_cache_dir(settings.cache_dir))
    capture = CaptureInputs()
    size, _ = fit_min_cluster_size(len(docs), settings.min_cluster_size)
    model = build_topic_model(embedding_model, {"capture": capture}, size, settings.stop_words, settings.top_n_words,
                              settings.seed, verbose=False)
    model.fit_transform(docs, embeddings)
    topic_model, documents, c_tf_idf, topics = capture.inputs
    if n_topics:
        topics = dict(list(topics.items())[:n_topics])
    return topic_model, documents, c_tf_idf, topics, len(docs)


def judge(labels: dict[int, str], prompts: dict[int, str]) -> dict[str, Any]:
    """Unusable labels by reason, and how many are usable."""
    from helpers.labels import label_problem

    problems = Counter(label_problem(labels[t], prompts.get(t, "")) for t in labels)
    usable = problems.pop(None, 0)
    return {"usable": usable, "unusable": sum(problems.values()), "reasons": dict(problems)}


def run(args) -> dict[str, Any]:
    from helpers.labels import clean_label, first_line, llm_representation
    from helpers.llm import load_llm, make_generator
    from helpers.prompts import build_prompt
    from helpers.settings import resolve_settings

    settings = resolve_settings(args.profile, sample_size=args.sample_size)
    topic_model, documents, c_tf_idf, topics, n_docs = fitted_inputs(settings, args.topics)
    tokenizer, model = load_llm(settings.llm_model, settings.quantization, settings.cache_dir)
    generator = make_generator(model, tokenizer)  # the reference's generation settings
    prompt = build_prompt(settings.llm_model, tokenizer)
    common = dict(nr_docs=settings.nr_docs, doc_length=settings.label_doc_words, seed=settings.seed)

    reference = llm_representation("reference", generator, prompt, **common)
    topic_model.verbose = False
    start = time.perf_counter()
    ref_out = reference.extract_topics(topic_model, documents, c_tf_idf, topics)
    ref_seconds = time.perf_counter() - start
    ref_prompts = dict(zip(ref_out, reference.prompts_))
    ref_labels = {t: first_line(v[0][0]) for t, v in ref_out.items()}

    ours = llm_representation("batched", generator, prompt, batch_size=args.batch_size,
                              max_new_tokens=settings.label_max_new_tokens, **common)
    ours.show_progress = False
    start = time.perf_counter()
    ours.extract_topics(topic_model, documents, c_tf_idf, topics)
    our_seconds = time.perf_counter() - start
    our_prompts = {r["topic"]: r["prompt"] for r in ours.records_}
    our_labels = {r["topic"]: clean_label(r["raw"], r["prompt"]) for r in ours.records_}
    assert our_prompts == ref_prompts, "both methods must label from the same prompts"

    n = len(topics)
    return {
        "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}, {os.cpu_count()} cores",
        "profile": settings.profile, "llm": settings.llm_model, "quantization": settings.quantization,
        "documents": n_docs, "topics": n, "batch_size": args.batch_size,
        "reference": {"seconds": round(ref_seconds, 1), "labels_per_s": round(n / ref_seconds, 3),
                      **judge(ref_labels, ref_prompts), "labels": ref_labels},
        "ours": {"seconds": round(our_seconds, 1), "labels_per_s": round(n / our_seconds, 3),
                 **judge(our_labels, our_prompts), "fallbacks": sum(r["fallback"] for r in ours.records_),
                 "labels": our_labels},
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
    for name in ("reference", "ours"):
        r = result[name]
        print(f"{name:9s}: {r['seconds']:7.1f} s  {r['labels_per_s']:.3f} labels/s  usable {r['usable']}/{result['topics']}"
              f"  unusable {r['unusable']} {r['reasons']}")
    print(f"ours is {result['speedup']} x faster")
    for t in result["ours"]["labels"]:
        print(f"  {t:3d}  ref: {result['reference']['labels'][t][:70]!r:74s} ours: {result['ours']['labels'][t]!r}")


if __name__ == "__main__":
    main()
