"""Benchmark: notebook 05's numbers for the offline default, the reference's settings against ours.

    .venv/bin/python benchmarks/evaluation.py --runs /tmp/bench-runs --json benchmarks/results/evaluation-offline-2core.json

Runs notebooks 03 and 05 twice on the whole offline corpus (BBC News, 2,225 articles)
with ``python tools/run.py``:

(a) ``reference-settings``: the reference's CountVectorizer (no stop-word removal) and
    BERTopic's ``TextGeneration`` labels (``-p stop_words none -p label_method reference``);
(b) ``ours``: the series' defaults (English stop words, batched labels), with
    ``compare_with`` pointing at (a), so its notebook 05 writes ``comparison.json``.

Then scores (b) once more with the corpus' stop words removed before counting
co-occurrences (``coherence_stop_words="english"``), which is closer to how the BERTopic
paper's corpora were preprocessed. Prints a table and writes everything to ``--json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

REPRESENTATIONS = ("c-TF-IDF", "KeyBERT", "MMR", "LLM label", "LLM first line")
COLUMNS = ("npmi", "diversity", "diversity_top10", "faithfulness", "faithfulness_shuffled", "category_match")


def run_series(runs: Path, name: str, parameters: dict[str, str]) -> float:
    """``python tools/run.py --notebooks 03 05`` into ``runs/name``; returns seconds."""
    command = [sys.executable, str(Path(__file__).resolve().parent.parent / "tools" / "run.py"), "--runs", str(runs), "--name", name, "--notebooks", "03", "05"]
    for key, value in parameters.items():
        command += ["-p", key, value]
    start = time.perf_counter()
    subprocess.run(command, check=True)
    return round(time.perf_counter() - start, 1)


def table(evaluation: dict) -> str:
    """A markdown table of the representation metrics."""
    lines = ["| representation | " + " | ".join(COLUMNS) + " |", "|---|" + "---:|" * len(COLUMNS)]
    for name in REPRESENTATIONS:
        row = evaluation["representations"][name]
        lines.append(f"| {name} | " + " | ".join("–" if row[c] is None else f"{row[c]:.3f}" for c in COLUMNS) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", required=True, help="a folder for the two run folders (must not hold them yet)")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()
    runs = Path(args.runs).resolve()

    seconds = {
        "reference-settings": run_series(runs, "reference-settings", {"stop_words": "none", "label_method": "reference"}),
        "ours": run_series(runs, "ours", {"compare_with": str(runs / "reference-settings")}),
    }
    from helpers.evaluation import evaluate_folder

    evaluations = {name: json.loads((runs / name / "evaluation.json").read_text()) for name in seconds}
    english, _ = evaluate_folder(runs / "ours", coherence_stop_words="english")
    import bertopic
    import gensim
    import transformers

    result = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, no GPU",
        "versions": {"bertopic": bertopic.__version__, "gensim": gensim.__version__,
                     "transformers": transformers.__version__},
        "seconds_notebooks_03_05": seconds,
        "evaluations": evaluations,
        "ours_scored_without_stop_words": english,
        "comparison": json.loads((runs / "ours" / "comparison.json").read_text()),
    }
    for name, evaluation in evaluations.items():
        print(f"\n## {name} ({seconds[name]} s for 03 + 05)\n\n{table(evaluation)}\n\nrun: {evaluation['run']}")
    print(f"\n## ours, corpus scored without stop words\n\n{table(english)}")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
        print(f"\nwritten to {args.json}")


if __name__ == "__main__":
    main()
