"""Notebook 06's helpers beyond BERTopic's own calls: your edited labels, carried through a merge, and the
hierarchy's inner nodes named from their children, lowest first."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Optional

import numpy as np
import pandas as pd

from .labeler._choice import JUDGED_DOCS, document_share, judged_rows, word_index
from .label_similarity import unit_rows


class StaleEdits(ValueError):
    """An edits file from an earlier run of notebook 03: its topics are not this run's."""


def read_spreadsheet_csv(path: Path) -> pd.DataFrame:
    """A CSV as a spreadsheet saved it: UTF-8 (BOM or not), else Windows-1252 (Excel's "CSV"); else a ValueError."""
    import io

    raw = path.read_bytes()
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError:
            continue
        if encoding == "cp1252":
            print(f"Note: {path.name} is not UTF-8; read as Windows-1252 (Excel's \"CSV\"): check the accents below.")
        return pd.read_csv(io.StringIO(text), keep_default_na=False)
    raise ValueError(f"{path.name} is neither UTF-8 nor Windows-1252 text: save it again as \"CSV UTF-8\" "
                     f"(Excel: File > Save As > CSV UTF-8) and run again.")


def read_edited_labels(path: str | Path, labels: pd.DataFrame) -> dict[int, str]:
    """Your changed labels in a copy of ``labels_to_edit.csv``, ``{topic: label}``; a ValueError for a topic this
    run lacks, :class:`StaleEdits` for a file from an earlier run of 03."""
    path = Path(path).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"edited_labels {str(path)!r} does not exist: copy labels_to_edit.csv from the run "
                                f"folder, change the labels you want, and point edited_labels at the copy.")
    edited = read_spreadsheet_csv(path)
    if not {"topic", "label"} <= set(edited.columns):
        raise ValueError(f"{path.name} needs the columns topic and label (as in labels_to_edit.csv); it has "
                         f"{', '.join(edited.columns)}.")
    edited = edited[(edited.astype(str).apply(lambda column: column.str.strip()) != "").any(axis=1)]  # blank rows
    numbers = pd.to_numeric(edited.topic, errors="coerce")
    bad = edited.index[numbers.isna() | (numbers % 1 != 0)]
    if len(bad):  # a row's line in the file: the header is line 1
        raise ValueError(f"{path.name} line {bad[0] + 2} has the topic {str(edited.topic[bad[0]])!r}, not a topic "
                         f"number: keep the topic column as labels_to_edit.csv wrote it.")
    edited = edited.assign(topic=numbers.astype(int))
    known = dict(zip(labels.topic.astype(int), labels.label))
    unknown = sorted(set(edited.topic.astype(int)) - set(known))
    if unknown:
        raise ValueError(f"{path.name} names topics this run does not have: {unknown}. Edit the labels_to_edit.csv "
                         f"of this run folder.")
    original = edited.llm_label.astype(str) if "llm_label" in edited.columns else edited.topic.astype(int).map(known)
    stale = [int(t) for t, was in zip(edited.topic, original) if was != known[int(t)]]
    if stale:  # written from an earlier run of 03
        raise StaleEdits(f"{path.name} was written from an earlier run of notebook 03 (topic {stale[0]} was "
                         f"{original[edited.topic.astype(int) == stale[0]].iloc[0]!r}, it is {known[stale[0]]!r} now): "
                         f"copy your labels into a fresh labels_to_edit.csv (delete this one and run 06 to get it).")
    return {int(t): str(label).strip() for t, label, was in zip(edited.topic, edited.label, original)
            if str(label).strip() and str(label).strip() != was}


def your_labels(edited_labels: Optional[str], in_place: Path, labels: pd.DataFrame, offer: bool = False) -> dict[int, str]:
    """Notebook 06's edits: of ``edited_labels``, else of ``in_place`` (skipped with a note when stale); with
    ``offer``, a missing ``in_place`` is written for you to edit."""
    if offer and not Path(in_place).exists():
        from .files import atomic_write

        yours = read_edited_labels(edited_labels, labels) if edited_labels else {}
        atomic_write(Path(in_place), lambda tmp: labels_to_edit(labels).to_csv(tmp, index=False))
        return yours
    if edited_labels:
        return read_edited_labels(edited_labels, labels)
    if not Path(in_place).exists():
        return {}
    try:
        return read_edited_labels(in_place, labels)
    except StaleEdits as error:
        print(f"Note: {error} None of its labels is applied, and the file is left as it is.")
        return {}


def labels_to_edit(labels: pd.DataFrame) -> pd.DataFrame:
    """The table notebook 06 writes for you to edit: ``topic``, ``label``, ``source`` and the LLM's ``llm_label``."""
    return labels[["topic", "label", "source"]].assign(llm_label=labels.label)


