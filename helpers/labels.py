"""From LLM output to one clean label per topic, and a batched LLM representation model.

The reference keeps "whatever comes before the first newline" of a 500-token sampled
answer. Small models ramble, echo the prompt or wrap the label in "Label: '...'".
:func:`clean_label` applies explicit rules; :func:`label_or_keywords` falls back to
the topic's keywords when nothing usable is left. :class:`BatchedTextGeneration` is a
drop-in for BERTopic's ``TextGeneration`` that builds every topic's prompt first,
generates them in batches, greedily, and stops each answer at the end of its line.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any, Callable, Mapping, Optional, Union

import pandas as pd
from bertopic.representation._base import BaseRepresentation

from .prompts import EXAMPLE_LABEL, fill_prompt

MAX_LABEL_WORDS = 12

# Phrases of the prompt itself: a line carrying one of them is an echo, not a label.
ECHO_MARKERS = (
    "i have a topic",
    "the topic is described by",
    "based on the information about the topic",
    "make sure you to only return",
    "please create a short label",
    "[documents]",
    "[keywords]",
    "<<sys>>",
    "[inst]",
    "[/inst]",
    "you are a helpful",
    EXAMPLE_LABEL.lower(),  # the one-shot example's answer, copied
)

# Words a label does not end on: what is left when the token budget cut a sentence.
_DANGLING = {
    "a", "an", "the", "of", "in", "on", "and", "or", "to", "for", "with", "by", "at", "from", "as",
    "is", "are", "was", "were", "has", "have", "had", "will", "be", "that", "its", "their", "his", "her",
}
_CLAUSE_BREAKS = (": ", " - ", " – ", "; ", ", ", " (")

_PREFIX = re.compile(
    r"^(?:(?:sure|okay|ok|certainly)[!,.]?\s*)?"
    r"(?:(?:here(?:'s| is)\s+)?(?:a|the|my)?\s*(?:short\s+)?(?:topic\s+)?"
    r"(?:label|title|name)(?:\s+(?:of|for)\s+(?:this|the)\s+topic)?\s*(?:is)?\s*[:\-]\s*"
    r"|topic\s*(?:\d+)?\s*[:\-]\s*"
    r"|(?:this|the)\s+topic\s+(?:is\s+)?(?:titled|labeled|labelled|called|named|about)\s*:?\s*"
    r"|(?:the\s+)?(?:short\s+)?(?:topic\s+)?label\s+(?:of|for)\s+this\s+topic\s+is\s*:?\s*)",
    re.IGNORECASE,
)
_QUOTES = "\"'`“”‘’«»*_#"
_SPECIAL_TOKENS = re.compile(r"</s>|<s>|<\|[^|>]*\|>|<\|endoftext\|>")
_BULLET = re.compile(r"^\s*(?:[-*•]+|\d+[.)])\s+")


def first_line(text: str) -> str:
    """The first line of ``text`` that has any content, stripped."""
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return ""


def strip_decoration(line: str) -> str:
    """Remove bullets, "Label:"-style prefixes, quotes, markdown and a final period."""
    previous = None
    while previous != line:
        previous = line
        line = _BULLET.sub("", line)
        line = _PREFIX.sub("", line).strip()
        line = line.strip(_QUOTES).strip()
        line = line.rstrip(".:;,").strip()
    return line


def shorten(line: str, max_words: int = MAX_LABEL_WORDS) -> str:
    """Keep the headline of a long answer, and drop words a cut sentence dangles on.

    "Digital Music and Piracy: The Future of Peer-to-Peer Networks" -> "Digital Music
    and Piracy" (a headline-and-explanation answer over half the word budget keeps
    its headline); "... cut production in March has had a" -> "... in March".
    """
    for breaks, limit in ((_CLAUSE_BREAKS[:1], max_words // 2), (_CLAUSE_BREAKS[1:], max_words)):
        if len(line.split()) > limit:
            cuts = [line.index(b) for b in breaks if b in line and len(line[: line.index(b)].split()) >= 2]
            if cuts:
                line = line[: min(cuts)].strip()
    words = line.split()
    while len(words) > 1 and words[-1].lower().strip(".,:;") in _DANGLING:
        words.pop()
    return " ".join(words).rstrip(".,:;-–( ").strip()


def is_prompt_echo(line: str, prompt: str = "") -> bool:
    """True when ``line`` repeats the prompt instead of naming the topic.

    Either it carries a phrase of the prompt template, or it repeats a whole
    long line (over eight words) of the filled prompt, such as a document.
    """
    lowered = line.lower()
    if any(marker in lowered for marker in ECHO_MARKERS):
        return True
    long_lines = {
        strip_decoration(p).lower() for p in prompt.splitlines() if len(p.split()) > 8
    }
    return strip_decoration(line).lower() in long_lines


def is_repetitive(line: str) -> bool:
    """True when one word makes up a loop ("stock market stock market stock market")."""
    words = [w for w in re.findall(r"\w+", line.lower()) if len(w) > 2]
    return bool(words) and Counter(words).most_common(1)[0][1] >= 3


def label_problem(label: Optional[str], prompt: str = "") -> Optional[str]:
    """Why ``label`` is unusable ("empty", "prompt echo", "over 12 words", "repetitive"), or ``None``.

    The one rule set by which the benchmark judges any method's labels.
    """
    if not isinstance(label, str) or not label.strip():
        return "empty"
    if is_prompt_echo(label, prompt):
        return "prompt echo"
    if len(label.split()) > MAX_LABEL_WORDS:
        return f"over {MAX_LABEL_WORDS} words"
    if is_repetitive(label):
        return "repetitive"
    return None


def clean_label(raw: Optional[str], prompt: str = "") -> str:
    """One clean label from an LLM answer, or ``""`` when the answer is unusable.

    Rules: drop a repeated prompt and special tokens, keep the first non-empty line,
    strip bullets, "Label:"/"Topic:"/"This topic is titled" prefixes, quotes and a
    final period, keep the headline of a long answer (:func:`shorten`). Unusable
    (returns ``""``, see :func:`label_problem`): empty, an echo of the prompt, more
    than ``MAX_LABEL_WORDS`` words, or a word looping three times.
    """
    if not isinstance(raw, str):
        return ""
    text = raw[len(prompt):] if prompt and raw.startswith(prompt) else raw
    text = _SPECIAL_TOKENS.sub("\n", text)
    line = strip_decoration(shorten(strip_decoration(first_line(text))))
    return "" if label_problem(line, prompt) else line


def keywords_label(keywords: list[str], n: int = 4) -> str:
    """A fallback label from a topic's top keywords, e.g. "economy, growth, bank, rate"."""
    return ", ".join(k for k in keywords[:n] if k)


