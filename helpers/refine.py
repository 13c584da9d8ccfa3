"""What notebook 06 needs beyond BERTopic's own calls: the run's own settings, which labels a refit keeps
or asks again, your edited labels carried through a merge, and the groups of documents the hierarchy's
inner nodes are labelled from."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

import numpy as np
import pandas as pd

from .labeler._choice import JUDGED_DOCS, judged_rows, unit_rows


class StaleEdits(ValueError):
    """An edits file written from an earlier run of notebook 03: its topics are not this run's."""


def read_spreadsheet_csv(path: Path) -> pd.DataFrame:
    """A CSV as a spreadsheet saved it: UTF-8 (with or without Excel's byte-order mark), else Windows-1252, the
    encoding Excel on Windows saves "CSV" in ("Économie" as byte 0xC9); one sentence when it is neither."""
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
    """The labels you changed in your copy of ``labels_to_edit.csv``: ``{topic: your label}``.

    Rows whose label is the LLM's (or empty) are not edits; a topic the run does not have is an error
    naming it, so an edit made for another run is not applied to the wrong topic.
    """
    path = Path(path).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"edited_labels {str(path)!r} does not exist: copy labels_to_edit.csv from the run "
                                f"folder, change the labels you want, and point edited_labels at the copy.")
    edited = read_spreadsheet_csv(path)
    if not {"topic", "label"} <= set(edited.columns):
        raise ValueError(f"{path.name} needs the columns topic and label (as in labels_to_edit.csv); it has "
                         f"{', '.join(edited.columns)}.")
    known = dict(zip(labels.topic.astype(int), labels.label))
    unknown = sorted(set(edited.topic.astype(int)) - set(known))
    if unknown:
        raise ValueError(f"{path.name} names topics this run does not have: {unknown}. Edit the labels_to_edit.csv "
                         f"of this run folder.")
    original = edited.llm_label.astype(str) if "llm_label" in edited.columns else edited.topic.astype(int).map(known)
    stale = [int(t) for t, was in zip(edited.topic, original) if was != known[int(t)]]
    if stale:  # written from an earlier run of 03 into this folder: its topics are not this run's
        raise StaleEdits(f"{path.name} was written from an earlier run of notebook 03 (topic {stale[0]} was "
                         f"{original[edited.topic.astype(int) == stale[0]].iloc[0]!r}, it is {known[stale[0]]!r} now): "
                         f"copy your labels into a fresh labels_to_edit.csv (delete this one and run 06 to get it).")
    return {int(t): str(label).strip() for t, label, was in zip(edited.topic, edited.label, original)
            if str(label).strip() and str(label).strip() != was}


def your_labels(edited_labels: Optional[str], in_place: Path, labels: pd.DataFrame, offer: bool = False) -> dict[int, str]:
    """Notebook 06's edits: those of ``edited_labels`` when given (any problem is an error), else those of the
    run folder's own ``labels_to_edit.csv`` (``in_place``). An in-place file written before 03 was run again
    (``--overwrite``) is not applied and not touched: a note says so, and 06 goes on with the LLM's labels.
    With ``offer``, ``in_place`` is written for you to edit when it does not exist yet (never written over)."""
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
    """The table notebook 06 writes for you to edit: each topic's label, where it came from, and the LLM's
    label it was written from (``llm_label``: an edit is a label that differs from it, and a file written
    from an earlier run of 03 is recognised)."""
    return labels[["topic", "label", "source"]].assign(llm_label=labels.label)


def carry_labels(yours: Mapping[int, str], mapping: Mapping[int, int], sizes: Mapping[int, int]) -> dict[int, str]:
    """Your labels after topics were merged (``mapping``: old topic -> new): a new topic keeps the
    label of its largest old topic you named (``sizes``: old topic -> documents)."""
    carried: dict[int, tuple[int, str]] = {}
    for old, label in yours.items():
        new = int(mapping.get(old, old))
        if new not in carried or sizes.get(old, 0) > carried[new][0]:
            carried[new] = (sizes.get(old, 0), label)
    return {topic: label for topic, (_, label) in carried.items()}


def hierarchy_groups(hierarchy: pd.DataFrame, prompt: str, documents: pd.DataFrame, vectors: np.ndarray,
                     representative: Mapping[int, list[str]], nr_docs: int = 4, doc_words: int | None = None,
                     most_docs: Optional[int] = JUDGED_DOCS, seed: int = 0, fill=None) -> dict[Any, dict[str, Any]]:
    """One group per inner node of ``hierarchical_topics`` for ``BatchedTextGeneration.label_groups``.

    A node's prompt holds the node's own words (``Parent_Name``) and the first representative document
    of its largest topics, taken from its two children in turn (so both sides of the join are in it), up
    to ``nr_docs``, cut to ``doc_words`` words. The labeler judges a node's candidates on its documents and
    on the centre of its vectors (each scaled to length 1 here): a group keeps that centre (one row, not a copy of every vector) and at most
    ``most_docs`` of the node's documents and titles (those its prompt shows, and others drawn at random
    with ``seed``: :func:`helpers.labeler._choice.judged_rows`), so memory stays bounded at any corpus size (the root
    is the whole corpus: 13.0 GB at 117k documents without the bound, 4.9 GB with it; BENCHMARKS.md, Scale).
    ``documents`` has ``abstract``, ``title`` and ``topic``. ``fill`` (the labeler's
    :meth:`helpers.labeler.BatchedTextGeneration.fill`) cuts each prompt to the model's window and
    says by how many tokens (``prompt_cut_tokens``); without it the prompts are filled uncut.
    """
    from itertools import chain, zip_longest

    from .prompts import fill_prompt

    sizes = documents.topic.value_counts().to_dict()
    leaves = {str(node.Parent_ID): [int(t) for t in node.Topics] for node in hierarchy.itertuples()}

    def topics_of(child: Any) -> list[int]:
        return sorted(leaves.get(str(child), [int(child)]), key=lambda t: -sizes.get(t, 0))

    groups = {}
    for node in hierarchy.itertuples():
        pairs = zip_longest(topics_of(node.Child_Left_ID), topics_of(node.Child_Right_ID))
        order = [t for t in chain.from_iterable(pairs) if t is not None and representative.get(t)]
        shown = [representative[t][0] for t in order[:nr_docs]]
        docs = [" ".join(d.split()[:doc_words]) if doc_words else d for d in shown]
        rows = np.flatnonzero(documents.topic.isin([int(t) for t in node.Topics]).to_numpy())
        read = judged_rows(rows, most_docs, seed, keep=rows[documents.abstract.iloc[rows].isin(shown).to_numpy()])
        keywords = [w for w in str(node.Parent_Name).split("_") if w]
        filled, cut = fill(prompt, docs, keywords) if fill else (fill_prompt(prompt, docs, keywords), 0)
        groups[node.Parent_ID] = dict(prompt=filled, prompt_cut_tokens=cut, keywords=keywords,
                                      documents=documents.abstract.iloc[read].tolist(),
                                      titles=documents.title.iloc[read].astype(str).tolist(),
                                      vectors=unit_rows(np.asarray(vectors[rows])).mean(axis=0, keepdims=True))
    return groups