def carry_labels(yours: Mapping[int, str], mapping: Mapping[int, int], sizes: Mapping[int, int]) -> dict[int, str]:
    """Your labels after a merge (``mapping``: old topic -> new): a new topic keeps the label of its largest old
    topic you named (``sizes``: old topic -> documents)."""
    carried: dict[int, tuple[int, str]] = {}
    for old, label in yours.items():
        new = int(mapping.get(old, old))
        if new not in carried or sizes.get(old, 0) > carried[new][0]:
            carried[new] = (sizes.get(old, 0), label)
    return {topic: label for topic, (_, label) in carried.items()}


def hierarchy_groups(hierarchy: pd.DataFrame, prompt: str, documents: pd.DataFrame, vectors: np.ndarray,
                     representative: Mapping[int, list[str]], nr_docs: int = 4, doc_words: int | None = None,
                     most_docs: Optional[int] = JUDGED_DOCS, seed: int = 0, fill=None,
                     names: Optional[Mapping[str, str]] = None, nodes=None) -> dict[Any, dict[str, Any]]:
    """One ``label_groups`` group per inner node of ``hierarchical_topics`` (or in ``nodes``): a prompt with the
    node's words, its children's labels (``names``, by id as a string) and up to ``nr_docs`` documents from each
    child in turn (``doc_words`` words; ``fill`` cuts it to fit), its unit vectors' centre and at most ``most_docs``
    of its ``documents`` (``abstract``, ``title``, ``topic``), drawn with ``seed``."""
    from itertools import chain, zip_longest

    from .prompts import fill_prompt, fill_topics

    sizes = documents.topic.value_counts().to_dict()
    leaves = {str(node.Parent_ID): [int(t) for t in node.Topics] for node in hierarchy.itertuples()}

    def shown_of(child: Any) -> list[str]:  # each topic's first, largest topic first, then seconds
        topics = sorted(leaves.get(str(child), [int(child)]), key=lambda t: -sizes.get(t, 0))
        return [d for rank in zip_longest(*(representative.get(t) or [] for t in topics)) for d in rank if d is not None]

    groups = {}
    for node in hierarchy.itertuples():
        if nodes is not None and str(node.Parent_ID) not in nodes:
            continue
        pairs = zip_longest(shown_of(node.Child_Left_ID), shown_of(node.Child_Right_ID))
        shown = [d for d in chain.from_iterable(pairs) if d is not None][:nr_docs]  # from each child in turn
        docs = [" ".join(d.split()[:doc_words]) if doc_words else d for d in shown]
        rows = np.flatnonzero(documents.topic.isin([int(t) for t in node.Topics]).to_numpy())
        read = judged_rows(rows, most_docs, seed, keep=rows[documents.abstract.iloc[rows].isin(shown).to_numpy()])
        keywords = [w for w in str(node.Parent_Name).split("_") if w]
        pair = (node.Child_Left_ID, node.Child_Right_ID)
        template = fill_topics(prompt, [names.get(str(c), f"topic {c}") for c in pair]) if names else prompt  # the children's labels
        filled, cut = fill(template, docs, keywords) if fill else (fill_prompt(template, docs, keywords), 0)
        groups[node.Parent_ID] = dict(prompt=filled, prompt_cut_tokens=cut, keywords=keywords,
                                      documents=documents.abstract.iloc[read].tolist(),
                                      titles=documents.title.iloc[read].astype(str).tolist(),
                                      vectors=unit_rows(np.asarray(vectors[rows])).mean(axis=0, keepdims=True))
    return groups


ROOT_LABEL = "All topics"  # the root's name when no candidate names what all topics share


def label_hierarchy(llm, embed, hierarchy: pd.DataFrame, prompt: str, documents: pd.DataFrame, vectors: np.ndarray,
                    representative: Mapping[int, list[str]], topic_labels: Mapping[int, str], nr_docs: int = 4,
                    doc_words: int | None = None, most_docs: Optional[int] = JUDGED_DOCS,
                    seed: int = 0) -> dict[str, dict[str, Any]]:
    """``{Parent_ID: label record}`` of each inner node, lowest first, named by ``llm`` (``embed`` its embedder)
    from its children's labels (``topic_labels`` for topics) and documents, with a ``prompt`` like
    ``build_prompt(..., parts.for_parents())``; no node repeats a label of the tree (:func:`_settled`)."""
    children = {str(n.Parent_ID): [str(n.Child_Left_ID), str(n.Child_Right_ID)] for n in hierarchy.itertuples()}
    parent = {child: node for node, pair in children.items() for child in pair}
    height: dict[str, int] = {}
    while len(height) < len(children):  # a node's height: 1 + its highest child's (a topic's is 0)
        ready = {node: 1 + max(height.get(c, 0) for c in pair) for node, pair in children.items()
                 if node not in height and all(c in height or c not in children for c in pair)}
        if not ready:
            raise ValueError("This hierarchy is no tree: a node is its own descendant.")
        height.update(ready)
    names = {str(topic): str(label) for topic, label in topic_labels.items()}
    records: dict[str, dict[str, Any]] = {}
    for level in sorted(set(height.values())):  # one batched call per level, children before parents
        nodes = {node for node, h in height.items() if h == level}
        groups = hierarchy_groups(hierarchy, prompt, documents, vectors, representative, nr_docs, doc_words,
                                  most_docs, seed, fill=llm.fill, names=names, nodes=nodes)
        for record in llm.label_groups(groups, embed):
            node = str(record["topic"])
            own = [names[c] for c in children[node]]
            siblings = [names[s] for s in children.get(parent.get(node), []) if s != node and s in names]
            sides = node_sides(hierarchy, documents, node, most_docs, seed, root=node not in parent)
            records[node] = _settled(record, own, siblings, set(names.values()), groups[record["topic"]]["keywords"],
                                     root=node not in parent, shared=lambda text: names_what_they_share(text, *sides))
            names[node] = records[node]["label"]
    return records


