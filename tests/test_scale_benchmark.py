"""benchmarks/scale.py on a tiny corpus: every stage runs and reports, so the scale benchmark cannot rot."""

import json
import os
import sys
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benchmarks"))


def test_every_stage_of_the_scale_benchmark_runs_on_a_tiny_corpus_and_reports_its_peak(tmp_path):
    import scale

    rows = scale.run_size(500, tmp_path, list(scale.STAGES), articles=80, min_cluster_size=50,
                          in_process=True)
    assert list(rows) == list(scale.STAGES)
    # Linux reads a process's resident size from per-CPU counters, each off by up to its batch (max(32, 2 x CPUs)
    # pages: lib/percpu_counter.c), and the rows round to whole MB: a peak with no growth can read up to this much
    # under its baseline (1 MB seen on 2 CPUs)
    cpus = os.cpu_count()
    slack = 2 * cpus * max(32, 2 * cpus) * 4096 / 2**20 + 1
    for name, row in rows.items():
        assert row["seconds"] >= 0 and row["peak_mb"] >= row["baseline_mb"] - slack and row["baseline_mb"] > 100, \
            (name, row)
    work = tmp_path / "500"
    corpus = rows["corpus"]
    assert corpus["articles"] == 80 and corpus["storylines"] >= 10, corpus
    assert corpus["derived_vs_embedded_cosine"]["mean"] > 0.8, "a document's vector is close to embedding its text"
    documents = pd.read_parquet(work / "documents.parquet")
    assert len(documents) == 500 and documents.abstract.str.split().str.len().median() > 60
    topics = rows["ctfidf"]["topics"]
    assert topics >= 3 and rows["hdbscan"]["clusters"] == topics
    labels = pd.read_csv(work / "run" / "labels.csv", keep_default_na=False)
    assert rows["llm"]["topics"] == topics and (labels.label != "").all()
    assert rows["llm"]["prompts"] == 2 * (topics + (-1 in labels.topic.tolist())), "every topic asked, none replayed"
    for name in ("KeyBERT", "MMR", "LLM"):
        assert len(json.loads((work / f"aspect-{name}.json").read_text())) == len(labels)
    assert rows["browser"]["renders"] and rows["browser"]["in_page"]["legend_entries"] >= topics, rows["browser"]
    assert rows["browser"]["chromium_peak_mb"] > 50
    assert (work / "run" / "datamap.png").stat().st_size > 10_000
    assert set(rows["evaluation"]["npmi"]) >= {"c-TF-IDF", "KeyBERT", "MMR", "LLM label"}
    assert rows["hierarchy"]["nodes"] == topics - 1 and rows["hierarchy"]["prompts"] == 2 * (topics - 1)
    assert (work / "run" / "hierarchy_llm.html").stat().st_size > 1_000_000, "plotly.js carried: opens offline"

    child = scale.stage_in_child("hdbscan", work)  # the way the benchmark runs a stage: its own process
    assert child["clusters"] == topics and child["peak_mb"] >= child["baseline_mb"] > 100
    data = scale.record(tmp_path / "scale.json", 500, rows)
    table = scale.table(data)
    assert all(label in table for label, _ in scale.STAGES.values()) and "| 500: s | MB |" in table
