"""A reader's checks of a run folder's label tables (issue 35), written here, apart from the labeler.

``label_table_problems(run_dir)`` reads notebook 03's ``labels.csv``, 06's ``refined/labels.csv`` and
``refined/hierarchy.csv`` with the documents of each topic, and lists what a reader would not keep: a label
ending on a function word or a possessive, an article before a lone name ("The England"), a word said twice, a number (a year, a version) none of its
documents holds with the word before it ("Windows 10"), two nodes of one table named alike, a hierarchy parent named as one of its children; and
``keyword_problems`` the house words ("said", "mr") among a topic's keywords. Used by
``tests/test_notebooks.py`` on the test series, and by hand on a whole run::

    .venv/bin/python tests/reading.py runs/<name>
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pandas as pd

# Words a name does not end on: articles, prepositions, conjunctions, auxiliaries, possessive determiners
FUNCTION_WORDS = {
    "a", "an", "the", "of", "in", "on", "at", "to", "for", "from", "by", "with", "about", "into", "over", "as", "and",
    "or", "but", "nor", "than", "that", "which", "who", "is", "are", "was", "were", "be", "been", "has", "have", "had",
    "do", "does", "did", "will", "would", "can", "could", "its", "their", "his", "her", "our", "my", "your", "this",
}
HOUSE_WORDS = {"said", "mr"}
ROOT_LABEL = "All topics"


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+(?:['’][a-z]+)?", str(text).lower())


def label_problems(label: str, documents: list[str]) -> list[str]:
    """What a reader finds wrong with one ``label`` of a node whose documents are ``documents``."""
    said = words(label)
    problems = []
    last = str(label).strip().split()[-1:] or [""]
    if said and (said[-1] in FUNCTION_WORDS or re.search(r"['’]s?$", last[0])):
        problems.append(f"ends on {last[0]!r}")
    if len(str(label).split()) == 2 and said[:1] in (["the"], ["a"], ["an"]) and str(label).split()[1][:1].isupper():
        problems.append("an article before a lone name (a stump: \"The England\")")
    twice = []  # a word twice in one phrase: a headline and its subtitle, or two sides, may share one
    for phrase in re.split(r":|\s[-–]\s|\bvs\.?\s|\bversus\b", str(label)):
        content = [re.sub(r"['’]s$", "", w) for w in words(phrase) if w not in FUNCTION_WORDS]
        twice += sorted({w for w in content if content.count(w) > 1})
    if twice:
        problems.append(f"says {twice} twice")
    # a number (a year, a version) must occur beside a word it has in the label ("Windows 10", not just "10")
    text = " " + " \n ".join(" ".join(words(doc)) for doc in documents) + " "
    for i, w in enumerate(said):
        if any(c.isdigit() for c in w):
            beside = [" ".join(pair) for pair in (said[i - 1:i + 1] if i else [], said[i:i + 2])
                      if len(pair) == 2 and not set(pair) & FUNCTION_WORDS] or [w]
            if not any(f" {phrase} " in text for phrase in beside):
                problems.append(f"{' / '.join(beside)!r} in none of its documents")
    return problems


def _table_problems(name: str, table: pd.DataFrame, documents_of) -> list[str]:
    found = []
    for node, label in zip(table.node, table.label):
        found += [f"{name} {node} {label!r}: {p}" for p in label_problems(label, documents_of(node))]
    repeated = table[table.label.str.lower().duplicated(keep=False)]
    found += [f"{name}: {sorted(set(repeated.label))} name two nodes"] if len(repeated) else []
    return found


def label_table_problems(run_dir: Path) -> list[str]:
    """Every problem of 03's, 06's and the hierarchy's labels in ``run_dir`` (an empty list: a reader keeps them)."""
    run_dir, refined = Path(run_dir), Path(run_dir) / "refined"
    found = []
    for name, folder in (("03", run_dir), ("06", refined)):
        docs = pd.read_parquet(folder / "documents.parquet")
        labels = pd.read_csv(folder / "labels.csv", keep_default_na=False)
        labels = labels[labels.topic != -1].rename(columns={"topic": "node"})
        found += _table_problems(name, labels, lambda t, d=docs: d.abstract[d.topic == t].tolist())
    docs = pd.read_parquet(refined / "documents.parquet")
    leaves = pd.read_csv(refined / "labels.csv", keep_default_na=False)
    leaf_label = dict(zip(leaves.topic.astype(str), leaves.label))
    tree = pd.read_csv(refined / "hierarchy.csv", keep_default_na=False)
    topics_of = {str(r.Parent_ID): [int(t) for t in ast.literal_eval(r.Topics)] for r in tree.itertuples()}
    nodes = tree.rename(columns={"Parent_ID": "node", "Parent_Name": "label"})[["node", "label"]]
    nodes = nodes[nodes.label != ROOT_LABEL]
    for node, label in zip(nodes.node, nodes.label):
        in_it = docs.abstract[docs.topic.isin(topics_of[str(node)])].tolist()
        found += [f"hierarchy {node} {label!r}: {p}" for p in label_problems(label, in_it)]
    named = pd.concat([nodes, pd.DataFrame({"node": list(leaf_label), "label": list(leaf_label.values())})])
    named = named[named.node != "-1"]
    repeated = named[named.label.str.lower().duplicated(keep=False)]  # the tree's nodes, its leaves included
    found += [f"hierarchy: {sorted(set(repeated.label))} name two nodes of the tree"] if len(repeated) else []
    node_label = {**leaf_label, **dict(zip(tree.Parent_ID.astype(str), tree.Parent_Name))}
    for r in tree.itertuples():
        children = {node_label.get(str(r.Child_Left_ID), ""), node_label.get(str(r.Child_Right_ID), "")}
        if r.Parent_Name.lower() in {c.lower() for c in children}:
            found.append(f"hierarchy {r.Parent_ID} {r.Parent_Name!r}: the label of one of its children")
    return found


def keyword_problems(run_dir: Path) -> list[str]:
    """Topics of 03's and 06's runs whose keywords (``topics.csv``) hold a house word."""
    found = []
    for name, folder in (("03", Path(run_dir)), ("06", Path(run_dir) / "refined")):
        topics = pd.read_csv(folder / "topics.csv")
        for topic, keywords in zip(topics.Topic, topics.Representation):
            held = HOUSE_WORDS & set(str(keywords).split(", "))  # topics.csv joins them with ", "
            if held:
                found.append(f"{name} topic {topic}: keywords hold {sorted(held)}")
    return found


if __name__ == "__main__":
    problems = label_table_problems(Path(sys.argv[1])) + keyword_problems(Path(sys.argv[1]))
    print("\n".join(problems) or "no label breaks these rules (a stump, a repeat, an invented number, a parent named as its child); no house word in the keywords")
    sys.exit(1 if problems else 0)