CHILD_SHARE = 0.1  # a parent's name: each word in this share of each child's documents ...
NODE_LIFT = 4.0  # ... and this many times as often in the node as in the rest
JOINED_WORDS = 8  # the children's labels joined, up to this many words


def node_sides(hierarchy: pd.DataFrame, documents: pd.DataFrame, node: str, most_docs: Optional[int] = JUDGED_DOCS,
               seed: int = 0, root: bool = False) -> tuple[list[tuple[dict, int]], Optional[tuple[dict, int]]]:
    """Word index and count of each child's documents of ``node`` and of the rest (``None`` for the root), at
    most ``most_docs`` each."""
    topics = {str(n.Parent_ID): [int(t) for t in n.Topics] for n in hierarchy.itertuples()}
    row = hierarchy[hierarchy.Parent_ID.astype(str) == node].iloc[0]

    def side(mask: np.ndarray) -> tuple[dict, int]:
        read = judged_rows(np.flatnonzero(mask), most_docs, seed)
        return word_index(documents.abstract.iloc[read].tolist()), len(read)

    sides = [side(documents.topic.isin(topics.get(str(c), [int(c)])).to_numpy())
             for c in (row.Child_Left_ID, row.Child_Right_ID)]
    return sides, None if root else side(~documents.topic.isin(topics[node]).to_numpy())


def names_what_they_share(text: str, sides: list[tuple[dict, int]], rest: Optional[tuple[dict, int]]) -> bool:
    """True when each content word of ``text`` is in ``CHILD_SHARE`` of each child's documents (``sides``) and
    ``NODE_LIFT`` times as often in the node as in the rest (``rest``); always False for the root."""
    inside = [document_share(text, index, n, need=1.0) for index, n in sides]
    if rest is None or not all(share >= CHILD_SHARE for share in inside):  # nan (no content word) fails too
        return False
    return float(np.mean(inside)) >= NODE_LIFT * document_share(text, *rest, need=1.0)


def _settled(record: dict[str, Any], own: list[str], siblings: list[str], taken: set[str], keywords: list[str],
             root: bool, shared=lambda text: True) -> dict[str, Any]:
    """``record`` with a passing candidate its children share that repeats no label or head phrase near it; else
    the children's labels joined (the root: ``ROOT_LABEL``), else its keywords."""
    from .labeler._choice import choose_label, content_words
    from .label_similarity import same_head
    from .labeler._clean import keywords_label

    taken = {label.lower() for label in taken}
    joined = " and ".join(own)
    words = content_words(joined)

    def clash(text: str) -> bool:
        return text.lower() in taken or any(same_head(text, other) for other in [*own, *siblings]) or not shared(text)

    passing = [c for c in record.get("candidates", []) if not c["failures"]]
    chosen = choose_label([c for c in passing if not clash(c["text"])])
    dropped = sorted({c["text"] for c in passing if clash(c["text"])})
    if chosen is not None:
        label, source = chosen["text"], chosen["source"]
    elif root:
        label, source = ROOT_LABEL, "root"
    elif (joined.lower() not in taken and len(set(words)) == len(words) and len(joined.split()) <= JOINED_WORDS
          and not any("," in label for label in own)):  # a child named by its keywords is joined to nothing
        label, source = joined, "children"
    else:
        lists = [keywords_label(list(keywords), n) for n in range(4, max(5, len(keywords) + 1))]
        label, source = next((k for k in lists if k.lower() not in taken), lists[-1]), "keywords"  # one more, if taken
    return {**record, "label": label, "source": source, "fallback": chosen is None, "children": own,
            "dropped": dropped, "share": chosen["share"] if chosen else float("nan")}