def label_or_keywords(raw: Optional[str], keywords: list[str], prompt: str = "") -> tuple[str, bool]:
    """``(label, used_fallback)``: the cleaned label, or the keywords when it is unusable."""
    label = clean_label(raw, prompt)
    return (label, False) if label else (keywords_label(keywords), True)


def make_stop_at_line_end(tokenizer):
    """A ``StoppingCriteria`` that ends each sequence once its answer has a full line.

    Leading newlines do not count; the check is per row, so one batch member that
    finished does not stop the others.
    """
    import torch
    from transformers import StoppingCriteria

    class StopAtLineEnd(StoppingCriteria):
        def __init__(self):
            self.start = None

        def __call__(self, input_ids, scores, **kwargs):
            if self.start is None:
                self.start = input_ids.shape[1] - 1
            texts = tokenizer.batch_decode(input_ids[:, self.start:], skip_special_tokens=True)
            return torch.tensor([("\n" in t.lstrip()) for t in texts], device=input_ids.device)

    return StopAtLineEnd()


class BatchedTextGeneration(BaseRepresentation):
    """Batched, greedy, clean LLM topic labels; use it wherever ``TextGeneration`` fits.

    Builds every topic's prompt first (the same ``[DOCUMENTS]``/``[KEYWORDS]`` filling
    and the same representative documents as BERTopic's ``TextGeneration``), generates
    them ``batch_size`` at a time through the transformers pipeline, greedily, with a
    short token budget and a stop at the end of the first line, then cleans each
    answer into one label (keywords when unusable).

    Usage:
    ```python
    from helpers.labels import BatchedTextGeneration
    llm = BatchedTextGeneration(generator, prompt=prompt, batch_size=8)
    topic_model = BERTopic(representation_model={"LLM": llm})
    ```
    After fitting, ``llm.records_`` lists per topic the prompt, raw answer, label and
    whether the keywords were used.
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
        random_state: int = 42,
        show_progress: bool = True,
    ):
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}.")
        self.generator = generator
        self.prompt = prompt
        self.nr_docs = nr_docs
        self.diversity = diversity
        self.doc_length = doc_length
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.max_new_tokens = max_new_tokens
        self.random_state = random_state
        self.show_progress = show_progress
        self.records_: list[dict[str, Any]] = []

    def topic_prompts(self, topic_model, documents, c_tf_idf, topics) -> dict[int, str]:
        """Each topic's filled prompt, from the same representative docs as TextGeneration."""
        from bertopic.representation._utils import truncate_document

        repr_docs, _, _, _ = topic_model._extract_representative_docs(
            c_tf_idf, documents, topics, 500, self.nr_docs, self.diversity
        )
        prompts = {}
        for topic, docs in repr_docs.items():
            docs = [truncate_document(topic_model, self.doc_length, self.tokenizer, d) for d in docs]
            prompts[topic] = fill_prompt(self.prompt, docs, [w for w, _ in topics[topic]])
        return prompts

    def generate(self, prompts: list[str]) -> list[str]:
        """Greedy answers for ``prompts``, ``batch_size`` at a time, each cut at its first line."""
        from tqdm.auto import tqdm
        from transformers import StoppingCriteriaList, set_seed

        from .llm import prepare_for_batching

        set_seed(self.random_state)
        if getattr(self.generator, "tokenizer", None) is not None:  # any pipeline: batching needs left padding
            prepare_for_batching(self.generator.tokenizer)
        answers = []
        starts = range(0, len(prompts), self.batch_size)
        for start in tqdm(starts, desc="LLM labels (batches)", disable=not self.show_progress):
            batch = prompts[start : start + self.batch_size]
            outputs = self.generator(
                batch,
                batch_size=len(batch),
                do_sample=False,
                temperature=None,
                top_p=None,
                top_k=None,
                repetition_penalty=None,
                max_new_tokens=self.max_new_tokens,
                return_full_text=False,
                stopping_criteria=StoppingCriteriaList([make_stop_at_line_end(self.generator.tokenizer)]),
            )
            answers.extend(out[0]["generated_text"] for out in outputs)
        return answers

    def extract_topics(
        self, topic_model, documents, c_tf_idf, topics: Mapping[int, list[tuple[str, float]]]
    ) -> dict[int, list[tuple[str, float]]]:
        """One cleaned label per topic, in BERTopic's ``[(label, 1), ("", 0), ...]`` shape."""
        prompts = self.topic_prompts(topic_model, documents, c_tf_idf, topics)
        answers = self.generate(list(prompts.values()))
        self.records_ = []
        updated = {}
        for (topic, prompt), raw in zip(prompts.items(), answers):
            keywords = [w for w, _ in topics[topic]]
            label, fallback = label_or_keywords(raw, keywords, prompt)
            self.records_.append(dict(topic=topic, prompt=prompt, raw=raw, label=label, fallback=fallback))
            updated[topic] = [(label, 1)] + [("", 0)] * 9
        return updated


