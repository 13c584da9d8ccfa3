"""Choosing one label per topic among its candidates, and no two topics of a run named alike.

- :func:`choose_label` keeps the candidate that passes the rubric and covers the topic's
  documents best, the LLM's own answer first; :func:`judged_record` is one topic's verdicts and choice;
- :func:`document_share` says how many of a topic's documents a label's words match (how well it retrieves
  them by embedding, ``label_confidence``, and which labels are alike live in ``helpers.label_similarity``);
- :func:`disambiguate`: two labels are near duplicates when they share their head phrase (the content
  words before the first preposition, conjunction or clause break, as nouns: "The Olympic Games" and
  "Olympic"), or when their embeddings are closer than ``SIMILARITY_THRESHOLD`` (measured:
  ``benchmarks/label_similarity.py``, BENCHMARKS.md); the topic whose label fits it less takes another
  passing candidate, or a short qualifier from its own key phrases, the way Toponymy's
  ``disambiguate_topics`` does, without asking the LLM again.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Optional, Sequence

import numpy as np

from ._clean import keywords_label
from ._facts import names_one_event
from ..label_similarity import (PHRASE_STARTS, SIMILARITY_THRESHOLD, same_head, words_of)
from ._rubric import label_failures, variants


JUDGED_DOCS = 2_000  # the most documents of one topic or hierarchy node a label is judged on (BENCHMARKS.md, Scale)


def judged_rows(rows: np.ndarray, most: Optional[int] = JUDGED_DOCS, seed: int = 0, keep: Sequence[int] = ()) -> np.ndarray:
    """The rows of a topic's (or node's) documents its label is judged on: all of them, or ``most`` (in order)
    when there are more: the rows in ``keep`` (the documents its prompt showed the LLM, so a name copied from
    them is not taken for an invented word) and the rest drawn at random (``seed``). Key phrases, the rubric's
    vocabulary and the document share then cost the same at any corpus size (a hierarchy's root holds the
    whole corpus)."""
    rows = np.asarray(rows)
    if not most or len(rows) <= most:
        return rows
    kept = np.intersect1d(np.asarray(keep, dtype=rows.dtype), rows)[:most]
    rest = np.setdiff1d(rows, kept)
    drawn = np.random.default_rng(seed).choice(rest, size=most - len(kept), replace=False)
    return np.sort(np.concatenate([kept, drawn]))


NARROW_SHARE = 0.2  # a label matching fewer of its topic's documents names one story, not the topic ...
BROAD_SHARE = 0.4  # ... when a passing candidate matching at least this share exists (BENCHMARKS.md)


def content_words(label: str) -> list[str]:
    """The words of ``label`` that carry meaning (English stop words dropped), hyphenated words split."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return [w for w in words_of((label or "").replace("-", " ")) if w not in ENGLISH_STOP_WORDS]


def word_index(documents: Sequence[str]) -> dict[str, set[int]]:
    """Each word of ``documents`` (:func:`._rubric.words_of`) and the documents holding it."""
    index: dict[str, set[int]] = {}
    for i, document in enumerate(documents):
        for word in set(words_of(document)):
            index.setdefault(word, set()).add(i)
    return index


def holders(word: str, index: dict[str, set[int]]) -> set[int]:
    """The documents of ``index`` (:func:`word_index`) holding ``word`` as written, inflected or by its stem, as
    :func:`._rubric.invented_words` finds it (a number only as written)."""
    numeric = any(c.isdigit() for c in word)
    forms = {word} if numeric else variants(word)
    stem = word[: max(5, len(word) - 3)] if len(word) >= 5 and not numeric else None
    return set().union(*(docs for form, docs in index.items() if form in forms or (stem and form.startswith(stem))))


def label_holders(label: str, index: dict[str, set[int]]) -> dict[str, set[int]]:
    """Each content word of ``label`` (:func:`content_words`, once) and the documents of ``index`` holding it
    (:func:`holders`): what :func:`document_share` and :func:`rare_words` read, scanned once per word."""
    return {word: holders(word, index) for word in dict.fromkeys(content_words(label))}


def document_share(label: str, index: dict[str, set[int]], n_documents: int, need: float = 0.5,
                   held: Optional[dict[str, set[int]]] = None) -> float:
    """The share of a topic's documents that hold at least ``need`` (half) of ``label``'s content words (each
    found by :func:`holders`); ``index`` is :func:`word_index` of those ``n_documents``, ``held`` its
    :func:`label_holders` where already found. "The 2004 World Open" in a topic of tennis reports matches few of
    them; "Tennis" most. ``nan`` for a label without content words."""
    held = label_holders(label, index) if held is None else held
    if not held or not n_documents:
        return float("nan")
    hits = np.zeros(n_documents, dtype=int)
    for documents in held.values():
        hits[list(documents)] += 1
    return float((hits >= need * len(held)).mean())


RARE_SHARE = 0.05  # a label's word in fewer of its topic's documents names something beside the topic (BENCHMARKS.md)


