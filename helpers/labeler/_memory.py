"""Which topics of a refit keep the label they had: :meth:`BatchedTextGeneration.extract_topics` after
``remember`` or an earlier fit (``update_topics``, ``reduce_topics``, ``merge_topics`` in notebook 06).

A topic keeps an earlier topic's label when the two are essentially the same documents (``KEEP_SHARE``);
a topic holding most of two or more earlier topics is a merge, "new"; any other topic is asked again.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence

# A topic is still the same topic when at least 90% of its documents are the earlier topic's and at least
# 90% of that topic's documents are in it: reduce_outliers adding 2 documents to a topic of 40 (the Yukos
# topic of BBC News, issue 35) does not make it another topic, and asking again only renamed it ("The State
# of Russia"); a merge, or a topic that gained or lost a tenth of its documents, is asked again. Above 0.5,
# so one earlier topic is kept by at most one topic, and a topic keeps at most one earlier label.
KEEP_SHARE = 0.9


def same_topic(ids: frozenset, earlier: frozenset, share: float = KEEP_SHARE) -> bool:
    """True when at least ``share`` of ``ids`` are in ``earlier`` and at least ``share`` of ``earlier`` in ``ids``."""
    if not ids or not earlier or not share * len(ids) <= len(earlier) <= len(ids) / share:  # sizes alone rule it out
        return False
    return len(ids & earlier) >= share * max(len(ids), len(earlier))


def kept_topics(id_sets: Mapping[int, frozenset], records: Sequence[Mapping[str, Any]],
                share: float = KEEP_SHARE) -> dict[int, Mapping[str, Any]]:
    """``{topic: the earlier record whose label it keeps}`` for every topic of ``id_sets`` (topic -> its
    documents' ids) that is :func:`same_topic` as one of ``records`` (each with its ``ids``)."""
    kept = {}
    for topic, ids in id_sets.items():
        match = next((r for r in records if same_topic(ids, frozenset(r["ids"]), share)), None)
        if match is not None:
            kept[topic] = match
    return kept


def label_changes(id_sets: Mapping[int, frozenset], records: Sequence[Mapping[str, Any]],
                  kept: Iterable[int], asked: Iterable[int]) -> dict[str, list[int]]:
    """The labeler's ``changes_``: the ``kept`` topics, and each topic ``asked`` again as "new" (it holds most
    of the documents of two or more earlier topics, a merge, or of none) or "regenerated" (of exactly one)."""
    changes: dict[str, list[int]] = {"kept": sorted(kept), "regenerated": [], "new": []}
    for topic in asked:
        sources = [r for r in records if r["topic"] != -1 and len(r["ids"] & id_sets[topic]) > len(r["ids"]) / 2]
        changes["new" if len(sources) != 1 else "regenerated"].append(topic)
    return changes