def llm_representation(
    method: str,
    generator,
    prompt: str,
    nr_docs: int = 4,
    doc_length: Optional[int] = None,
    batch_size: int = 8,
    max_new_tokens: int = 24,
    seed: int = 42,
):
    """The LLM representation model: ours ("batched") or the reference's ("reference").

    "reference" is BERTopic's ``TextGeneration`` with the pipeline's own generation
    settings (the reference's: sampled at 0.1, up to 500 tokens, one topic at a time).
    Documents are cut to ``doc_length`` words in both, when given.
    """
    tokenizer = "whitespace" if doc_length else None
    if method == "batched":
        return BatchedTextGeneration(
            generator, prompt, nr_docs=nr_docs, doc_length=doc_length, tokenizer=tokenizer,
            batch_size=batch_size, max_new_tokens=max_new_tokens, random_state=seed,
        )
    if method == "reference":
        from bertopic.representation import TextGeneration

        return TextGeneration(
            generator, prompt=prompt, nr_docs=nr_docs, doc_length=doc_length, tokenizer=tokenizer, random_state=seed
        )
    raise ValueError(f"Unknown label_method {method!r}; use 'batched' or 'reference'.")


def labels_table(topic_model, records: Optional[list[dict]] = None, aspect: str = "LLM") -> pd.DataFrame:
    """One row per topic: the raw LLM answer, the reference's label (its first line) and
    ours (cleaned, or the keywords when unusable) with a ``fallback`` flag.

    ``records`` are :class:`BatchedTextGeneration`'s ``records_``; without them (the
    reference's ``TextGeneration``) the raw answer is read from the topic model.
    """

    recorded = {r["topic"]: r for r in records or []}
    rows = []
    for topic, words in topic_model.get_topics(full=True)[aspect].items():
        if topic in recorded:
            raw, label, fallback = recorded[topic]["raw"], recorded[topic]["label"], recorded[topic]["fallback"]
        else:
            raw = words[0][0]
            label, fallback = label_or_keywords(raw, [w for w, _ in topic_model.get_topic(topic)])
        rows.append(dict(topic=topic, label=label, fallback=fallback, reference_label=first_line(raw), raw=raw))
    return pd.DataFrame(rows)
