"""Measure: above which embedding similarity do two topic labels name the same thing?

    .venv/bin/python benchmarks/label_similarity.py --json benchmarks/results/label-similarity.json

Two sets of label pairs, embedded with the offline default's packaged all-MiniLM-L6-v2:

- **same**: pairs a reader takes for one name (written here: a label and a paraphrase of it, from
  the labels the BBC runs and the reference post produced);
- **distinct**: every pair of labels of two different topics that a reader tells apart: the
  recorded label benchmark's labels (ours, the Olympic pair left out, which is a near duplicate)
  and the reference post's six Llama-2 labels.

Prints both distributions, the share of each set above each candidate threshold, and the threshold
kept by :mod:`helpers.label_similarity`: the smallest on a 0.05 grid that no distinct pair exceeds. Pairs
with the same head phrase are counted apart: that rule catches them whatever their similarity.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script: benchmarks.llama2_topics importable

import argparse
import itertools
import json

import numpy as np

SAME = [
    ("The Olympic Games", "Olympic"), ("Search engine", "Web search engines"),
    ("Digital Music and File Sharing", "Music file sharing"), ("Mobile technology and mobile services", "Mobile phones"),
    ("The UK's economy", "UK economic growth"), ("Win best film", "Best film awards"),
    ("Cybersecurity threats to protecting data", "Computer security threats"),
    ("The Premier League", "Premiership football"), ("Video game", "Video games industry"),
    ("RBS Six Nations", "Six Nations rugby"), ("Celebrity Big Brother", "Reality TV shows"),
    ("Reinforcement Learning Agent Control", "Reinforcement learning agents"),
    ("Speech Recognition and Audio-Visual Processing", "Automatic speech recognition"),
    ("Privacy-Preserving Machine Learning: Federated Learning", "Federated learning"),
    ("Multilingual Aspect-Based Sentiment Analysis", "Sentiment analysis"),
    ("Crowdsourced Data Labeling", "Crowdsourcing annotations"), ("Tennis", "The Australian Open"),
    ("Film awards", "The Oscars"), ("Interest rates", "Bank of England interest rates"),
    ("General election", "The election campaign"),
]
RECORDED = Path(__file__).parent / "results" / "labels-offline-2core.json"
GRID = np.round(np.arange(0.5, 0.96, 0.05), 2)


def distinct_labels() -> list[list[str]]:
    """Label sets whose members name different topics: the recorded benchmark's and the post's six."""
    from benchmarks.llama2_topics import LLAMA2_TOPICS

    recorded = json.loads(RECORDED.read_text())
    ours = [label for label in recorded["ours"]["labels"].values() if "olympic" not in label.lower()]
    return [ours, [t["label"] for t in LLAMA2_TOPICS.values()]]


def run() -> dict:
    from helpers.label_similarity import same_head, unit_rows
    from helpers.settings import PACKAGED_EMBEDDINGS
    from helpers.topics import load_embedding_model

    model = load_embedding_model(PACKAGED_EMBEDDINGS)

    def similarity(pairs):
        a = unit_rows(model.encode([p[0] for p in pairs], show_progress_bar=False))
        b = unit_rows(model.encode([p[1] for p in pairs], show_progress_bar=False))
        return (a * b).sum(axis=1)

    distinct = [pair for labels in distinct_labels() for pair in itertools.combinations(labels, 2)]
    result = {"model": PACKAGED_EMBEDDINGS}
    for name, pairs in (("same", SAME), ("distinct", distinct)):
        sims = similarity(pairs)
        heads = [same_head(*p) for p in pairs]
        result[name] = {"pairs": len(pairs), "same_head": int(sum(heads)),
                        "similarity": {"min": round(float(sims.min()), 3), "median": round(float(np.median(sims)), 3),
                                       "max": round(float(sims.max()), 3)},
                        "above": {str(t): round(float((sims > t).mean()), 3) for t in GRID},
                        "caught_by_either": {str(t): round(float(np.mean([h or s > t for h, s in zip(heads, sims)])), 3)
                                             for t in GRID},
                        "each": sorted(([*p, round(float(s), 3), h] for p, s, h in zip(pairs, sims, heads)),
                                       key=lambda row: -row[2])}
    clean = [t for t in GRID if result["distinct"]["above"][str(t)] == 0.0]
    result["threshold"] = float(min(clean)) if clean else None
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", help="write the result to this file")
    result = run()
    args = parser.parse_args()
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    for name in ("same", "distinct"):
        r = result[name]
        print(f"{name:8s}: {r['pairs']} pairs, {r['same_head']} with the same head phrase, similarity {r['similarity']}")
        print("   above:", r["above"])
        print("   caught by head phrase or similarity:", r["caught_by_either"])
    print("threshold:", result["threshold"])
    for row in result["distinct"]["each"][:5]:
        print("   most similar distinct:", row)
    for row in result["same"]["each"][-5:]:
        print("   least similar same:", row)


if __name__ == "__main__":
    main()
