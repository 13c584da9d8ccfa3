"""BatchedTextGeneration: batched, greedy LLM topic labels judged by a rubric, a drop-in for BERTopic's
``TextGeneration``."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Sequence, Union

import numpy as np
import pandas as pd
import torch
from bertopic.representation._base import BaseRepresentation
from bertopic.representation._utils import truncate_document
from tqdm.auto import tqdm
from transformers import StoppingCriteria, StoppingCriteriaList, set_seed

from ..label_similarity import label_confidence, unit_rows
from ..machine import show_progress
from ..prompts import fill_prompt
from ._cache import AnswerCache, generator_identity
from ._choice import JUDGED_DOCS, disambiguate, judged_record, judged_rows, word_index
from ._clean import answer_line, budget_was_hit, clean_label, ends_where_answered, repair_label
from ._keyphrases import key_phrases
from ._rubric import vocabulary_of
from ._window import context_window, fit_to_window


class StopAtLineEnd(StoppingCriteria):
    """Ends each sequence once its answer has a full line (leading newlines do not count), row by row."""

    def __init__(self, tokenizer):
        self.tokenizer, self.start = tokenizer, None

    def __call__(self, input_ids, scores, **kwargs):
        if self.start is None:
            self.start = input_ids.shape[1] - 1
        texts = self.tokenizer.batch_decode(input_ids[:, self.start:], skip_special_tokens=True)
        return torch.tensor([("\n" in t.lstrip()) for t in texts], device=input_ids.device)


class BatchedTextGeneration(BaseRepresentation):
    """Batched, greedy LLM topic labels judged by a rubric; use it wherever BERTopic's ``TextGeneration`` fits.

    Arguments (the others as in ``TextGeneration``):
        candidates: answers asked per topic (beam search; greedy when 1).
        keyword_prompt: a second, keywords-only prompt.
        key_phrases: key phrases of each length added as candidates (0: none).
        embeddings: the documents' embeddings, in ``fit``'s order.
        titles: the documents' titles, so the rubric catches a copied headline.
        cache_dir: where answers are recorded and replayed; ``replay_only`` never generates.
        distinct: no two topics keep near-duplicate labels.
        judged_docs: the most documents of a topic a label is judged on.

    Usage:

    ```python
    from helpers.labeler import BatchedTextGeneration
    llm = BatchedTextGeneration(generator, prompt=prompt, batch_size=8, candidates=3, embeddings=embeddings)
    topic_model = BERTopic(representation_model={"LLM": llm})
    ```
    After fitting, ``llm.records_`` holds each topic's answers, judged candidates, label and confidence.
    """

    def __init__(
        self,
        generator,
        prompt: str,
        nr_docs: int = 4,
        diversity: Optional[float] = None,
        doc_length: Optional[int] = None,
        tokenizer: Union[str, Callable, None] = None,
        batch_size: int = 8,
        max_new_tokens: int = 24,
        candidates: int = 1,
        keyword_prompt: Optional[str] = None,
        key_phrases: int = 3,
        embeddings: Optional[np.ndarray] = None,
        titles: Optional[Sequence[str]] = None,
        random_state: int = 42,
        show_progress: bool = True,
        cache_dir: Union[str, Path, None] = None,
        replay_only: bool = False,
        distinct: bool = True,
        judged_docs: Optional[int] = JUDGED_DOCS,
    ):
        for name, value in (("batch_size", batch_size), ("candidates", candidates)):
            if value < 1:
                raise ValueError(f"{name} must be at least 1, got {value}.")
        self.generator = generator
        self.prompt = prompt
        self.nr_docs = nr_docs
        self.diversity = diversity
        self.doc_length = doc_length
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.max_new_tokens = max_new_tokens
        self.candidates = candidates
        self.keyword_prompt = keyword_prompt
        self.key_phrases = key_phrases
        self.embeddings = embeddings
        self.titles = titles
        self.random_state = random_state
        self.show_progress = show_progress
        self.cache_dir = cache_dir
        self.replay_only = replay_only
        self.distinct = distinct
        self.judged_docs = judged_docs
        self.shown_: dict[int, list[str]] = {}  # as each topic's prompt shows them
        self.prompt_cuts_: dict[int, int] = {}  # tokens cut to fit the window
        self.records_: list[dict[str, Any]] = []
        self.replayed_, self.generated_ = 0, 0

    def topic_prompts(self, topic_model, documents, c_tf_idf, topics) -> dict[int, str]:
        """Each topic's filled prompt, from the same representative docs as TextGeneration."""
        repr_docs, _, _, _ = topic_model._extract_representative_docs(
            c_tf_idf, documents, topics, 500, self.nr_docs, self.diversity
        )
        prompts, self.prompt_cuts_ = {}, {}
        self.shown_ = {topic: list(docs) for topic, docs in repr_docs.items()}
        for topic, docs in repr_docs.items():
            docs = [truncate_document(topic_model, self.doc_length, self.tokenizer, d) for d in docs]
            prompts[topic], self.prompt_cuts_[topic] = self.fill(self.prompt, docs, [w for w, _ in topics[topic]])
        return prompts

    def fill(self, template: str, documents: Sequence[str], keywords: Sequence[str]) -> tuple[str, int]:
        """``template`` filled and cut to the model's window less ``max_new_tokens`` (:func:`fit_to_window`), and the
        number of tokens cut; uncut for a chat server."""
        window = context_window(self.generator)
        limit = None if window is None else window - self.max_new_tokens
        return fit_to_window(template, documents, keywords, getattr(self.generator, "tokenizer", None), limit)

    def answer_cache(self) -> Optional[AnswerCache]:
        """The record of this labeler's answers (``cache_dir``), or ``None`` when it keeps none."""
        if self.cache_dir is None:
            return None
        return AnswerCache(self.cache_dir, generator_identity(
            self.generator, max_new_tokens=self.max_new_tokens, candidates=self.candidates, greedy=True))

    def generate(self, prompts: list[str]) -> list[list[str]]:
        """``candidates`` answers per prompt, ``batch_size`` prompts at a time, replayed from or recorded in
        ``cache_dir``; raises ``LookupError`` when ``replay_only`` and one is not recorded."""
        cache = self.answer_cache()
        answers: list[Optional[list[str]]] = [cache.get(p) if cache else None for p in prompts]
        todo = [i for i, a in enumerate(answers) if a is None]
        self.replayed_, self.generated_ = len(prompts) - len(todo), len(todo)
        if todo and self.replay_only:
            raise LookupError(
                f"{len(todo)} of {len(prompts)} prompts have no recorded answer from this model and these settings, "
                f"and replay_only is on: run once with replay_only = False where the model is at hand to record them."
            )
        if callable(getattr(self.generator, "stream_answers", None)):  # a chat server (helpers.serving): concurrent
            progress = tqdm(total=len(todo), desc="LLM labels (requests)", **self._bar_switch(todo))
            for i, got in self.generator.stream_answers({i: prompts[i] for i in todo}, self.max_new_tokens, self.candidates):
                answers[i] = got
                if cache:
                    cache.put(prompts[i], got)
                progress.update()
            progress.close()
            return answers
        self._generate_here(prompts, todo, answers, cache)
        return answers

    def _bar_switch(self, todo: list[int]) -> dict[str, bool]:  # TQDM_DISABLE: no bar
        return {} if show_progress(self.show_progress and todo) else {"disable": True}

    def _generate_here(self, prompts: list[str], todo: list[int], answers: list, cache: Optional[AnswerCache]) -> None:
        """The ``todo`` prompts' answers from a transformers pipeline, in batches, into ``answers``."""
        set_seed(self.random_state)
        tokenizer = getattr(self.generator, "tokenizer", None)
        if tokenizer is not None:  # batching needs left padding and a pad token
            tokenizer.padding_side = "left"
            if tokenizer.pad_token is None:
                tokenizer.pad_token = tokenizer.eos_token
        beams = {"num_beams": self.candidates, "num_return_sequences": self.candidates} if self.candidates > 1 else {}
        starts = range(0, len(todo), self.batch_size)
        for start in tqdm(starts, desc="LLM labels (batches)", **self._bar_switch(todo)):
            rows = todo[start : start + self.batch_size]
            outputs = self.generator(
                [prompts[i] for i in rows],
                batch_size=len(rows),
                do_sample=False,
                temperature=None,
                top_p=None,
                top_k=None,
                repetition_penalty=None,
                max_new_tokens=self.max_new_tokens,
                return_full_text=False,
                stopping_criteria=StoppingCriteriaList([StopAtLineEnd(tokenizer)]),
                **beams,
            )
            for i, out in zip(rows, outputs):
                answers[i] = [o["generated_text"] for o in out]
                if cache:
                    cache.put(prompts[i], answers[i])

    def extract_topics(
        self, topic_model, documents, c_tf_idf, topics: Mapping[int, list[tuple[str, float]]]
    ) -> dict[int, list[tuple[str, float]]]:
        """One label per topic, in BERTopic's ``[(label, 1), ("", 0), ...]`` shape; a topic with essentially the
        documents of one labelled before keeps its label (:mod:`._memory`)."""
        from ._memory import kept_topics, label_changes

        prompts = self.topic_prompts(topic_model, documents, c_tf_idf, topics)
        ids = documents.ID.to_numpy() if "ID" in documents else np.arange(len(documents))
        doc_topics = documents.Topic.to_numpy()
        texts = documents.Document.tolist()
        embed = topic_model.embedding_model.embed
        vectors = unit_rows(self.embeddings[ids] if self.embeddings is not None else embed(texts))
        members = {t: np.flatnonzero(doc_topics == t) for t in prompts}
        id_sets = {t: frozenset(ids[rows].tolist()) for t, rows in members.items()}
        before = [r for r in self.records_ if "ids" in r]  # the last fit's topics
        kept = kept_topics(id_sets, before)
        groups = {}
        for topic, prompt in prompts.items():
            if topic in kept:  # same documents as before: same label
                continue
            shown = set(self.shown_.get(topic, []))  # the prompt's documents are always among those judged
            rows = judged_rows(members[topic], self.judged_docs, self.random_state,
                               keep=[i for i in members[topic] if texts[i] in shown])
            groups[topic] = dict(prompt=prompt, prompt_cut_tokens=self.prompt_cuts_.get(topic, 0),
                                 keywords=[w for w, _ in topics[topic]], documents=[texts[i] for i in rows],
                                 titles=[str(self.titles[ids[i]]) for i in rows] if self.titles is not None else [],
                                 vectors=vectors[members[topic]].mean(axis=0, keepdims=True))
        fresh = {r["topic"]: r for r in self.label_groups(groups, embed)} if groups else {}
        self.changes_ = label_changes(id_sets, before, kept, fresh)
        self.records_ = [{**(kept[t] if t in kept else fresh[t]), "topic": t, "ids": id_sets[t]} for t in prompts]
        if self.distinct:  # new labels give way to kept ones
            self.records_ = disambiguate(self.records_, embed, fixed=set(kept))
        confidences = label_confidence(
            embed([r["label"] for r in self.records_]), vectors, doc_topics, [r["topic"] for r in self.records_])
        for record, confidence in zip(self.records_, confidences):
            record["confidence"] = confidence
        return {r["topic"]: [(r["label"], 1)] + [("", 0)] * 9 for r in self.records_}

    def remember(self, labels: pd.DataFrame, topics: Sequence[int]) -> None:
        """Start from a saved run's labels (``labels.csv``) and its documents' ``topics``: a later fit asks the LLM
        only for topics whose documents changed (``changes_`` says which)."""
        topics = np.asarray(topics)
        self.records_ = [dict(topic=int(r.topic), label=r.label, source=r.source, fallback=bool(r.fallback),
                              confidence=r.confidence, raw=r.raw, answers=[r.raw], prompt="",
                              prompt_cut_tokens=int(getattr(r, "prompt_cut_tokens", 0)),
                              candidates=[dict(text=r.reference_label, source="llm",
                                               failures=[f for f in r.llm_failures.split("; ") if f])],
                              ids=frozenset(np.flatnonzero(topics == r.topic).tolist()))
                         for r in labels.itertuples()]

    def label_groups(self, groups: Mapping[Any, Mapping[str, Any]], embed: Callable) -> list[dict[str, Any]]:
        """One record per group of documents, labelled as topics are (notebook 06: the hierarchy's nodes). A group
        has ``prompt`` (:meth:`fill`), ``keywords``, ``documents``, ``titles``, unit ``vectors`` (or their mean)."""
        asked = [g["prompt"] for g in groups.values()]
        if self.keyword_prompt:  # the short second prompt, in the same batched call
            asked += [fill_prompt(self.keyword_prompt, [], list(g["keywords"])[:10]) for g in groups.values()]
        generated = self.generate(asked)
        n = len(groups)
        answers = [generated[i] + (generated[i + n] if self.keyword_prompt else []) for i in range(n)]
        docs = {key: list(g["documents"]) for key, g in groups.items()}
        phrases = key_phrases(docs, self.key_phrases) if self.key_phrases else {key: [] for key in groups}
        tokenizer = getattr(self.generator, "tokenizer", None)
        # a server says itself which answers the budget cut
        cut = getattr(self.generator, "budget_was_hit", None) or (lambda raw, n: budget_was_hit(raw, tokenizer, n))
        per_group, vocabularies, indexes = {}, {}, {}
        for (key, group), raws in zip(groups.items(), answers):
            vocabularies[key] = vocabulary_of([*group["documents"], *group["titles"]])
            indexes[key] = word_index(group["documents"])
            candidates = []
            for raw in raws:
                text = clean_label(raw, group["prompt"])
                # the budget cut this label only when it ends where the answer ended
                hit = cut(raw, self.max_new_tokens) and ends_where_answered(text, answer_line(raw, group["prompt"]))
                candidates.append(dict(text=repair_label(text, hit, vocabulary=vocabularies[key]), source="llm", raw=raw,
                                       budget_hit=hit, line=answer_line(raw, group["prompt"])))
            candidates += [dict(text=p, source="key phrase", raw="", budget_hit=False, line=p) for p in phrases[key]]
            per_group[key] = list({(c["text"].lower(), c["source"]): c for c in candidates}.values())
        everything = [c for candidates in per_group.values() for c in candidates]
        candidate_vectors = unit_rows(embed([c["text"] or " " for c in everything]))  # one call for all groups
        for candidate, vector in zip(everything, candidate_vectors):
            candidate["vector"] = vector
        return [judged_record(key, group, raws, per_group[key], vocabularies[key], indexes[key])
                for (key, group), raws in zip(groups.items(), answers)]
