"""Benchmark: the whole series and each of its stages, timed, with the machine's physical limit beside them.

    .venv/bin/python benchmarks/run.py                         # every part (about 35 min on 2 cores)
    .venv/bin/python benchmarks/run.py --parts stages limit    # some parts
    .venv/bin/python benchmarks/run.py --sizes 250 500 --json out.json

Parts (results in ``benchmarks/results/run-offline-2core.json``, tables printed):

laptop   the series held to AVX2 (``make test-avx2``'s environment: a laptop-class CPU, fp32), cold then warm,
         per notebook and taught cell, notebook 05's NMI/ARI and NPMI beside; ``--baseline <checkout>`` runs
         another checkout cold first, in the same session (``--parts laptop --baseline /tmp/before``).
series   ``python tools/run.py`` (what ``make run`` calls) on the whole offline corpus, per notebook:
         cold (empty cache: embeddings, materialized model, recorded answers, numba's compiled kernels all
         made: a first run after install), then warm (the same
         cache), then cold again forced to fp32 (``-p precision fp32``). From the default and the fp32 run:
         minimum and mean cosine between their embeddings, ARI between their topic assignments, the labels
         that differ, notebook 05's metrics side by side.
stability how far the topics move when nothing that matters changes: UMAP + HDBSCAN on fp32 vs default-precision
         embeddings, beside fp32 with another UMAP seed and fp32 plus noise of 1e-5 (ARI, topics found); the
         same pairs under five seeds, with notebook 03's n_neighbors=15 and with 30.
once     what a fresh process or an empty cache pays before any work, each way in its own process: import
         BERTopic + the first UMAP with umap-learn's numba kernels uncached / cached and compiled / loaded;
         the packaged GGUF converted by transformers as is / read once (the files compared).
stages   each step of notebook 03-05 timed on its own at several corpus sizes (a random sample, seed 42;
         the largest is the whole corpus): embed, reduce (5-D UMAP), cluster (HDBSCAN), c-TF-IDF, each
         representation (KeyBERTInspired, MMR, the LLM labels, generated, nothing replayed), the 2-D UMAP,
         the maps (``visualize_documents``, datamapplot), the evaluation; and how each grows with the size
         (the exponent b of time ~ size^b between the two largest sizes).
limit    the machine's measured matmul throughput (torch, bf16 and fp32, all cores) and the FLOPs embedding
         and labelling need (tokens x 2 x the parameters that multiply: every linear layer, attention, and
         the LM head; not the embedding lookup), so the distance of each measured stage from the physical
         limit, as a ratio.
scale    estimates on paper (marked so) for 117k, 1M and 10M documents on a T4, an A100, an H100 and a 4-GPU
         vLLM server, from the measured growth and FLOPs above and the GPUs' datasheet peaks.
server   the same labelling prompts through ``transformers serve`` (the ``openai`` backend, 1 and 4 requests
         at a time) against the model loaded here (batched), on this machine, in one run.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
RESULTS = REPO / "benchmarks" / "results" / "run-offline-2core.json"


# ------------------------------------------------------------------------------------------------ series
def run_series(runs: Path, name: str, cache: Path, *extra: str, env: dict[str, str] | None = None,
               repo: Path = REPO) -> dict[str, Any]:
    """``python tools/run.py`` into ``runs/name`` with ``cache`` as the cache folder, numba's compiled kernels
    included (``NUMBA_CACHE_DIR``: an empty cache is a first run after install); seconds per notebook. ``env``
    is added to the environment; ``repo`` is the checkout whose runner, notebooks and helpers run."""
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, str(repo / "tools" / "run.py"), "--runs", str(runs), "--name", name, "--overwrite",
         "-p", "cache_dir", str(cache), *extra],
        cwd=repo, capture_output=True, text=True,
        env={**os.environ, "NUMBA_CACHE_DIR": str(cache / "numba"), "PYTHONPATH": str(repo), **(env or {})},
    )
    seconds = time.perf_counter() - start
    if result.returncode:
        raise SystemExit(f"{name} failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    log = json.loads((runs / name / "run_log.json").read_text())
    return {"seconds": round(seconds, 1), "notebooks": {r["notebook"][:2]: r["seconds"] for r in log}}


def cell_seconds(run_dir: Path) -> dict[str, float]:
    """Seconds of each tagged (``teach:*``) cell in a run's executed notebooks: papermill records them."""
    import nbformat

    out = {}
    for path in sorted(run_dir.glob("0*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            tags = [t for t in cell.metadata.get("tags", []) if t.startswith("teach:")]
            if cell.cell_type == "code" and tags:
                out[f"{path.name[:2]} {tags[0][6:]}"] = round(cell.metadata.get("papermill", {}).get("duration") or 0, 1)
    return out


def compare_precisions(default_run: Path, fp32_run: Path, default_cache: Path, fp32_cache: Path) -> dict[str, Any]:
    """What fp32 vs the default changes: embeddings, topics, labels, notebook 05's metrics."""
    import numpy as np
    import pandas as pd
    from sklearn.metrics import adjusted_rand_score

    from helpers.topics import embeddings_path
    from helpers.runs import read_run_settings

    settings = read_run_settings(default_run)
    docs = pd.read_parquet(default_run / "documents.parquet")
    docs32 = pd.read_parquet(fp32_run / "documents.parquet")
    assert docs.abstract.tolist() == docs32.abstract.tolist()
    window = settings.get("embedding_max_tokens")
    a = np.load(embeddings_path(default_cache, settings["embedding_model"], docs.abstract.tolist(), settings["precision"],
                                window=window))
    b = np.load(embeddings_path(fp32_cache, settings["embedding_model"], docs.abstract.tolist(), "fp32", window=window))
    cosine = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    labels = pd.read_csv(default_run / "labels.csv", keep_default_na=False)
    labels32 = pd.read_csv(fp32_run / "labels.csv", keep_default_na=False)
    ev = json.loads((default_run / "evaluation.json").read_text())
    ev32 = json.loads((fp32_run / "evaluation.json").read_text())
    flat = lambda e: {k: v for k, v in e.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}  # noqa: E731
    per_rep = {rep: {"default": ev["representations"].get(rep), "fp32": ev32["representations"].get(rep)}
               for rep in ev.get("representations", {})}
    return {
        "embedding_cosine_min": float(cosine.min()), "embedding_cosine_mean": float(cosine.mean()),
        "topics_ari": float(adjusted_rand_score(docs32.topic, docs.topic)),
        "topics": {"default": int((labels.topic != -1).sum()), "fp32": int((labels32.topic != -1).sum())},
        "labels_default": sorted(labels[labels.topic != -1].label), "labels_fp32": sorted(labels32[labels32.topic != -1].label),
        "labels_only_default": sorted(set(labels.label) - set(labels32.label)),
        "labels_only_fp32": sorted(set(labels32.label) - set(labels.label)),
        "metrics": {k: {"default": flat(ev).get(k), "fp32": flat(ev32).get(k)} for k in flat(ev)},
        "per_representation": per_rep,
    }


def part_series(work: Path) -> dict[str, Any]:
    runs, cold, fp32 = work / "runs", work / "cache-default", work / "cache-fp32"
    out = {"cold": run_series(runs, "default-cold", cold)}
    out["cold_cells"] = cell_seconds(runs / "default-cold")
    out["warm"] = run_series(runs, "default-warm", cold)
    out["warm_cells"] = cell_seconds(runs / "default-warm")
    out["fp32_cold"] = run_series(runs, "fp32-cold", fp32, "-p", "precision", "fp32")
    out["fp32_cold_cells"] = cell_seconds(runs / "fp32-cold")
    out["fp32_over_default"] = round(out["fp32_cold"]["seconds"] / out["cold"]["seconds"], 2)
    out["precision"] = compare_precisions(runs / "default-cold", runs / "fp32-cold", cold, fp32)
    return out


# `make test-avx2`'s (the Makefile's HELD_TO_AVX2, tests/test_held_to_avx2.py): a laptop-class CPU. torch's own kernels,
# oneDNN, MKL (torch's matmuls), OpenBLAS (numpy's, scipy's) and numba's code on AVX2; before 2026-12-04 only the first two
HELD_TO_AVX2 = {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_ENABLE_INSTRUCTIONS": "AVX2",
                "OPENBLAS_CORETYPE": "Haswell", "NUMBA_CPU_NAME": "haswell", "NUMBA_CPU_FEATURES": ""}


def run_quality(run: Path) -> dict[str, Any]:
    """Notebook 05's yardsticks of a run: NMI/ARI of 03's topics against the BBC categories, NPMI of each
    representation; and the NMI/ARI of 06's refined topics."""
    evaluation = json.loads((run / "evaluation.json").read_text())
    refined = json.loads((run / "refined" / "evaluation.json").read_text())["run"]
    return {"nmi": round(evaluation["run"]["nmi"], 4), "ari": round(evaluation["run"]["ari"], 4),
            "refined_nmi": round(refined["nmi"], 4), "refined_ari": round(refined["ari"], 4),
            "npmi": {name: round(r["npmi"], 4) for name, r in evaluation["representations"].items()}}


def part_laptop(work: Path, baseline: Path | None = None) -> dict[str, Any]:
    """The series held to AVX2 (a laptop-class CPU: fp32, no bf16 or AMX), cold then warm, per notebook and
    per taught cell, with notebook 05's quality beside; ``baseline`` (another checkout, e.g. the commit before
    a change) run cold the same way first, in the same session, for the ratio."""
    runs, out = work / "runs", {"held": HELD_TO_AVX2}
    for label, repo in ([("baseline", baseline)] if baseline else []) + [("this", REPO)]:
        cache = work / f"cache-{label}"
        out[f"{label}_cold"] = run_series(runs, f"{label}-cold", cache, env=HELD_TO_AVX2, repo=repo)
        out[f"{label}_cold_cells"] = cell_seconds(runs / f"{label}-cold")
        out[f"{label}_quality"] = run_quality(runs / f"{label}-cold")
        print(label, "cold", out[f"{label}_cold"], out[f"{label}_quality"], flush=True)
    out["this_warm"] = run_series(runs, "this-warm", work / "cache-this", env=HELD_TO_AVX2)
    out["this_warm_cells"] = cell_seconds(runs / "this-warm")
    if baseline:
        out["cold_over_baseline"] = round(out["this_cold"]["seconds"] / out["baseline_cold"]["seconds"], 3)
    keep = Path(os.environ.get("KEEP_RUNS", "")) if os.environ.get("KEEP_RUNS") else None
    if keep:  # the runs' tables, for reading their labels afterwards (tests/reading.py)
        import shutil
        shutil.copytree(runs, keep, dirs_exist_ok=True)
    return out


STABILITY_SEEDS = (42, 7, 1, 2, 3)


def part_stability() -> dict[str, Any]:
    """How much the topics move when nothing that matters changes: notebook 03's UMAP + HDBSCAN on the whole
    corpus embedded in fp32 and in the default precision, beside fp32 under another UMAP seed and fp32 plus
    Gaussian noise of 1e-5 (ARI between the topic assignments, topics found); then, for each of
    ``STABILITY_SEEDS``, fp32 vs the default under that same seed and fp32 under that seed vs seed 42, with
    notebook 03's ``n_neighbors=15`` and with 30 (NMI against the BBC categories beside)."""
    import numpy as np
    from hdbscan import HDBSCAN
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score
    from umap import UMAP

    from helpers.data import load_corpus
    from helpers.machine import resolve_precision
    from helpers.settings import resolve_settings
    from helpers.topics import fit_min_cluster_size, load_embedding_model

    settings = resolve_settings("offline")
    corpus = load_corpus(settings.dataset, settings.text_column, settings.title_column, settings.category_column,
                         None, settings.seed, False)
    docs, categories = corpus.abstract.tolist(), corpus.category.to_numpy()
    size, _ = fit_min_cluster_size(len(docs), settings.min_cluster_size)
    vectors = {p: load_embedding_model(settings.embedding_model, p, settings.embedding_max_tokens).encode(  # 03's
        docs, show_progress_bar=False) for p in ("fp32", settings.precision)}

    def cluster(x, seed: int, neighbors: int):
        reduced = UMAP(n_neighbors=neighbors, n_components=5, min_dist=0.0, metric="cosine",
                       random_state=seed).fit_transform(x)
        return HDBSCAN(min_cluster_size=size, metric="euclidean", cluster_selection_method="eom").fit_predict(reduced)

    fitted: dict[tuple[str, int, int], Any] = {}

    def topics(precision: str, seed: int = settings.seed, neighbors: int = 15):
        """Topics of the ``precision`` embeddings, each (precision, seed, n_neighbors) fitted once."""
        if (precision, seed, neighbors) not in fitted:
            fitted[precision, seed, neighbors] = cluster(vectors[precision], seed, neighbors)
        return fitted[precision, seed, neighbors]

    fp32 = topics("fp32")
    variants = {
        f"default ({resolve_precision(settings.precision)})": topics(settings.precision),
        "fp32, UMAP seed 7 instead of 42": topics("fp32", seed=7),
        "fp32 + Gaussian noise 1e-5": cluster(vectors["fp32"] + np.random.RandomState(0).normal(
            0, 1e-5, vectors["fp32"].shape).astype(np.float32), settings.seed, 15),
    }
    count = lambda t: int(len(set(t.tolist())) - (-1 in t))  # noqa: E731
    out = {"fp32_topics": count(fp32), **{name: {"ari_vs_fp32": round(float(adjusted_rand_score(fp32, t)), 3),
                                                 "topics": count(t)} for name, t in variants.items()}}
    out["seeds"] = {}
    for neighbors in (15, 30):
        rows = []
        for seed in STABILITY_SEEDS:
            a, b = topics("fp32", seed, neighbors), topics(settings.precision, seed, neighbors)
            if seed == STABILITY_SEEDS[0]:
                first = a
            rows.append({"seed": seed, "topics_fp32": count(a), "topics_default": count(b),
                         "ari_default_vs_fp32": round(float(adjusted_rand_score(a, b)), 3),
                         "ari_vs_seed_42": round(float(adjusted_rand_score(first, a)), 3),
                         "nmi_categories_fp32": round(float(normalized_mutual_info_score(categories, a)), 3)})
        out["seeds"][f"n_neighbors={neighbors}"] = rows
    return out


# ------------------------------------------------------------------------------------------------ once
PROCESS_START = """
import sys, time
start = time.perf_counter()
if sys.argv[1] == "cached":
    from benchmarks.monkeypatches import cache_numba_kernels  # the patch helpers/ no longer applies (issue 34)
    cache_numba_kernels()
import bertopic
imported = time.perf_counter()
import numpy as np
from umap import UMAP
UMAP(n_neighbors=15, n_components=5, min_dist=0.0, metric="cosine", random_state=42).fit_transform(
    np.random.RandomState(0).normal(size=(600, 384)).astype(np.float32))
print(round(imported - start, 1), round(time.perf_counter() - imported, 1))
"""

GGUF_CONVERSION = """
import contextlib, hashlib, sys, time
from pathlib import Path
import helpers.packaged as packaged
from benchmarks.monkeypatches import gguf_read_once  # the patch helpers/ no longer applies (issue 34)
from helpers.data import package_dir
out = Path(sys.argv[2])
start = time.perf_counter()
with contextlib.nullcontext() if sys.argv[1] == "as is" else gguf_read_once():
    packaged.materialize_gguf(package_dir(packaged.GGUF_PACKAGE), packaged.GGUF_FILE, out)
seconds = time.perf_counter() - start
digest = hashlib.sha256(b"".join((out / f).read_bytes() for f in ("model.safetensors", "tokenizer.json", "config.json")))
print(round(seconds, 1), digest.hexdigest()[:16])
"""


def part_once(work: Path) -> dict[str, Any]:
    """What a new process (or an empty cache) pays before any work, with and without this project's cuts, each
    in its own fresh process: ``import bertopic`` + the first UMAP (600 x 384) as the packages ship (only
    pynndescent caches its kernels), with ``cache_numba_kernels`` (benchmarks/monkeypatches.py) compiling into an empty
    cache, and loading from it (the faster of two processes, but for the first); the packaged
    GGUF converted by transformers as is and with ``gguf_read_once`` (benchmarks/monkeypatches.py; same files, compared)."""
    def run(code: str, *args: str, env: dict[str, str] | None = None) -> list[str]:
        out = subprocess.run([sys.executable, "-c", code, *args], cwd=REPO, capture_output=True, text=True,
                             env={**os.environ, **(env or {})}, check=True)
        return out.stdout.strip().splitlines()[-1].split()

    shipped, ours = {"NUMBA_CACHE_DIR": str(work / "numba-shipped")}, {"NUMBA_CACHE_DIR": str(work / "numba")}
    run(PROCESS_START, "plain", env=shipped)  # pynndescent caches its own kernels: the next process loads those
    rows = {}
    for name, mode, env in (("as shipped, any later process", "plain", shipped),
                            ("cached, first process (compiles everything)", "cached", ours),
                            ("cached, any later process (loads)", "cached", ours)):
        times = [[float(x) for x in run(PROCESS_START, mode, env=env)] for _ in range(1 if "first" in name else 2)]
        rows[name] = {"import_bertopic_s": min(t[0] for t in times), "first_umap_s": min(t[1] for t in times)}
    gguf = {}
    for mode in ("as is", "read once"):
        seconds, digest = run(GGUF_CONVERSION, mode, str(work / mode.replace(" ", "-")))
        gguf[mode] = {"seconds": float(seconds), "files_sha256": digest}
    gguf["same_files"] = gguf["as is"]["files_sha256"] == gguf["read once"]["files_sha256"]
    gguf["speedup"] = round(gguf["as is"]["seconds"] / gguf["read once"]["seconds"], 2)
    return {"new_process": rows, "gguf_conversion": gguf}


# ------------------------------------------------------------------------------------------------ stages
def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


def stages_at(n: int, settings, embedder, generator, tokenizer) -> dict[str, float]:
    """Every stage of notebooks 03-05 once, on a sample of ``n`` documents; seconds per stage."""
    from helpers.data import load_corpus

    corpus = load_corpus(settings.dataset, settings.text_column, settings.title_column, settings.category_column,
                         n, settings.seed, False)
    docs, titles = corpus.abstract.tolist(), corpus.title.tolist()
    t: dict[str, float] = {}
    model, embeddings, vectorizer = fit_stages(t, docs, settings, embedder)
    llm = representation_stages(t, model, docs, titles, embeddings, vectorizer, settings, generator, tokenizer)
    map_and_evaluation_stages(t, model, llm, corpus, embeddings, embedder, settings)
    return {k: round(v, 2) for k, v in t.items()}


def fit_stages(t: dict[str, float], docs: list[str], settings, embedder) -> tuple[Any, Any, Any]:
    """Embed, 5-D UMAP, HDBSCAN and c-TF-IDF (their seconds into ``t``); the fitted BERTopic model, the
    embeddings and the vectorizer."""
    from bertopic import BERTopic
    from bertopic.vectorizers import ClassTfidfTransformer
    from bertopic.cluster import BaseCluster
    from bertopic.dimensionality import BaseDimensionalityReduction
    from hdbscan import HDBSCAN
    from sklearn.feature_extraction.text import CountVectorizer
    from umap import UMAP

    from helpers.topics import fit_min_cluster_size

    embeddings, t["embed"] = timed(lambda: embedder.encode(docs, show_progress_bar=False))
    reduced, t["reduce (5-D UMAP)"] = timed(lambda: UMAP(n_neighbors=15, n_components=5, min_dist=0.0, metric="cosine",
                                                         random_state=settings.seed).fit_transform(embeddings))
    size, _ = fit_min_cluster_size(len(docs), settings.min_cluster_size)
    clusters, t["cluster (HDBSCAN)"] = timed(lambda: HDBSCAN(min_cluster_size=size, metric="euclidean",
                                                             cluster_selection_method="eom").fit_predict(reduced))
    vectorizer = CountVectorizer(stop_words=settings.stop_word_list)
    model = BERTopic(embedding_model=embedder, umap_model=BaseDimensionalityReduction(), hdbscan_model=BaseCluster(),
                     vectorizer_model=vectorizer, top_n_words=settings.top_n_words,
                     ctfidf_model=ClassTfidfTransformer(reduce_frequent_words=settings.reduce_frequent_words))
    _, t["c-TF-IDF"] = timed(lambda: model.fit(docs, embeddings, y=clusters))
    return model, embeddings, vectorizer


def representation_stages(t: dict[str, float], model, docs: list[str], titles: list[str], embeddings, vectorizer,
                          settings, generator, tokenizer) -> Any:
    """KeyBERTInspired, MMR and the LLM labels, each less the c-TF-IDF that ``update_topics`` recomputes
    (their seconds and the number of LLM prompts into ``t``); the LLM representation, with its records."""
    from bertopic.representation import KeyBERTInspired, MaximalMarginalRelevance

    from helpers.labeler import BatchedTextGeneration
    from helpers.prompts import build_keyword_prompt, build_prompt

    topics = model.topics_
    for name, representation in (("KeyBERTInspired", KeyBERTInspired()), ("MMR", MaximalMarginalRelevance(diversity=0.3))):
        _, seconds = timed(lambda: model.update_topics(docs, topics=topics, vectorizer_model=vectorizer,
                                                       representation_model=representation))
        t[name] = seconds
    _, again = timed(lambda: model.update_topics(docs, topics=topics, vectorizer_model=vectorizer))
    for name in ("KeyBERTInspired", "MMR"):  # update_topics recomputes c-TF-IDF too
        t[name] = max(0.0, t[name] - again)
    llm = BatchedTextGeneration(
        generator, prompt=build_prompt(settings.llm_model, tokenizer),
        keyword_prompt=build_keyword_prompt(settings.llm_model, tokenizer), nr_docs=settings.nr_docs,
        doc_length=settings.label_doc_words, tokenizer="whitespace", batch_size=settings.label_batch_size,
        max_new_tokens=settings.label_max_new_tokens, embeddings=embeddings, titles=titles, show_progress=False,
    )  # no cache_dir: every answer generated
    _, seconds = timed(lambda: model.update_topics(docs, topics=topics, vectorizer_model=vectorizer,
                                                   representation_model={"LLM": llm}))
    t["LLM labels"] = max(0.0, seconds - again)
    t["LLM prompts"] = 2 * len(llm.records_)
    return llm


def map_and_evaluation_stages(t: dict[str, float], model, llm, corpus, embeddings, embedder, settings) -> None:
    """The 2-D UMAP, both document maps and the evaluation (their seconds into ``t``)."""
    import numpy as np
    import pandas as pd
    from umap import UMAP

    from helpers.evaluation import evaluate_run
    from helpers.labels import labels_table

    docs, titles, topics = corpus.abstract.tolist(), corpus.title.tolist(), model.topics_
    coordinates, t["2-D UMAP"] = timed(lambda: UMAP(n_neighbors=15, n_components=2, min_dist=0.0, metric="cosine",
                                                    random_state=settings.seed).fit_transform(embeddings))
    labels = labels_table(model, llm, docs, embeddings, titles)
    model.set_topic_labels(dict(zip(labels.topic, labels.label)))
    _, t["map: visualize_documents"] = timed(lambda: model.visualize_documents(
        titles, reduced_embeddings=coordinates, custom_labels=True, hide_annotations=True).to_html(include_plotlyjs=True))
    _, t["map: datamapplot"] = timed(lambda: model.visualize_document_datamap(
        docs, reduced_embeddings=coordinates, custom_labels=True))
    import matplotlib.pyplot as plt  # after the maps: not in their seconds

    plt.close("all")
    documents = pd.DataFrame({"abstract": docs, "topic": topics, "category": corpus.category.tolist()})
    _, t["evaluation"] = timed(lambda: evaluate_run(
        model, documents, labels, lambda texts: embedder.encode(texts, show_progress_bar=False), np.asarray(embeddings)))


def part_stages(sizes: list[int]) -> dict[str, Any]:
    from helpers.llm import load_llm, make_generator
    from helpers.settings import resolve_settings
    from helpers.topics import open_embedding_model

    settings = resolve_settings("offline")
    embedder = open_embedding_model(settings)  # 03's
    tokenizer, model = load_llm(settings.llm_model, settings.quantization, settings.cache_dir, precision=settings.precision)
    generator = make_generator(model, tokenizer)
    stages_at(150, settings, embedder, generator, tokenizer)  # numba compiles once per process: not timed
    table = {str(n): stages_at(n, settings, embedder, generator, tokenizer) for n in sizes}
    big, bigger = str(sizes[-2]), str(sizes[-1])
    growth = {}
    for stage, seconds in table[bigger].items():
        before = table[big][stage]
        if stage != "LLM prompts" and before > 0.05 and seconds > 0.05:
            growth[stage] = round(math.log(seconds / before) / math.log(int(bigger) / int(big)), 2)
    return {"sizes": sizes, "seconds": table, "growth_exponent": growth}


# ------------------------------------------------------------------------------------------------ limit
def matmul_gflops(dtype, size: int = 2048, repeats: int = 20, rounds: int = 5) -> float:
    """Measured dense matmul throughput of this machine in ``dtype``, all threads torch uses: the best of
    ``rounds`` rounds (the first calls pay oneDNN's kernel selection and the CPU's clock ramp)."""
    import torch

    a, b = torch.randn(size, size).to(dtype), torch.randn(size, size).to(dtype)
    for _ in range(10):
        a @ b
    best = 0.0
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(repeats):
            a @ b
        best = max(best, 2 * size**3 * repeats / (time.perf_counter() - start) / 1e9)
    return best


def transformer_flops_per_token(config, context: int, decoder: bool) -> float:
    """2 x the weights every token multiplies (attention and MLP projections of every layer; a decoder's MLP
    is gated, three matrices, and its LM head multiplies too) plus attention's scores and values at
    ``context`` tokens (2 x 2 x context x hidden per layer). The embedding lookup multiplies nothing."""
    hidden, layers, heads = config.hidden_size, config.num_hidden_layers, config.num_attention_heads
    kv = getattr(config, "num_key_value_heads", None) or heads
    attention = 2 * hidden * hidden + 2 * hidden * (hidden * kv // heads)  # q, o; k, v (grouped)
    mlp = (3 if decoder else 2) * hidden * config.intermediate_size
    head = hidden * config.vocab_size if decoder else 0
    return 2 * (layers * (attention + mlp) + head) + 4 * context * hidden * layers


def part_limit(stage_seconds: dict[str, float] | None, n_docs: int | None) -> dict[str, Any]:
    import torch

    from helpers.data import load_corpus
    from helpers.llm import load_llm
    from helpers.settings import resolve_settings
    from helpers.topics import open_embedding_model

    settings = resolve_settings("offline")
    out = {"threads": torch.get_num_threads(),
           "matmul_gflops": {"bf16": round(matmul_gflops(torch.bfloat16), 1), "fp32": round(matmul_gflops(torch.float32), 1)}}
    corpus = load_corpus(settings.dataset, settings.text_column, settings.title_column, settings.category_column,
                         n_docs, settings.seed, False)
    embedder = open_embedding_model(settings)  # 03's
    encoder = embedder[0].auto_model.config
    window = embedder.max_seq_length
    lengths = [min(window, len(ids)) for ids in embedder.tokenizer(corpus.abstract.tolist())["input_ids"]]
    embed_flops = sum(transformer_flops_per_token(encoder, n, decoder=False) * n for n in lengths)
    out["embed"] = {"documents": len(lengths), "tokens": int(sum(lengths)), "gflops": round(embed_flops / 1e9, 1)}
    tokenizer, model = load_llm(settings.llm_model, settings.quantization, settings.cache_dir, precision=settings.precision)
    decoder = model.config
    prompt_tokens = None
    if stage_seconds and "LLM prompts" in stage_seconds:
        from helpers.prompts import build_keyword_prompt, build_prompt, fill_prompt

        # the prompts' length: the labeller's filled prompt (4 documents of 60 words) and the short one
        docs = corpus.abstract.tolist()[:4]
        main = fill_prompt(build_prompt(settings.llm_model, tokenizer), [" ".join(d.split()[:60]) for d in docs], ["word"] * 10)
        short = fill_prompt(build_keyword_prompt(settings.llm_model, tokenizer), [], ["word"] * 10)
        prompt_tokens = [len(tokenizer(p).input_ids) for p in (main, short)]
        prompts = int(stage_seconds["LLM prompts"])
        new = settings.label_max_new_tokens
        label_flops = prompts / 2 * sum(
            transformer_flops_per_token(decoder, p, True) * p + transformer_flops_per_token(decoder, p + new, True) * new
            for p in prompt_tokens)
        out["labels"] = {"prompts": prompts, "prompt_tokens": prompt_tokens, "new_tokens_at_most": new,
                         "gflops": round(label_flops / 1e9, 1)}
    throughput = out["matmul_gflops"]["bf16"]
    if stage_seconds:
        for stage, key in (("embed", "embed"), ("LLM labels", "labels")):
            if key in out and stage in stage_seconds:
                floor = out[key]["gflops"] / throughput
                out[key].update(measured_s=stage_seconds[stage], limit_s=round(floor, 2),
                                ratio=round(stage_seconds[stage] / floor, 1))
    return out


# ------------------------------------------------------------------------------------------------ server
def part_server(n_topics: int = 12) -> dict[str, Any]:
    """Local batched labelling vs ``transformers serve`` through the openai backend, the same prompts."""
    from helpers.data import load_corpus
    from helpers.labeler import BatchedTextGeneration
    from helpers.llm import load_llm, make_generator, model_path
    from helpers.machine import DTYPE_NAMES, resolve_precision
    from helpers.prompts import ChatMarkup, build_keyword_prompt, build_prompt, fill_prompt
    from helpers.serving import ChatServer
    from tools.servers import LocalServer
    from helpers.settings import resolve_settings

    settings = resolve_settings("offline")
    corpus = load_corpus(settings.dataset, settings.text_column, settings.title_column, settings.category_column,
                         None, settings.seed, False)
    groups = [rows for _, rows in corpus.groupby("category")]
    topics = [(rows.abstract.iloc[k * 4:(k + 1) * 4].tolist(), rows.title.iloc[k * 4:(k + 1) * 4].tolist())
              for k in range(n_topics // len(groups) + 1) for rows in groups][:n_topics]

    def prompts(tokenizer) -> list[str]:
        out = []
        for docs, titles in topics:
            keywords = " ".join(titles).lower().split()[:10]
            out.append(fill_prompt(build_prompt(settings.llm_model, tokenizer), [" ".join(d.split()[:60]) for d in docs], keywords))
            out.append(fill_prompt(build_keyword_prompt(settings.llm_model, tokenizer), [], keywords))
        return out

    def label(generator, asked) -> float:
        llm = BatchedTextGeneration(generator, prompt="", batch_size=settings.label_batch_size,
                                    max_new_tokens=settings.label_max_new_tokens, show_progress=False)
        _, seconds = timed(lambda: llm.generate(asked))
        return len(asked) / seconds

    out = {}
    tokenizer, model = load_llm(settings.llm_model, settings.quantization, settings.cache_dir, precision=settings.precision)
    out["local batched (prompts/s)"] = round(label(make_generator(model, tokenizer), prompts(tokenizer)), 2)
    folder = model_path(settings.llm_model)
    dtype = DTYPE_NAMES[resolve_precision(settings.precision)]
    with LocalServer(folder, dtype=dtype) as server:
        asked = prompts(ChatMarkup())
        ChatServer(server.url, folder).ask(asked[0], 4)  # the first request loads nothing more: warm it
        for concurrency in (1, 4):
            out[f"transformers serve, {concurrency} at a time (prompts/s)"] = round(
                label(ChatServer(server.url, folder, concurrency=concurrency), asked), 2)
    out["prompts"] = 2 * len(topics)
    out["dtype"] = dtype
    return out


# ------------------------------------------------------------------------------------------------ scale
# Datasheet peaks (dense, no sparsity) and memory of the GPUs in the estimate table.
GPUS = {
    "T4 (fp16, nf4 LLM)": {"tflops": 65, "gb_s": 320, "gb": 15, "count": 1},
    "A100 80 GB (bf16)": {"tflops": 312, "gb_s": 2039, "gb": 80, "count": 1},
    "H100 SXM (bf16)": {"tflops": 989, "gb_s": 3350, "gb": 80, "count": 1},
    "vLLM on 4 x H100 (bf16, tensor parallel)": {"tflops": 989, "gb_s": 3350, "gb": 80, "count": 4},
}
# Share of the peak each reaches, assumed: a small encoder on short texts is bound by tokenization, padding and
# launches (our CPU reached 1/5 of its matmul peak, limit part); a 13B prefill is large matmuls; nf4 pays dequantization.
EFFICIENCY = {"encoder": 0.10, "llm": 0.35, "llm_nf4": 0.15}
LLAMA2_13B = {"params": 13.0e9, "prompt_tokens": 1800, "new_tokens": 24, "nf4_gb": 7.2, "bf16_gb": 26.0}
BGE_SMALL_TOKENS_PER_DOC = 230  # an ArXiv abstract in bge-small-en's tokens (it keeps up to 512)


def part_scale(out: dict[str, Any]) -> dict[str, Any]:
    """Estimates on paper, marked as such, for 117k, 1M and 10M documents: embeddings and labels from FLOPs
    (bge-small-en: 12 layers of MiniLM's width, twice our packaged model's FLOPs per token; Llama-2-13B,
    two prompts per topic) on each GPU at the ``EFFICIENCY`` share of its peak, decode bound by memory bandwidth; UMAP +
    HDBSCAN + c-TF-IDF on this CPU from the measured growth (cuML on a GPU is not measured here); memory
    of the embeddings (float32) and of UMAP's neighbour graph."""
    stages, limit = out["stages"], out["limit"]
    n0 = stages["sizes"][-1]
    last, growth = stages["seconds"][str(n0)], stages["growth_exponent"]
    per_doc_flops = limit["embed"]["gflops"] * 1e9 / limit["embed"]["documents"]
    per_doc_flops *= 2 * BGE_SMALL_TOKENS_PER_DOC / (limit["embed"]["tokens"] / limit["embed"]["documents"])
    table = {}
    for n in (117_000, 1_000_000, 10_000_000):
        topics = {117_000: 150, 1_000_000: 500, 10_000_000: 1_000}[n]  # min_cluster_size 150, grown with the corpus
        prompts = 2 * topics
        cpu = {stage: last[stage] * (n / n0) ** max(1.0, growth.get(stage, 1.0))
               for stage in ("reduce (5-D UMAP)", "cluster (HDBSCAN)", "c-TF-IDF")}
        row = {"topics (assumed)": topics, "embeddings GB (float32, 384 dims)": round(n * 384 * 4 / 1e9, 1),
               "UMAP neighbour graph GB": round(n * 15 * 2 * 12 / 1e9, 2),
               "UMAP + HDBSCAN + c-TF-IDF on this 2-core CPU (h)": round(sum(cpu.values()) / 3600, 1)}
        for gpu, spec in GPUS.items():
            llm_share = EFFICIENCY["llm_nf4" if "nf4" in gpu else "llm"]
            flops = spec["tflops"] * 1e12 * llm_share * spec["count"]
            embed_s = n * per_doc_flops / (spec["tflops"] * 1e12 * EFFICIENCY["encoder"])  # one GPU embeds
            prefill = prompts * 2 * LLAMA2_13B["params"] * LLAMA2_13B["prompt_tokens"] / flops
            weights_gb = LLAMA2_13B["nf4_gb"] if "nf4" in gpu else LLAMA2_13B["bf16_gb"]
            batch = 2 if "T4" in gpu else 32  # the colab-t4 profile's label_batch_size; a server's batch
            decode = prompts / batch * LLAMA2_13B["new_tokens"] * weights_gb / (spec["gb_s"] * spec["count"])
            row[f"{gpu}: embed (min)"] = round(embed_s / 60, 1)
            row[f"{gpu}: LLM labels (min)"] = round((prefill + decode) / 60, 1)
        table[f"{n:,}"] = row
    return {"estimates_not_measurements": True, "efficiency_assumed": EFFICIENCY, "gpus": GPUS, "table": table}


# ------------------------------------------------------------------------------------------------ main
def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parts", nargs="*", default=["series", "stability", "once", "stages", "limit", "server"],
                        help="scale is computed whenever stages and limit are there")
    parser.add_argument("--sizes", nargs="*", type=int, default=[250, 500, 1000, 2225])
    parser.add_argument("--json", default=str(RESULTS))
    parser.add_argument("--baseline", type=Path, default=None, help="laptop: a checkout run cold first, for the ratio")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    previous = json.loads(Path(args.json).read_text()) if Path(args.json).exists() else {}
    out: dict[str, Any] = {**previous, "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                                                  "processor": platform.processor()}}
    with tempfile.TemporaryDirectory() as work:
        if "series" in args.parts:
            out["series"] = part_series(Path(work))
            print(json.dumps(out["series"], indent=1))
        if "laptop" in args.parts:
            out["laptop"] = part_laptop(Path(work), args.baseline)
            print(json.dumps(out["laptop"], indent=1))
        if "stability" in args.parts:
            out["stability"] = part_stability()
            print(json.dumps(out["stability"], indent=1))
        if "once" in args.parts:
            out["once"] = part_once(Path(work))
            print(json.dumps(out["once"], indent=1))
        if "stages" in args.parts:
            out["stages"] = part_stages(args.sizes)
            print(json.dumps(out["stages"], indent=1))
    if "limit" in args.parts:
        stages = out.get("stages", {})
        largest = str(stages["sizes"][-1]) if stages else None
        out["limit"] = part_limit(stages["seconds"][largest] if stages else None,
                                  int(largest) if largest and int(largest) < 2225 else None)
        print(json.dumps(out["limit"], indent=1))
    if "server" in args.parts:
        out["server"] = part_server()
        print(json.dumps(out["server"], indent=1))
    if "stages" in out and "limit" in out:
        out["scale"] = part_scale(out)
        print(json.dumps(out["scale"]["table"], indent=1))
    Path(args.json).write_text(json.dumps(out, indent=1))
    print(f"written to {args.json}")
    return out


if __name__ == "__main__":
    main()
