"""The strict label rubric (:func:`label_failures`): every reason a label is not one a reader would keep; a filter the
labeler applies, not a quality score.
"""

from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache
from typing import Optional, Sequence

from ..label_similarity import PHRASE_STARTS as _PHRASE_STARTS, _words, words_of  # noqa: F401 (the labeler imports them from here)
from ..prompts import EXAMPLE_LABEL

MAX_LABEL_WORDS = 6  # "2 to 5 words" asked; a label over 6 words reads as a headline
# ... unless it is a whole name phrase whose every word is in the topic's documents
LONG_LABEL_WORDS = 10

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


def is_prompt_echo(line: str, prompt: str = "") -> bool:
    """True when ``line`` repeats the prompt: a phrase of its template, or a whole line (over eight words) of
    ``prompt``."""
    lowered = line.lower()
    if any(marker in lowered for marker in ECHO_MARKERS):
        return True
    long_lines = {
        strip_decoration(p).lower() for p in prompt.splitlines() if len(p.split()) > 8
    }
    return strip_decoration(line).lower() in long_lines


def is_repetitive(line: str) -> bool:
    """True when one word loops ("stock market stock market stock market") or a meaning word comes twice in one phrase
    (a headline and its subtitle may share one)."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    words = [w for w in re.findall(r"\w+", line.lower()) if len(w) > 2]
    if words and Counter(words).most_common(1)[0][1] >= 3:
        return True
    for phrase in re.split(r":|\s[-–]\s|\bvs\.?\s|\bversus\b", line):
        meaning = [w for w in words_of(phrase) if len(w) > 2 and w not in ENGLISH_STOP_WORDS]
        if len(meaning) != len(set(meaning)):
            return True
    return False


# ---- the strict label rubric
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
ROLE = "a role or a broadcaster, not a subject"
JUDGMENT = "a verdict, not a subject"
REASONS = (EMPTY, ECHO, TOO_LONG, SENTENCE, CUT, INVENTED, FALLBACK, COPIED, REPETITIVE, LIST, ROLE, JUDGMENT)

# Finite auxiliaries and modals: a label holding one is a clause ("... is proving more popular").
_AUXILIARIES = {
    "is", "are", "was", "were", "am", "been", "has", "have", "had", "does", "did", "would", "could", "should",
    "must", "shall", "isn't", "aren't", "wasn't", "weren't", "hasn't", "haven't", "doesn't", "didn't", "won't",
}
def is_clause(label: str) -> bool:
    """True when ``label`` reads as a sentence: it holds a finite verb (an auxiliary, a verb-only -s form, or a past
    tense after a phrase's first word)."""
    return _finite_verb_at((label or "").split()) is not None


@lru_cache(maxsize=100_000)
def variants(word: str) -> frozenset[str]:
    """``word`` and its inflections (lemminflect), e.g. "elections" -> {"election", "elections", ...}."""
    from lemminflect import getAllInflections, getAllLemmas

    forms = {word}
    for lemmas in getAllLemmas(word).values():
        for lemma in lemmas:
            forms.add(lemma.lower())
            forms.update(f.lower() for fs in getAllInflections(lemma).values() for f in fs)
    return frozenset(forms)


def vocabulary_of(documents: Sequence[str]) -> set[str]:
    """Every word of ``documents``, lowercased (:func:`words_of`): what a label may use."""
    return {w for doc in documents for w in words_of(doc)}


def invented_words(label: str, documents: Sequence[str] = (), vocabulary: Optional[set[str]] = None) -> list[str]:
    """The words and numbers of ``label`` found nowhere in ``documents`` (or ``vocabulary``), not even as an inflection
    or a shared stem; stop words and phrase openers do not count."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    vocabulary = vocabulary if vocabulary is not None else vocabulary_of(documents)
    missing = []
    for word in words_of(label.replace("-", " ")):
        if word in ENGLISH_STOP_WORDS or word in _PHRASE_STARTS or word in vocabulary:
            continue
        if any(c.isdigit() for c in word) or (
            not (variants(word) & vocabulary)
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
    """The title or document first sentence ``label`` copies, whole or by ``min_words`` or more words, or ``None``."""
    target = " ".join(words_of(label))
    if not target:
        return None
    for source in [*titles, *(first_sentence(d) for d in documents)]:
        text = _joined_words(source)
        if text == target or (len(target.split()) >= min_words and f" {target} " in f" {text} "):
            return source
    return None


def is_word_list(label: str) -> bool:
    """True for keywords written as a list: three or more comma-separated items, or two single words ("England,
    Rugby")."""
    items = [item.split() for item in label.split(",")]
    return len(items) >= 3 or (len(items) == 2 and all(len(words) == 1 for words in items))


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
    """Every reason (``REASONS``) the strict rubric rejects ``label``; ``[]`` when it passes. Its words and facts must
    come from ``documents``, ``titles`` or ``vocabulary`` (facts also ``prompt``); ``budget_hit`` with the raw
    ``answer`` flags a cut label; ``fallback``: a keyword label; ``repaired_from`` (the answer's line before repair) is
    checked for echoes and copies too. A label of up to ``LONG_LABEL_WORDS`` words failing on length alone passes when judged against
    ``documents``, ``titles`` or ``vocabulary`` (every word found there)."""
    from ._facts import invented_facts, names_a_judgment, names_no_subject

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
    if (documents or titles or vocabulary) and not fallback and (
        invented_words(label, [*documents, *titles], vocabulary) or invented_facts(label, documents, [*titles, prompt])
    ):
        failures.append(INVENTED)
    if (documents or titles) and any(copied_from(text, list(titles), list(documents)) for text in origins):
        failures.append(COPIED)
    if is_repetitive(label):
        failures.append(REPETITIVE)
    if not fallback and is_word_list(label):
        failures.append(LIST)
    if not fallback and names_no_subject(label):
        failures.append(ROLE)
    if not fallback and names_a_judgment(label):
        failures.append(JUDGMENT)
    if failures == [TOO_LONG] and len(label.split()) <= LONG_LABEL_WORDS and (documents or titles or vocabulary):
        return []  # a whole name phrase from the topic's documents, kept whole
    return failures


def _finite_verb_at(words: list[str]) -> Optional[int]:
    """Index of the first finite verb among the whitespace-split ``words`` (see :func:`is_clause`), or ``None``."""
    from lemminflect import getAllInflections, getAllLemmas

    phrase_start = True
    for i, raw in enumerate(words):
        word = re.sub(r"['’]s$", "", raw.strip(".,:;!?\"'()“”‘’").lower())
        if word in _AUXILIARIES:
            return i
        readings = getAllLemmas(word) if word and "-" not in word else {}
        if set(readings) == {"VERB"} and word not in readings["VERB"]:
            past = {f for lemma in readings["VERB"] for f in getAllInflections(lemma, upos="VERB").get("VBD", ())}
            if word.endswith("s") or (not phrase_start and (word.endswith("ed") or word in past)):
                return i
        phrase_start = word in _PHRASE_STARTS or word in ("the", "a", "an") or raw.rstrip()[-1:] in ":;,(–"
    return None
