"""Benchmark: how many tokens of each document the offline profile embeds (issue 36: a first run in minutes).

    .venv/bin/python benchmarks/embedding_window.py --windows 256 128 96
    ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 .venv/bin/python benchmarks/embedding_window.py   # a laptop CPU
    (as measured 2026-12-03; the Makefile's HELD_TO_AVX2 now also holds MKL, OpenBLAS and numba: BENCHMARKS.md)

For each window (all-MiniLM-L6-v2's own is 256 tokens) the whole offline corpus (BBC News, 2,225 articles) is
embedded in this machine's "auto" precision, timed, then reduced and clustered exactly as notebook 03 does
(UMAP 5-D cosine, HDBSCAN eom, its min_cluster_size), and the topics scored against the BBC's five categories
(NMI and ARI, outliers included, as notebook 05 does): a yardstick the clustering never saw; under several UMAP
seeds, since one seed's topics move by chance. Times are ratios against the model's own window, measured in the
same run. Writes ``--json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def topics_of(embeddings, settings, seed: int) -> list[int]:
    """Notebook 03's steps 2 and 3 on ``embeddings`` with UMAP's ``seed``: each document's topic (-1: an outlier)."""
    from hdbscan import HDBSCAN
    from umap import UMAP

    reduced = UMAP(n_neighbors=15, n_components=5, min_dist=0.0, metric="cosine",
                   random_state=seed).fit_transform(embeddings)
    return HDBSCAN(min_cluster_size=settings.min_cluster_size, metric="euclidean",
                   cluster_selection_method="eom").fit_predict(reduced).tolist()


def measure(windows: list[int], seeds: list[int]) -> dict:
    """Seconds to embed, per window; NMI/ARI against the categories and topics found, per window and UMAP seed
    (the first is notebook 03's), and their means over the seeds."""
    import numpy as np

    import dataclasses

    from helpers.data import load_corpus
    from helpers.machine import resolve_precision
    from helpers.measures import agreement
    from helpers.settings import resolve_settings
    from helpers.topics import fit_min_cluster_size, load_embedding_model

    settings = resolve_settings("offline")  # its embedding_max_tokens is not used: each window is given here
    corpus = load_corpus(settings.dataset, settings.text_column, settings.title_column, settings.category_column)
    settings = dataclasses.replace(settings, min_cluster_size=fit_min_cluster_size(len(corpus))[0])
    documents, categories = corpus.abstract.tolist(), corpus.category.tolist()
    result = {"documents": len(documents), "precision": resolve_precision("auto"), "machine": platform.processor()
              or platform.machine(), "min_cluster_size": settings.min_cluster_size, "windows": {}}
    for window in windows:
        model = load_embedding_model(settings.embedding_model, settings.precision, max_tokens=window)
        model.encode(documents[:32], show_progress_bar=False)  # warm-up: the first call pays one-off costs
        start = time.perf_counter()
        embeddings = model.encode(documents, show_progress_bar=False)
        seconds = time.perf_counter() - start
        each = []
        for seed in seeds:
            topics = topics_of(embeddings, settings, seed)
            each.append({"seed": seed, "topics": len(set(topics) - {-1}), "outliers": topics.count(-1),
                         **{k: round(v, 4) for k, v in agreement(topics, categories).items()}})
        result["windows"][str(window)] = {"embed_s": round(seconds, 1), "each_seed": each, **{
            k: round(float(np.mean([e[k] for e in each])), 4) for k in ("topics", "outliers", "nmi", "ari")}}
        print(window, result["windows"][str(window)], flush=True)
    base = result["windows"][str(windows[0])]
    for row in result["windows"].values():
        row["embed_ratio"] = round(row["embed_s"] / base["embed_s"], 3)
        row["nmi_change"], row["ari_change"] = round(row["nmi"] - base["nmi"], 4), round(row["ari"] - base["ari"], 4)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--windows", type=int, nargs="+", default=[256, 128], help="the first is the baseline")
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 7, 1], help="UMAP seeds; the first is 03's")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    result = measure(args.windows, args.seeds)
    print(f"means over UMAP seeds {args.seeds}")
    print("| window (tokens) | embed s | ratio | topics | outliers | NMI | ARI | NMI change | ARI change |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for window, r in result["windows"].items():
        print(f"| {window} | {r['embed_s']} | {r['embed_ratio']} | {r['topics']} | {r['outliers']} | {r['nmi']:.3f} | "
              f"{r['ari']:.3f} | {r['nmi_change']:+.3f} | {r['ari_change']:+.3f} |")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