def rare_words(label: str, index: dict[str, set[int]], n_documents: int, floor: float = RARE_SHARE,
               held: Optional[dict[str, set[int]]] = None) -> list[str]:
    """The content words of ``label`` that fewer than ``floor`` of the topic's ``n_documents`` hold (``held``: its
    :func:`label_holders`, where already found): "addiction" in "Gaming Addiction: The Game of Life" for 89
    video-game reports (3 of them), "environment" in "The impact of mobile technology on the environment" for 48
    about phones (2)."""
    held = label_holders(label, index) if held is None else held
    return [w for w, documents in held.items()
            if w not in PHRASE_STARTS and len(documents) < floor * n_documents]  # not "using", "vs"


BROADER = 2.0  # a key phrase near the best-covering one takes its place when this many times as many documents hold it


def broadest(phrases: list[dict[str, Any]], margin: float = 0.08) -> Optional[dict[str, Any]]:
    """The best-covering of the key ``phrases``, unless one within ``margin`` of it is held whole (every content word,
    ``whole``: :func:`document_share` with ``need=1.0``) by ``BROADER`` times as many of the topic's documents: then
    the one most hold. A phrase fragment or one show covers a topic's centre as well as its subject does, but far
    fewer documents hold it: "Film" (89% of 169 film reports) over "Win best film" (37%), "TV" (65%) over "Celebrity
    Big Brother" (16%; whole BBC, held to AVX2, 2026-12-04); "Tony Blair" (33%) stays before "Blair" (37%), "Yukos"
    (75%) before "Russian" (92%; 1,000 documents)."""
    if not phrases:
        return None
    best = max(phrases, key=lambda c: c["coverage"])

    def whole(c: dict[str, Any]) -> float:  # nan (no content word) or not measured: 0
        return float(np.nan_to_num(c.get("whole", 0.0)))

    broader = [c for c in phrases if c is not best and best["coverage"] - c["coverage"] <= margin
               and whole(c) > 0 and whole(c) >= BROADER * whole(best)]
    return max(broader, key=lambda c: (whole(c), c["coverage"]), default=best)


def choose_label(candidates: list[dict[str, Any]], margin: float = 0.08) -> Optional[dict[str, Any]]:
    """The candidate to keep: the LLM's own answer, unless a key phrase covers the topic clearly better (or at all,
    when the answer holds a word few of the topic's documents hold), or the choice names one story while a
    candidate names the topic.

    Each candidate has ``text``, ``source`` ("llm" or "key phrase"), ``failures`` (the
    rubric's) and ``coverage``: the mean cosine similarity of its embedding to the topic's
    documents, which rewards a label that describes the topic as a whole over one that
    matches one of its documents. Only candidates that pass the rubric compete. An LLM answer stays in the
    running while the best key phrase covers the topic at most ``margin`` better (more: the answer names a side
    issue), or not better at all when the answer holds a word few of the topic's documents hold (its ``rare``
    words, :func:`rare_words`); the best-covering answer still running wins, else the best-covering key phrase or,
    when one within ``margin`` of it is held by far more documents, that one (:func:`broadest`); ``None`` when
    nothing passes.
    With each candidate's ``share`` (:func:`document_share`), a choice matching under
    ``NARROW_SHARE`` of the documents gives way to the best-covering candidate matching at least
    ``BROAD_SHARE`` of them ("Celebrity Big Brother" for a topic of television news). A choice naming one match
    (:func:`._facts.names_one_event`: "The England vs. Ireland match in the Six Nations") gives way to the
    best-covering candidate naming none that matches at least as many of the topic's documents.
    """
    passing = [c for c in candidates if not c["failures"]]
    phrases = [c for c in passing if c["source"] == "key phrase"]
    best = max((c["coverage"] for c in phrases), default=None)
    answers = [c for c in passing if c["source"] == "llm"  # an answer naming what its documents barely mention: no lead
               and (best is None or best - c["coverage"] <= (0.0 if c.get("rare") else margin))]
    chosen = max(answers, key=lambda c: c["coverage"], default=broadest(phrases, margin))
    if chosen is not None and chosen.get("share", 1.0) < NARROW_SHARE:
        broad = [c for c in passing if c.get("share", 0.0) >= BROAD_SHARE]
        chosen = max(broad, key=lambda c: c["coverage"], default=chosen)
    if chosen is not None and names_one_event(chosen["text"]):
        share = chosen.get("share", 1.0)
        wider = [c for c in passing if not names_one_event(c["text"]) and c.get("share", 1.0) >= share]
        chosen = max(wider, key=lambda c: c["coverage"], default=chosen)
    return chosen


