"""Which topics of a refit (notebook 06) keep their earlier label: those with essentially the same documents."""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence

# Same topic: 90% of its documents are the earlier one's, and vice versa (2 documents added to a topic of 40 by
# reduce_outliers keep its label; a merge, or a tenth gained or lost, is asked again). Above 0.5: one-to-one.
KEEP_SHARE = 0.9


def same_topic(ids: frozenset, earlier: frozenset, share: float = KEEP_SHARE) -> bool:
    """True when at least ``share`` of ``ids`` are in ``earlier`` and at least ``share`` of ``earlier`` in ``ids``."""
    if not ids or not earlier or not share * len(ids) <= len(earlier) <= len(ids) / share:  # sizes alone rule it out
        return False
    return len(ids & earlier) >= share * max(len(ids), len(earlier))


def kept_topics(id_sets: Mapping[int, frozenset], records: Sequence[Mapping[str, Any]],
                share: float = KEEP_SHARE) -> dict[int, Mapping[str, Any]]:
    """``{topic: earlier record whose label it keeps}`` for each topic of ``id_sets`` (topic -> document ids)
    that is :func:`same_topic` as one of ``records``."""
    kept = {}
    for topic, ids in id_sets.items():
        match = next((r for r in records if same_topic(ids, frozenset(r["ids"]), share)), None)
        if match is not None:
            kept[topic] = match
    return kept


def label_changes(id_sets: Mapping[int, frozenset], records: Sequence[Mapping[str, Any]],
                  kept: Iterable[int], asked: Iterable[int]) -> dict[str, list[int]]:
    """The labeler's ``changes_``: the ``kept`` topics, and each ``asked`` topic as "regenerated" (it holds most
    of exactly one earlier topic) or "new" (a merge, or none)."""
    changes: dict[str, list[int]] = {"kept": sorted(kept), "regenerated": [], "new": []}
    for topic in asked:
        sources = [r for r in records if r["topic"] != -1 and len(r["ids"] & id_sets[topic]) > len(r["ids"]) / 2]
        changes["new" if len(sources) != 1 else "regenerated"].append(topic)
    return changes
