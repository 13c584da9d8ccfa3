"""Benchmark: the keywords of the same topics four ways (issue 35, item 6: "said" and "mr" out of the keywords).

    KEEP_RUNS=/tmp/laptop-runs .venv/bin/python benchmarks/run.py --parts laptop --baseline /tmp/before
    .venv/bin/python benchmarks/keyword_npmi.py /tmp/laptop-runs/baseline-cold /tmp/laptop-runs/this-cold \
        --json benchmarks/results/keyword-npmi.json

For each run folder its topics are kept as they are (``documents.parquet``: every document's topic) and only
the keywords are computed again, as BERTopic computes them (each topic's documents joined, a ``CountVectorizer``,
c-TF-IDF), four ways: no stop words; scikit-learn's English stop words (the series before issue 35); those plus
the news' house words ("said", "mr": the offline profile's list); and that list with c-TF-IDF's
``reduce_frequent_words`` (the series now). Each topic's first 10 words are scored as notebook 05 scores them
(NPMI, gensim ``c_npmi`` over every token of the corpus), a yardstick the keywords never saw. The outliers (-1)
take no part.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def keywords(joined: list[str], stop_words, reduce_frequent_words: bool, top_n: int = 10) -> list[list[str]]:
    """Each topic's ``top_n`` words by c-TF-IDF, from its documents joined (BERTopic's own steps 4 and 5)."""
    import numpy as np
    from bertopic.vectorizers import ClassTfidfTransformer
    from sklearn.feature_extraction.text import CountVectorizer

    vectorizer = CountVectorizer(stop_words=stop_words)
    weights = ClassTfidfTransformer(reduce_frequent_words=reduce_frequent_words).fit_transform(
        vectorizer.fit_transform(joined)).toarray()
    vocabulary = vectorizer.get_feature_names_out()
    return [[vocabulary[i] for i in np.argsort(-row)[:top_n]] for row in weights]


def measure(run: Path) -> dict:
    """NPMI and the topics holding "said" or "mr" in their keywords, per way, for one run folder's topics."""
    import pandas as pd

    from helpers.measures import nan_mean, npmi_per_topic, tokenize
    from helpers.settings import resolve_settings

    documents = pd.read_parquet(run / "documents.parquet")
    topics = sorted(t for t in set(documents.topic) if t != -1)
    joined = [" ".join(documents.abstract[documents.topic == t]) for t in topics]
    tokenized = tokenize(documents.abstract.tolist(), "none")
    house = resolve_settings("offline").stop_word_list
    ways = {"no stop words": (None, False), "English stop words (before issue 35)": ("english", False),
            "English + said, mr": (house, False), "English + said, mr, reduce_frequent_words (now)": (house, True)}
    out = {"topics": len(topics), "ways": {}}
    for name, (stop_words, reduce) in ways.items():
        words = keywords(joined, stop_words, reduce)
        out["ways"][name] = {"npmi": round(nan_mean(npmi_per_topic(words, tokenized, 10)), 4),
                             "topics_with_said_or_mr": sum(any(w in ("said", "mr") for w in ws) for ws in words)}
        print(f"{run.name:16s} {len(topics):3d} topics  {name:48s} {out['ways'][name]}", flush=True)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", type=Path, nargs="+", help="run folders (documents.parquet)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    results = {run.name: measure(run) for run in args.runs}
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")
        print("written to", args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