def judged_record(key, group: Mapping[str, Any], raws: list[str], candidates: list[dict[str, Any]],
                  vocabulary: set[str], index: dict[str, set[int]]) -> dict[str, Any]:
    """One group's record: every candidate's coverage, document share, rare words and rubric verdict, and the choice."""
    centre = np.asarray(group["vectors"]).mean(axis=0)
    for candidate in candidates:
        candidate["coverage"] = float(candidate.pop("vector") @ centre)
        held, n = label_holders(candidate["text"], index), len(group["documents"])  # the index scanned once per word
        candidate["share"] = document_share(candidate["text"], index, n, held=held)
        candidate["whole"] = document_share(candidate["text"], index, n, need=1.0, held=held)
        candidate["rare"] = rare_words(candidate["text"], index, n, held=held)
        candidate["failures"] = label_failures(candidate["text"], group["prompt"], group["documents"],
                                               group["titles"], vocabulary=vocabulary,
                                               repaired_from=candidate["line"])
    chosen = choose_label(candidates)
    return dict(topic=key, prompt=group["prompt"], raw=raws[0], answers=raws, candidates=candidates,
                label=chosen["text"] if chosen else keywords_label(list(group["keywords"])),
                source=chosen["source"] if chosen else "keywords", fallback=chosen is None,
                share=chosen["share"] if chosen else float("nan"),
                prompt_cut_tokens=group.get("prompt_cut_tokens", 0))

def qualified(label: str, phrases: Sequence[str]) -> list[str]:
    """``label`` with a short qualifier from the topic's own key ``phrases``: "Olympic (Kelli White)"."""
    own = set(words_of(label))
    return [f"{label} ({p})" for p in phrases if p and not set(words_of(p)) <= own]


def disambiguate(records: list[dict[str, Any]], embed: Callable[[list[str]], np.ndarray],
                 threshold: float = SIMILARITY_THRESHOLD, fixed: Optional[set] = None) -> list[dict[str, Any]]:
    """Rename labels until no two of ``records`` (one per topic) are near duplicates, where it can.

    Topics are settled in order of how well their label covers them (the chosen candidate's
    ``coverage``): the better fit keeps its label. A later topic whose label duplicates a settled
    one takes its next passing candidate (best coverage first) that duplicates none, or its label
    with a qualifier from its own passing key phrases (:func:`qualified`, judged by the rubric): the
    qualifier first when the label is the LLM's own (a good model's name is kept, made distinct),
    else the candidate first; when neither is distinct it keeps its label (counted by
    :func:`duplicate_counts`). Topics in ``fixed`` (kept from an earlier
    fit, or edited by hand) and keyword fallbacks are never renamed; the outlier topic (-1) takes no part (as
    :func:`duplicate_counts` leaves it out): on the whole BBC its "Digital music players" renamed the music
    topic's "Music" to "Celebrity Big Brother". A renamed record keeps its
    former label as ``duplicate_of_label`` and says why in ``renamed``.
    """
    fixed = fixed or set()
    vectors: dict[str, np.ndarray] = {}

    def vector(text: str) -> np.ndarray:
        if text not in vectors:
            vectors[text] = np.asarray(embed([text or " "]))[0]
            vectors[text] = vectors[text] / max(float(np.linalg.norm(vectors[text])), 1e-12)
        return vectors[text]

    def clash(text: str, settled: list[str]) -> Optional[str]:
        return next((s for s in settled if same_head(text, s) or float(vector(text) @ vector(s)) > threshold), None)

    def fit(r: dict[str, Any]) -> float:
        return max((c.get("coverage", 0.0) for c in r.get("candidates", []) if c.get("text") == r["label"]), default=0.0)

    order = sorted(range(len(records)), key=lambda i: (records[i]["topic"] not in fixed and not records[i]["fallback"],
                                                       -fit(records[i])))
    settled: list[str] = []
    for i in order:
        record = records[i]
        if record["topic"] == -1:  # the outliers are no topic: their label makes none give way, nor gives way
            continue
        other = clash(record["label"], settled)
        if other is not None and record["topic"] not in fixed and not record["fallback"]:
            choice = _alternative(record, settled, clash)
            if choice is not None:
                records[i] = {**record, "label": choice["text"], "source": choice["source"],
                              "duplicate_of_label": record["label"], "renamed": f"near duplicate of {other!r}"}
        settled.append(records[i]["label"])
    return records


def _alternative(record: dict[str, Any], settled: list[str], clash: Callable) -> Optional[dict[str, Any]]:
    """The passing candidate, or the label with a qualifier, that duplicates no ``settled`` label."""
    passing = sorted((c for c in record.get("candidates", []) if not c["failures"] and c["text"] != record["label"]),
                     key=lambda c: -c.get("coverage", 0.0))
    others = [c for c in passing if clash(c["text"], settled) is None]
    source = next((c["source"] for c in record.get("candidates", []) if c["text"] == record["label"]), record["source"])
    qualifiers = [{"text": text, "source": source}
                  for text in qualified(record["label"], [c["text"] for c in passing if c["source"] == "key phrase"])
                  if clash(text, settled) is None and not label_failures(text)]  # the words are the topic's own
    ordered = qualifiers + others if source == "llm" else others + qualifiers
    return ordered[0] if ordered else None
