"""From LLM answers to one label per topic that a reader would keep.

The reference keeps "whatever comes before the first newline" of a 500-token sampled
answer. Small models ramble, echo the prompt, write a headline sentence, or are cut by
the token budget mid-word. Here:

- :func:`clean_label` strips the decoration of an answer ("Label: '...'", quotes,
  "The topic is ..."), and :func:`repair_label` shortens it at a phrase boundary
  (a word cut by the budget, a trailing clause, more than ``MAX_LABEL_WORDS`` words);
- :func:`label_failures` is the strict rubric every method's labels are judged by;
- :class:`BatchedTextGeneration`, a drop-in for BERTopic's ``TextGeneration``, asks the
  LLM for several candidates per topic (beam search, one batched call), adds key
  phrases of the topic's own vocabulary (:func:`key_phrases`), and keeps the candidate
  that passes the rubric and covers the topic's documents best (:func:`choose_label`):
  the LLM's own answer first, a key phrase only when none of its answers passes;
- :func:`label_confidence` says how well a label retrieves its own topic's documents.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Sequence, Union

import numpy as np
import pandas as pd

from .machine import default_cache_dir
from .prompts import EXAMPLE_LABEL, fill_prompt
from .settings import Settings

MAX_LABEL_WORDS = 6  # "2 to 5 words" asked; a label over 6 words reads as a headline

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
    r"(?:label|title|name)(?:\s+(?:of|for)\s+(?:this|the)\s+topic)?\s*(?:is)?(?:\s*:|\s+[-–])\s*"
    r"|topic\s*(?:\d+)?(?:\s*:|\s+[-–])\s*"
    r"|(?:this|the)\s+topic\s+(?:is\s+)?(?:titled|labeled|labelled|called|named|about)\s*:?\s*"
    r"|(?:this|the)\s+topic(?:\s+in\s+\d+(?:\s+to\s+\d+)?\s+words?)?\s+(?:is|would\s+be)\s*:?\s*"
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


def _headline(line: str) -> str:
    """The part of a long answer before its first clause break ("Digital Music and Piracy: The Future ...")."""
    if len(line.split()) <= MAX_LABEL_WORDS:
        return line
    cuts = [line.index(b) for b in _CLAUSE_BREAKS if b in line and len(line[: line.index(b)].split()) >= 2]
    return line[: min(cuts)].strip() if cuts else line


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


# ---------------------------------------------------------------- the strict label rubric
EMPTY = "empty"
ECHO = "prompt echo"
TOO_LONG = f"over {MAX_LABEL_WORDS} words"
SENTENCE = "a sentence, not a name"
CUT = "cut by the token budget"
INVENTED = "invented word"
FALLBACK = "keyword fallback"
COPIED = "copied from one document"
REPETITIVE = "repetitive"
LIST = "a list of keywords"
REASONS = (EMPTY, ECHO, TOO_LONG, SENTENCE, CUT, INVENTED, FALLBACK, COPIED, REPETITIVE, LIST)

# Finite auxiliaries and modals: a label holding one is a clause ("... is proving more popular").
_AUXILIARIES = {
    "is", "are", "was", "were", "am", "been", "has", "have", "had", "does", "did", "would", "could", "should",
    "must", "shall", "isn't", "aren't", "wasn't", "weren't", "hasn't", "haven't", "doesn't", "didn't", "won't",
}
_WORD = re.compile(r"[A-Za-z0-9]+(?:['’][A-Za-z]+)*")


def words_of(text: str) -> list[str]:
    """The words of ``text``, lowercased, without a possessive "'s" ("Brown's" -> "brown")."""
    return list(_words(text or ""))


@lru_cache(maxsize=200_000)
def _words(text: str) -> tuple[str, ...]:
    return tuple(re.sub(r"['’]s$", "", w.lower()) for w in _WORD.findall(text))


def is_clause(label: str) -> bool:
    """True when ``label`` reads as a sentence: it holds a finite verb, not just a name.

    A finite verb is an auxiliary or modal ("is", "are", "has", "would"), or a word whose
    only reading is an inflected verb ending in -s ("says", "sells"), or a past tense after
    the first word ("GM decided", "Rugby World Ran on", while "Proposed merger" is a name).
    The readings come from lemminflect's English lexicon.
    """
    return _finite_verb_at(_WORD.findall(label or "")) is not None


def _variants(word: str) -> set[str]:
    """``word`` and its inflections (lemminflect), e.g. "elections" -> {"election", "elections", ...}."""
    from lemminflect import getAllInflections, getAllLemmas

    forms = {word}
    for lemmas in getAllLemmas(word).values():
        for lemma in lemmas:
            forms.add(lemma.lower())
            forms.update(f.lower() for fs in getAllInflections(lemma).values() for f in fs)
    return forms


def vocabulary_of(documents: Sequence[str]) -> set[str]:
    """Every word of ``documents``, lowercased (:func:`words_of`): what a label may use."""
    return {w for doc in documents for w in words_of(doc)}


def invented_words(label: str, documents: Sequence[str] = (), vocabulary: Optional[set[str]] = None) -> list[str]:
    """The words and numbers of ``label`` that occur nowhere in ``documents`` (or ``vocabulary``).

    Stop words do not count. A word is found when it, an inflection of it ("elections" for
    "election"), or a word sharing its stem (its first ``len - 3`` letters, at least 5:
    "economic" for "economy") occurs; a number must occur as written ("2022"). Hyphenated
    words are checked part by part.
    """
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    vocabulary = vocabulary if vocabulary is not None else vocabulary_of(documents)
    missing = []
    for word in words_of(label.replace("-", " ")):
        if word in ENGLISH_STOP_WORDS or word in vocabulary:
            continue
        if any(c.isdigit() for c in word) or (
            not (_variants(word) & vocabulary)
            and (len(word) < 5 or not any(v.startswith(word[: max(5, len(word) - 3)]) for v in vocabulary))
        ):
            missing.append(word)
    return missing


@lru_cache(maxsize=100_000)
def first_sentence(text: str) -> str:
    """The first sentence (or line) of ``text``."""
    line = first_line(text)
    return re.split(r"(?<=[.!?])\s", line, maxsplit=1)[0]


@lru_cache(maxsize=200_000)
def _joined_words(text: str) -> str:
    return " ".join(_words(text))


def copied_from(label: str, titles: list[str], documents: list[str], min_words: int = 4) -> Optional[str]:
    """The title or first sentence ``label`` was copied from, or ``None``.

    Copied: the label is a whole title, or a run of at least ``min_words`` words of one
    title or one document's first sentence.
    """
    target = " ".join(words_of(label))
    if not target:
        return None
    for source in [*titles, *(first_sentence(d) for d in documents)]:
        text = _joined_words(source)
        if text == target or (len(target.split()) >= min_words and f" {target} " in f" {text} "):
            return source
    return None


def label_failures(
    label: Optional[str],
    prompt: str = "",
    documents: Sequence[str] = (),
    titles: Sequence[str] = (),
    answer: Optional[str] = None,
    budget_hit: bool = False,
    fallback: bool = False,
    vocabulary: Optional[set[str]] = None,
    repaired_from: Optional[str] = None,
) -> list[str]:
    """Every reason the strict rubric rejects ``label`` (an empty list: it passes).

    The rubric, one rule per reason (``REASONS``): empty; a prompt echo (incl. the
    one-shot example's label); over ``MAX_LABEL_WORDS`` words; a sentence rather than a
    name (:func:`is_clause`); cut by the token budget (``budget_hit`` and the label ends
    where the raw ``answer`` ended); a word or number found nowhere in the topic's
    ``documents`` and ``titles`` (:func:`invented_words`; pass their ``vocabulary`` to judge
    many labels of one topic without re-reading them); a keyword-list fallback
    (``fallback``, counted apart); copied from one title or first sentence
    (:func:`copied_from`); a word looping three times; a list of three or more keywords
    written by the LLM ("England, Wales, Rugby, Nations"). The benchmark, notebook 05 and the
    labeler itself judge every method's labels with it. ``repaired_from`` is the answer's line
    before cleaning and repair shortened it (:func:`answer_line`): an echo or a copy there still
    counts (a repair fixes the form of an answer, not where it came from).
    """
    if not isinstance(label, str) or not label.strip():
        return [EMPTY]
    failures = []
    if fallback:
        failures.append(FALLBACK)
    origins = [label] + ([strip_decoration(repaired_from)] if repaired_from and repaired_from != label else [])
    if any(is_prompt_echo(text, prompt) for text in origins):
        failures.append(ECHO)
    if len(label.split()) > MAX_LABEL_WORDS:
        failures.append(TOO_LONG)
    if is_clause(label):
        failures.append(SENTENCE)
    if budget_hit and answer and words_of(label)[-1:] == words_of(answer.strip())[-1:]:
        failures.append(CUT)
    if (documents or titles or vocabulary) and not fallback and invented_words(
        label, [*documents, *titles], vocabulary
    ):
        failures.append(INVENTED)
    if (documents or titles) and any(copied_from(text, list(titles), list(documents)) for text in origins):
        failures.append(COPIED)
    if is_repetitive(label):
        failures.append(REPETITIVE)
    if not fallback and label.count(",") >= 2:  # "England, Wales, Rugby, Nations": keywords, not a name
        failures.append(LIST)
    return failures


_QUOTED = re.compile(r'^(?:the\s+topic\b.*?)?["“«]([^"”»]{2,80})["”»]', re.IGNORECASE)
# Words a label may be cut before: prepositions and conjunctions start a new phrase.
_PHRASE_STARTS = {
    "of", "in", "on", "for", "with", "by", "at", "from", "to", "about", "against", "after", "over", "into", "as",
    "and", "or", "but", "that", "which", "who", "while", "during", "between", "amid", "under", "vs", "versus",
}


def answer_line(raw: Optional[str], prompt: str = "") -> str:
    """The first line of an answer as it came, without the prompt it may repeat or special tokens."""
    if not isinstance(raw, str):
        return ""
    text = raw[len(prompt):] if prompt and raw.startswith(prompt) else raw
    return first_line(_SPECIAL_TOKENS.sub("\n", text))


def clean_label(raw: Optional[str], prompt: str = "") -> str:
    """The label an LLM answer holds, undecorated (``""`` when there is none).

    Drops a repeated prompt and special tokens, keeps the first non-empty line, takes
    the quoted name out of 'The topic is "Tennis" in 2 to 5 words.', strips bullets,
    "Label:"/"Topic:"/"This topic is titled" prefixes, quotes and a final period, and
    keeps the headline of a long answer ("Digital Music and Piracy: The Future of ...").
    Whether the label is any good is :func:`label_failures`' call.
    """
    line = answer_line(raw, prompt)
    quoted = _QUOTED.match(line)
    if quoted:
        line = quoted.group(1)
    return strip_decoration(_headline(strip_decoration(line)))


def _finite_verb_at(tokens: list[str]) -> Optional[int]:
    """Index of the first finite verb among ``tokens`` (see :func:`is_clause`), or ``None``."""
    from lemminflect import getAllInflections, getAllLemmas

    for i, token in enumerate(tokens):
        word = token.lower()
        if word in _AUXILIARIES:
            return i
        readings = getAllLemmas(word)
        if set(readings) == {"VERB"} and word not in readings["VERB"]:
            past = {f for lemma in readings["VERB"] for f in getAllInflections(lemma, upos="VERB").get("VBD", ())}
            if word.endswith("s") or (i > 0 and (word.endswith("ed") or word in past)):
                return i
    return None


def repair_label(label: str, budget_hit: bool = False, max_words: int = MAX_LABEL_WORDS) -> str:
    """Shorten ``label`` at a phrase boundary, never mid-word.

    When the token budget ended the answer (``budget_hit``) its last word may be cut
    ("... WorldCom chief Bern"): it is dropped. A clause keeps its subject, the words
    before the first finite verb ("Mobile phones are enjoying a boom" -> "Mobile
    phones"). Over ``max_words`` words, the label is cut before the last preposition or
    conjunction that leaves 2 to ``max_words`` words ("Economic and political challenges
    of Gordon Brown's government" -> "Economic and political challenges"). Words a cut
    phrase dangles on ("of", "the", "and") go last. Nothing is cut when no boundary fits.
    """
    words = label.split()
    if budget_hit and len(words) > 1:
        words = words[:-1]
    verb = _finite_verb_at([w.strip(".,:;!?\"'()") for w in words])
    if verb is not None and verb >= 2:
        words = words[:verb]
    if len(words) > max_words:
        starts = [i for i, w in enumerate(words) if 2 <= i <= max_words and w.lower().strip(",;:") in _PHRASE_STARTS]
        if starts:
            words = words[: max(starts)]
    while len(words) > 1 and words[-1].lower().strip(".,:;") in _DANGLING:
        words.pop()
    return balanced(" ".join(words).rstrip(".,:;-–( ").strip())


def keywords_label(keywords: list[str], n: int = 4) -> str:
    """A fallback label from a topic's top keywords, e.g. "economy, growth, bank, rate"."""
    return ", ".join(k for k in keywords[:n] if k)


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


# Words of news and papers that name no topic: a key phrase starting or ending with one is skipped.
_EMPTY_WORDS = {"said", "says", "mr", "mrs", "ms", "year", "years", "old", "new", "people", "told", "just", "like",
                "time", "use", "used", "using", "make", "way", "number", "best", "good", "set", "world", "paper",
                "results", "based", "proposed", "approach", "method", "methods", "show"}


def key_phrases(docs_per_topic: Mapping[int, list[str]], top_n: int = 3, stop_words: str = "english",
                min_count: int = 3, lead_words: int = 100) -> dict[int, list[str]]:
    """Each topic's most typical phrases of 1, 2 and 3 words (``top_n`` of each), by c-TF-IDF.

    The same weighting BERTopic gives single words, over n-grams: a phrase scores high when
    it is frequent in the topic and rare in the others. A phrase must occur at least
    ``min_count`` times in its topic, and neither start nor end with a word that names
    nothing ("said", "told", "year", "new", ...), and not cut a name short. Only the first ``lead_words`` words of each
    document are read: the lead of an article or abstract names its subject, and the rest
    costs time. Each comes back in the casing most frequent in the documents ("Tony Blair",
    "interest rates"). The topic x n-gram matrices stay sparse (millions of n-grams on a large
    corpus): only the n-grams some topic has ``min_count`` times are looked at, one topic at a time.
    """
    from bertopic.vectorizers import ClassTfidfTransformer
    from sklearn.feature_extraction.text import CountVectorizer

    topics = sorted(docs_per_topic)
    vectorizer = CountVectorizer(ngram_range=(1, 3), stop_words=None if stop_words == "none" else stop_words)
    leads = {t: [" ".join(d.split()[:lead_words]) for d in docs_per_topic[t]] for t in topics}
    counts = vectorizer.fit_transform([" ".join(leads[t]) for t in topics]).tocsr()
    counts.sort_indices()  # each row's n-grams in vocabulary order: ties go the same way every run
    weights = ClassTfidfTransformer().fit_transform(counts).tocsr()  # over every n-gram, as before pruning
    frequent = np.flatnonzero(counts.max(axis=0).toarray().ravel() >= min_count)  # a 1 x n-grams row, not a matrix
    vocabulary = vectorizer.get_feature_names_out()[frequent]
    counts, weights = counts[:, frequent], weights[:, frequent]
    lengths = np.array([v.count(" ") + 1 for v in vocabulary])
    empty = np.array([v.split()[0] in _EMPTY_WORDS or v.split()[-1] in _EMPTY_WORDS for v in vocabulary], dtype=bool)
    phrases = {}
    for row, topic in enumerate(topics):
        columns, found = counts[row].indices, counts[row].data
        typical = weights[row, columns].toarray().ravel() if len(columns) else np.zeros(0)
        chosen = []
        for n in (1, 2, 3):
            scores = np.where((lengths[columns] == n) & (found >= min_count) & ~empty[columns], typical, -1.0)
            order = np.argsort(-scores, kind="stable")[:top_n]
            chosen += [vocabulary[columns[k]] for k in order if scores[k] > 0]
        phrases[topic] = [cased for cased in (_usual_casing(p, leads[topic]) for p in chosen) if cased]
    return phrases


def balanced(text: str) -> str:
    """``text`` with its brackets closed or dropped: "Stock Exchange (LSE" -> "Stock Exchange (LSE)"."""
    opened = text.count("(") - text.count(")")
    if opened < 0:
        return text.replace(")", "", -opened).strip()
    return text + ")" * opened


def _usual_casing(phrase: str, documents: list[str]) -> Optional[str]:
    """``phrase`` as the documents most often write it, first letter capitalized; ``None`` when it
    cuts a name short: mostly followed by a capitalized word ("England coach Andy" [Robinson])."""
    # the vectorizer dropped stop words: "bank england" is written "Bank of England"
    pattern = re.compile(r"\b" + r"\W+(?:\w+\W+)?".join(map(re.escape, phrase.split())) + r"\b(?=(?: (\w+))?)",
                         re.IGNORECASE)
    matches = [m for doc in documents for m in pattern.finditer(doc)]
    if matches and sum(bool(m.group(1)) and m.group(1).istitle() for m in matches) > len(matches) / 2:
        return None
    found = Counter(m.group(0) for m in matches)
    text = balanced(re.sub(r"\s+", " ", found.most_common(1)[0][0])) if found else phrase
    return text[:1].upper() + text[1:]


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """Each row scaled to length 1 (cosine similarity becomes a dot product)."""
    vectors = np.asarray(vectors, dtype=float)
    return vectors / np.clip(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12, None)


def retrieval_precision(similarities: np.ndarray, topics: Sequence[int], label_topics: Sequence[int]) -> list[float]:
    """R-precision of each row of ``similarities`` (one label against every document) for its topic.

    For a topic of ``n`` documents: the share of the ``n`` documents most similar to the
    label that belong to the topic. 1.0 when the label finds exactly its topic; about
    ``n / corpus size`` for a label that could be anything.
    """
    topics = np.asarray(topics)
    out = []
    for row, topic in zip(np.asarray(similarities), label_topics):
        size = int((topics == topic).sum())
        top = np.argsort(-row, kind="stable")[:size]
        out.append(float((topics[top] == topic).mean()) if size else float("nan"))
    return out


def label_confidence(label_vectors: np.ndarray, doc_vectors: np.ndarray, topics: Sequence[int],
                     label_topics: Sequence[int]) -> list[float]:
    """How well each label retrieves its own topic's documents by embedding: :func:`retrieval_precision`
    of the cosine similarities between the labels' and the documents' embeddings."""
    return retrieval_precision(unit_rows(label_vectors) @ unit_rows(doc_vectors).T, topics, label_topics)


def choose_label(candidates: list[dict[str, Any]], margin: float = 0.08) -> Optional[dict[str, Any]]:
    """The candidate to keep: the LLM's own answer, unless a key phrase covers the topic clearly better.

    Each candidate has ``text``, ``source`` ("llm" or "key phrase"), ``failures`` (the
    rubric's) and ``coverage``: the mean cosine similarity of its embedding to the topic's
    documents, which rewards a label that describes the topic as a whole over one that
    matches one of its documents. Only candidates that pass the rubric compete. The
    best-covering LLM answer wins unless the best key phrase covers the topic more than
    ``margin`` better (an answer that names a side issue); ``None`` when nothing passes.
    """
    passing = [c for c in candidates if not c["failures"]]
    best = {source: max((c for c in passing if c["source"] == source), key=lambda c: c["coverage"], default=None)
            for source in ("llm", "key phrase")}
    llm, phrase = best["llm"], best["key phrase"]
    if llm and (not phrase or phrase["coverage"] - llm["coverage"] <= margin):
        return llm
    return phrase


def budget_was_hit(answer: str, tokenizer, max_new_tokens: int) -> bool:
    """True when the token budget, not the end of a line or the model, ended ``answer``."""
    if tokenizer is None or "\n" in answer.strip():
        return False
    return len(tokenizer(answer, add_special_tokens=False).input_ids) >= max_new_tokens - 1


class AnswerCache:
    """LLM answers on disk, one JSON file per prompt, keyed by who answered (backend, model, precision,
    generation settings) and the prompt: a re-run with the same parameters replays instead of generating,
    and a killed run resumes where it stopped. Labels made on a GPU replay on a laptop or in CI."""

    def __init__(self, folder: Union[str, Path], identity: Mapping[str, Any]):
        self.folder = Path(folder)
        self.identity = json.dumps(dict(identity), sort_keys=True, default=str)

    def path(self, prompt: str) -> Path:
        key = hashlib.sha256(f"{self.identity}\x00{prompt}".encode("utf-8")).hexdigest()
        return self.folder / key[:2] / f"{key}.json"

    def get(self, prompt: str) -> Optional[list[str]]:
        path = self.path(prompt)
        return json.loads(path.read_text(encoding="utf-8"))["answers"] if path.exists() else None

    def put(self, prompt: str, answers: list[str]) -> None:
        from .files import atomic_write

        path = self.path(prompt)
        path.parent.mkdir(parents=True, exist_ok=True)
        data = json.dumps({"who": json.loads(self.identity), "prompt": prompt, "answers": answers}, ensure_ascii=False)
        atomic_write(path, lambda tmp: Path(tmp).write_text(data, encoding="utf-8"))


def generator_identity(generator, **generation: Any) -> dict[str, Any]:
    """Who answers: the pipeline's model (name, dtype, quantization), or a server's backend and model
    (:meth:`helpers.serving.ChatServer.identity`), and the generation settings."""
    if hasattr(generator, "identity"):
        return {**generator.identity(), **generation}
    model = getattr(generator, "model", None)
    config = getattr(model, "config", None)
    quantization = getattr(config, "quantization_config", None)
    return {"backend": "transformers", "model": getattr(config, "_name_or_path", type(generator).__name__),
            "dtype": str(getattr(model, "dtype", "")),
            "quantization": quantization.to_dict() if hasattr(quantization, "to_dict") else quantization,
            **generation}


@lru_cache(maxsize=1)
def _as_representation(cls: type) -> type:
    """``cls`` as a BERTopic representation model (a subclass of its ``BaseRepresentation``, the same name).
    BERTopic is imported here, when the first labeler is made, not when this module is: importing
    ``helpers.labels`` (or ``helpers.evaluation``) pulls in neither BERTopic, UMAP nor datashader."""
    from bertopic.representation._base import BaseRepresentation

    return type(cls.__name__, (cls, BaseRepresentation), {"__module__": cls.__module__, "__doc__": cls.__doc__,
                                                            "__qualname__": _REPRESENTATION})


_REPRESENTATION = "_BatchedRepresentation"  # the name pickle finds that class by (module __getattr__ below)


def __getattr__(name: str):
    if name == _REPRESENTATION:
        return _as_representation(BatchedTextGeneration)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class BatchedTextGeneration:
    """Batched, greedy LLM topic labels a reader would keep; use it wherever ``TextGeneration`` fits.

    Builds every topic's prompt first (the same ``[DOCUMENTS]``/``[KEYWORDS]`` filling
    and the same representative documents as BERTopic's ``TextGeneration``), then asks
    the LLM for ``candidates`` answers per topic in one batched call (beam search: the
    same answers every run; greedy when 1), stopping at the end of the first line. Each
    answer is cleaned and repaired (:func:`clean_label`, :func:`repair_label`); the topic's
    key phrases (:func:`key_phrases`) join them; every candidate is judged by the strict
    rubric (:func:`label_failures`) and :func:`choose_label` keeps one. A topic where
    nothing passes falls back to its keywords.

    ``embeddings`` are the documents' embeddings, in the order given to ``fit``: they
    measure each candidate's coverage and the chosen label's confidence
    (:func:`label_confidence`); without them the documents are embedded here. ``titles``,
    in the same order, let the rubric catch a copied headline.

    Usage:
    ```python
    from helpers.labels import BatchedTextGeneration
    llm = BatchedTextGeneration(generator, prompt=prompt, batch_size=8, candidates=3, embeddings=embeddings)
    topic_model = BERTopic(representation_model={"LLM": llm})
    ```
    After fitting, ``llm.records_`` lists per topic the prompt, raw answers, every
    candidate with its verdict, the label, where it came from and its confidence.
    """

    def __new__(cls, *args, **kwargs):
        # an instance of BERTopic's BaseRepresentation too (BERTopic checks), made without importing it here
        return super().__new__(_as_representation(cls) if cls is BatchedTextGeneration else cls)

    def __init__(
        self,
        generator,
        prompt: str,
        nr_docs: int = Settings.nr_docs,
        diversity: Optional[float] = None,
        doc_length: Optional[int] = None,
        tokenizer: Union[str, Callable, None] = None,
        batch_size: int = Settings.label_batch_size,
        max_new_tokens: int = Settings.label_max_new_tokens,
        candidates: int = Settings.label_candidates,
        keyword_prompt: Optional[str] = None,
        key_phrases: int = 3,
        embeddings: Optional[np.ndarray] = None,
        titles: Optional[Sequence[str]] = None,
        random_state: int = Settings.seed,
        show_progress: bool = True,
        cache_dir: Union[str, Path, None] = None,
        replay_only: bool = False,
    ):
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}.")
        if candidates < 1:
            raise ValueError(f"candidates must be at least 1, got {candidates}.")
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
        self.records_: list[dict[str, Any]] = []
        self.replayed_, self.generated_ = 0, 0

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

    def answer_cache(self) -> Optional[AnswerCache]:
        """The record of this labeler's answers (``cache_dir``), or ``None`` when it keeps none."""
        if self.cache_dir is None:
            return None
        return AnswerCache(self.cache_dir, generator_identity(
            self.generator, max_new_tokens=self.max_new_tokens, candidates=self.candidates, greedy=True))

    def generate(self, prompts: list[str]) -> list[list[str]]:
        """``candidates`` answers per prompt (beam search, or greedy for one), ``batch_size`` prompts at a time.

        With a ``cache_dir``, a prompt answered before by the same model and settings is replayed, and
        each batch's answers are recorded as soon as they come (a killed run resumes there);
        ``replay_only`` refuses to generate. ``replayed_`` and ``generated_`` count the prompts.
        """
        from tqdm.auto import tqdm
        from transformers import StoppingCriteriaList, set_seed

        from .llm import prepare_for_batching

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
            progress = tqdm(total=len(todo), desc="LLM labels (requests)", disable=not self.show_progress or not todo)
            for i, got in self.generator.stream_answers({i: prompts[i] for i in todo}, self.max_new_tokens, self.candidates):
                answers[i] = got
                if cache:
                    cache.put(prompts[i], got)
                progress.update()
            progress.close()
            return answers
        set_seed(self.random_state)
        tokenizer = getattr(self.generator, "tokenizer", None)
        if tokenizer is not None:  # any pipeline: batching needs left padding
            prepare_for_batching(tokenizer)
        beams = {"num_beams": self.candidates, "num_return_sequences": self.candidates} if self.candidates > 1 else {}
        starts = range(0, len(todo), self.batch_size)
        for start in tqdm(starts, desc="LLM labels (batches)", disable=not self.show_progress or not todo):
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
                stopping_criteria=StoppingCriteriaList([make_stop_at_line_end(tokenizer)]),
                **beams,
            )
            for i, out in zip(rows, outputs):
                answers[i] = [o["generated_text"] for o in out]
                if cache:
                    cache.put(prompts[i], answers[i])
        return answers

    def extract_topics(
        self, topic_model, documents, c_tf_idf, topics: Mapping[int, list[tuple[str, float]]]
    ) -> dict[int, list[tuple[str, float]]]:
        """One label per topic, in BERTopic's ``[(label, 1), ("", 0), ...]`` shape; see the class docstring."""
        prompts = self.topic_prompts(topic_model, documents, c_tf_idf, topics)
        ids = documents.ID.to_numpy() if "ID" in documents else np.arange(len(documents))
        doc_topics = documents.Topic.to_numpy()
        texts = documents.Document.tolist()
        embed = topic_model.embedding_model.embed
        vectors = unit_rows(self.embeddings[ids] if self.embeddings is not None else embed(texts))
        members = {t: np.flatnonzero(doc_topics == t) for t in prompts}
        id_sets = {t: frozenset(ids[rows].tolist()) for t, rows in members.items()}
        before = {frozenset(r["ids"]): r for r in self.records_ if "ids" in r}  # the last fit's topics
        kept = {t: before[id_set] for t, id_set in id_sets.items() if id_set in before}
        groups = {}
        for topic, prompt in prompts.items():
            if topic in kept:  # the same documents as before: the same label, nothing asked
                continue
            rows = members[topic]
            groups[topic] = dict(prompt=prompt, keywords=[w for w, _ in topics[topic]], documents=[texts[i] for i in rows],
                                 titles=[str(self.titles[ids[i]]) for i in rows] if self.titles is not None else [],
                                 vectors=vectors[rows])
        fresh = {r["topic"]: r for r in self.label_groups(groups, embed)} if groups else {}
        self.changes_ = {"kept": sorted(kept), "regenerated": [], "new": []}
        for topic in fresh:  # a topic holding most of two or more earlier topics (a merge) is new, else it changed
            sources = [r for r in before.values()
                       if r["topic"] != -1 and len(r["ids"] & id_sets[topic]) > len(r["ids"]) / 2]
            self.changes_["new" if len(sources) != 1 else "regenerated"].append(topic)
        self.records_ = [{**(kept[t] if t in kept else fresh[t]), "topic": t, "ids": id_sets[t]} for t in prompts]
        confidences = label_confidence(
            embed([r["label"] for r in self.records_]), vectors, doc_topics, [r["topic"] for r in self.records_])
        for record, confidence in zip(self.records_, confidences):
            record["confidence"] = confidence
        return {r["topic"]: [(r["label"], 1)] + [("", 0)] * 9 for r in self.records_}

    def remember(self, labels: pd.DataFrame, topics: Sequence[int]) -> None:
        """Start from a saved run's labels (``labels.csv``) and its documents' ``topics``: a later fit
        (``update_topics``, ``reduce_topics``, ``merge_topics``) keeps the label of every topic whose
        documents did not change, and asks the LLM only for the others (``changes_`` says which)."""
        topics = np.asarray(topics)
        self.records_ = [dict(topic=int(r.topic), label=r.label, source=r.source, fallback=bool(r.fallback),
                              confidence=r.confidence, raw=r.raw, answers=[r.raw], prompt="",
                              candidates=[dict(text=r.reference_label, source="llm",
                                               failures=[f for f in r.llm_failures.split("; ") if f])],
                              ids=frozenset(np.flatnonzero(topics == r.topic).tolist()))
                         for r in labels.itertuples()]

    def label_groups(self, groups: Mapping[Any, Mapping[str, Any]], embed: Callable) -> list[dict[str, Any]]:
        """Label any groups of documents the way topics are labelled (notebook 06 labels the hierarchy's
        inner nodes with it). Each group has its filled ``prompt``, ``keywords``, ``documents``, their
        ``titles`` and their unit-length ``vectors``; ``embed`` embeds texts. One record per group."""
        asked = [g["prompt"] for g in groups.values()]
        if self.keyword_prompt:  # the short second prompt, in the same batched call
            asked += [fill_prompt(self.keyword_prompt, [], list(g["keywords"])[:10]) for g in groups.values()]
        generated = self.generate(asked)
        n = len(groups)
        answers = [generated[i] + (generated[i + n] if self.keyword_prompt else []) for i in range(n)]
        docs = {key: list(g["documents"]) for key, g in groups.items()}
        phrases = key_phrases(docs, self.key_phrases) if self.key_phrases else {key: [] for key in groups}
        tokenizer = getattr(self.generator, "tokenizer", None)
        # a server holds its tokenizer: it says itself which answers the budget cut (helpers.serving)
        cut = getattr(self.generator, "budget_was_hit", None) or (lambda raw, n: budget_was_hit(raw, tokenizer, n))

        per_group = {}
        for (key, group), raws in zip(groups.items(), answers):
            candidates = []
            for raw in raws:
                text = clean_label(raw, group["prompt"])
                # the budget cut this label only when it ends where the answer ended
                hit = cut(raw, self.max_new_tokens) and words_of(text)[-1:] == words_of(raw)[-1:]
                candidates.append(dict(text=repair_label(text, hit), source="llm", raw=raw, budget_hit=hit,
                                       line=answer_line(raw, group["prompt"])))
            candidates += [dict(text=p, source="key phrase", raw="", budget_hit=False, line=p) for p in phrases[key]]
            per_group[key] = list({(c["text"].lower(), c["source"]): c for c in candidates}.values())
        everything = [c for candidates in per_group.values() for c in candidates]
        candidate_vectors = unit_rows(embed([c["text"] or " " for c in everything]))  # one call for all groups
        for candidate, vector in zip(everything, candidate_vectors):
            candidate["vector"] = vector

        records = []
        for (key, group), raws in zip(groups.items(), answers):
            candidates, centre = per_group[key], np.asarray(group["vectors"]).mean(axis=0)
            vocabulary = vocabulary_of([*group["documents"], *group["titles"]])
            for candidate in candidates:
                candidate["coverage"] = float(candidate.pop("vector") @ centre)
                candidate["failures"] = label_failures(candidate["text"], group["prompt"], group["documents"],
                                                       group["titles"], vocabulary=vocabulary,
                                                       repaired_from=candidate["line"])
            chosen = choose_label(candidates)
            records.append(dict(
                topic=key, prompt=group["prompt"], raw=raws[0], answers=raws, candidates=candidates,
                label=chosen["text"] if chosen else keywords_label(list(group["keywords"])),
                source=chosen["source"] if chosen else "keywords", fallback=chosen is None,
            ))
        return records


def llm_representation(
    settings: Settings,
    generator,
    prompt: str,
    keyword_prompt: Optional[str] = None,
    embeddings: Optional[np.ndarray] = None,
    titles: Optional[Sequence[str]] = None,
):
    """The LLM representation model the run's ``settings`` ask for: ours or the reference's.

    ``settings.label_method`` "batched" is :class:`BatchedTextGeneration` with the settings'
    documents per prompt, words per document, batch size, token budget, candidates and seed
    (``keyword_prompt``, ``embeddings`` and ``titles`` as it takes them); "reference" is
    BERTopic's ``TextGeneration`` with the pipeline's own generation settings (the reference's:
    sampled at 0.1, up to 500 tokens, one topic at a time). Documents are cut to
    ``settings.label_doc_words`` words in both, when set. The settings are the one source of
    every default: nothing here or in the notebooks repeats them.
    """
    tokenizer = "whitespace" if settings.label_doc_words else None
    common = dict(nr_docs=settings.nr_docs, doc_length=settings.label_doc_words, tokenizer=tokenizer,
                  random_state=settings.seed)
    if settings.label_method == "batched":
        return BatchedTextGeneration(
            generator, prompt, batch_size=settings.label_batch_size, max_new_tokens=settings.label_max_new_tokens,
            candidates=settings.label_candidates, keyword_prompt=keyword_prompt, embeddings=embeddings, titles=titles,
            cache_dir=default_cache_dir(settings.cache_dir) / "answers", replay_only=settings.replay_only, **common,
        )
    if settings.label_method == "reference":
        from bertopic.representation import TextGeneration

        return TextGeneration(generator, prompt=prompt, **common)
    raise ValueError(f"Unknown label_method {settings.label_method!r}; use 'batched' or 'reference'.")


def judged_answer(raw: str, prompt: str, keywords: list[str], documents: list[str], titles: list[str]) -> dict[str, Any]:
    """One answer of BERTopic's ``TextGeneration`` (the reference's method) as a record like ours.

    The same cleaning, repair and rubric as :class:`BatchedTextGeneration`, with the prompt
    the answer came from: the label when it passes, the keywords when it does not.
    """
    text = repair_label(clean_label(raw, prompt))
    failures = label_failures(text, prompt, documents, titles, repaired_from=answer_line(raw, prompt))
    label = keywords_label(keywords) if failures else text
    return dict(prompt=prompt, raw=raw, answers=[raw], label=label, source="keywords" if failures else "llm",
                fallback=bool(failures), candidates=[dict(text=text, source="llm", failures=failures)])


def labels_table(topic_model, llm, documents: list[str], embeddings: Optional[np.ndarray] = None,
                 titles: Optional[Sequence[str]] = None, aspect: str = "LLM") -> pd.DataFrame:
    """One row per topic: the label, where it came from (``source``: "llm", "key phrase" or
    "keywords"; ``fallback`` for the last), its ``confidence`` (:func:`label_confidence`), the
    rubric's verdict on the LLM's first answer (``llm_failures``), the reference's label (the
    first line of that answer) and the raw answer.

    ``llm`` is the fitted representation model: ours (its ``records_``) or BERTopic's
    ``TextGeneration`` (its ``prompts_`` and answers, judged here by :func:`judged_answer`).
    ``documents``, ``embeddings`` and ``titles`` are what the topic model was fitted on.
    """
    topics = np.asarray(topic_model.topics_)
    by_topic = {t: [documents[i] for i in np.flatnonzero(topics == t)] for t in set(topics.tolist())}
    titles_by = {t: [str(titles[i]) for i in np.flatnonzero(topics == t)] for t in by_topic} if titles is not None else {}
    if isinstance(llm, BatchedTextGeneration):
        records = llm.records_
    else:
        answers = topic_model.get_topics(full=True)[aspect]
        records = [dict(topic=t, **judged_answer(words[0][0], prompt, [w for w, _ in topic_model.get_topic(t)],
                                                 by_topic.get(t, []), titles_by.get(t, [])))
                   for (t, words), prompt in zip(answers.items(), getattr(llm, "prompts_", [""] * len(answers)))]
    if records and "confidence" not in records[0]:
        embed = topic_model.embedding_model.embed
        vectors = embeddings if embeddings is not None else embed(list(documents))
        scores = label_confidence(embed([r["label"] for r in records]), vectors, topics, [r["topic"] for r in records])
        records = [{**r, "confidence": c} for r, c in zip(records, scores)]
    rows = []
    for r in records:
        first = next((c for c in r["candidates"] if c["source"] == "llm"), {"failures": []})
        rows.append(dict(topic=r["topic"], label=r["label"], source=r["source"], fallback=r["fallback"],
                         confidence=r["confidence"], llm_failures="; ".join(first["failures"]),
                         reference_label=first_line(r["raw"]), raw=r["raw"]))
    return pd.DataFrame(rows)
