"""Cleaning and repairing an LLM answer before :mod:`._rubric` judges it; :func:`keywords_label` is the fallback.
"""

from __future__ import annotations

import re
from typing import Optional

from ._rubric import (LONG_LABEL_WORDS, MAX_LABEL_WORDS, _PHRASE_STARTS, _finite_verb_at, first_line, invented_words,
                      strip_decoration, words_of)

# Words a label does not end on: what is left when the token budget cut a sentence.
_DANGLING = {
    "a", "an", "the", "of", "in", "on", "and", "or", "to", "for", "with", "by", "at", "from", "as",
    "is", "are", "was", "were", "has", "have", "had", "will", "be", "that", "its", "their", "his", "her",
    "over", "about", "into", "vs", "against", "after", "during", "between",
}
_CLAUSE_BREAKS = (": ", " - ", " – ", "; ", ", ", " (")
_SPECIAL_TOKENS = re.compile(r"</s>|<s>|<\|[^|>]*\|>|<\|endoftext\|>")
_QUOTED = re.compile(r'^(?:the\s+topic\b.*?)?["“«]([^"”»]{2,80})["”»]', re.IGNORECASE)


def _headline(line: str) -> str:
    """The part of a long answer before its first clause break ("Digital Music and Piracy: The Future ...")."""
    if len(line.split()) <= MAX_LABEL_WORDS:
        return line
    cuts = [line.index(b) for b in _CLAUSE_BREAKS if b in line and len(line[: line.index(b)].split()) >= 2]
    return line[: min(cuts)].strip() if cuts else line


def collapse_repeats(line: str, prompt: str = "") -> str:
    """``line`` (its first 40 words) with a phrase repeated side by side said once, unless the ``prompt`` doubles that
    word too ("Duran Duran")."""
    words = line.split()
    key = [re.sub(r"[^\w']", "", w.lower()) for w in words]
    shown = " ".join(words_of(prompt))
    changed = True
    while changed:
        changed = False
        for size in range(min(len(words), 40) // 2, 0, -1):
            at = next((i for i in range(min(len(words), 40) - 2 * size + 1) if any(key[i:i + size])
                       and key[i:i + size] == key[i + size:i + 2 * size]
                       and not (size == 1 and f"{key[i]} {key[i]}" in shown)), None)
            if at is not None:
                del words[at + size:at + 2 * size], key[at + size:at + 2 * size]
                changed = True
                break
    return " ".join(words[:unfinished_copy(key)] if len(words) <= 40 else words)


def unfinished_copy(key: list[str]) -> int:
    """Where the lowercased words ``key`` start repeating an earlier phrase cut short by the token budget ("the blair
    legacy the bl"), else ``len(key)``."""
    for start in range(1, len(key)):
        tail = key[start:]
        for size in range(max(len(tail), 2), start + 1):
            copied = key[start - size:start]
            last = copied[len(tail) - 1]
            if tail[:-1] == copied[:len(tail) - 1] and tail[-1] and last.startswith(tail[-1]) and (
                    len(tail) > 1 or last != tail[-1]):  # one whole word is no copy ("...: Federated Learning")
                return start
    return len(key)


def ends_where_answered(label: str, line: str) -> bool:
    """True when the first occurrence of ``label``'s words in the answer's ``line`` runs to the line's end."""
    have, want = words_of(line), words_of(label)
    starts = [i for i in range(len(have) - len(want) + 1) if have[i:i + len(want)] == want] if want else []
    return (starts[0] + len(want) == len(have)) if starts else have[-1:] == want[-1:]


def answer_line(raw: Optional[str], prompt: str = "") -> str:
    """The first line of an answer as it came, without the prompt it may repeat or special tokens."""
    if not isinstance(raw, str):
        return ""
    text = raw[len(prompt):] if prompt and raw.startswith(prompt) else raw
    return first_line(_SPECIAL_TOKENS.sub("\n", text))


def clean_label(raw: Optional[str], prompt: str = "") -> str:
    """The label an LLM answer holds (``""`` if none): its first line without prompt echo, special tokens,
    "Label:"-style prefixes, quotes or final period; a long answer's headline only."""
    line = answer_line(raw, prompt)
    quoted = _QUOTED.match(line)
    if quoted:
        line = quoted.group(1)
    line = collapse_repeats(strip_decoration(line), prompt)
    if is_keyword_list(line):
        return ""  # its first item is no name
    return strip_decoration(_headline(line))


def is_keyword_list(line: str) -> bool:
    """True when an answer is keywords in a row: three or more items of at most two words each ("a digital, mobile,
    gaming")."""
    items = [item.split() for item in line.split(",") if item.strip()]
    return len(items) >= 3 and all(len(words) <= 2 for words in items)


def repair_label(label: str, budget_hit: bool = False, max_words: int = MAX_LABEL_WORDS,
                 vocabulary: Optional[set[str]] = None) -> str:
    """Shorten ``label`` at a phrase boundary: drop a word the token budget cut (``budget_hit``) with its name, keep a
    clause's subject, cut over ``max_words`` before a preposition or conjunction (unless ``vocabulary`` holds every word
    of a label of up to ``LONG_LABEL_WORDS``), drop dangling words; ``""`` if only a stump is left."""
    words = label.split()
    given = len(words)
    if budget_hit and len(words) > 1:
        words = words[:outside_name(words)]
    verb = _finite_verb_at(words)
    if verb is not None and verb >= 2:
        words = words[:verb]
    whole = vocabulary is not None and len(words) <= LONG_LABEL_WORDS and not invented_words(
        " ".join(words), vocabulary=vocabulary)
    if len(words) > max_words and not whole:
        starts = [i for i, w in enumerate(words) if 2 <= i <= max_words and w.lower().strip(",;:") in _PHRASE_STARTS]
        if starts:
            words = words[: max(starts)]
    # after a cut, a possessive left owning nothing goes too; uncut, "Profits at Sainsbury's" is a name
    while len(words) > 1 and (words[-1].lower().strip(".,:;") in _DANGLING
                              or (len(words) < given and re.search(r"['’]s?$", words[-1]))):
        words.pop()
    if len(words) == 1 and words[0].lower().strip(".,:;") in _DANGLING:
        return ""  # a stump ("The"): the next candidate wins
    if len(words) == 2 < given and words[0].lower() in ("the", "a", "an") and words[1][:1].isupper() and verb is None:
        return ""  # a cut left an article and a lone name ("The England"): a stump
    return balanced(" ".join(words).rstrip(".,:;-–( ").strip())


def outside_name(words: list[str]) -> int:
    """How many of ``words`` to keep when the token budget cut the last: all but it, or, if it began a capitalized name,
    all before that name and the phrase holding it."""
    capital = lambda w: w.strip("\"'“”‘’(")[:1].isupper()  # noqa: E731
    opens = lambda w: w.lower().strip(",;:") in _PHRASE_STARTS  # noqa: E731
    ends = lambda w: w.rstrip()[-1:] in ":;,–-" or w in ("-", "–")  # noqa: E731
    end = len(words) - 1
    if not capital(words[end]) or opens(words[end]):
        return end
    start = end
    while start > 0 and capital(words[start - 1]) and not opens(words[start - 1]) and not ends(words[start - 1]):
        start -= 1
    back = start
    while back > 1 and not opens(words[back - 1]) and not ends(words[back - 1]):
        back -= 1
    return back - 1 if back > 1 and opens(words[back - 1]) else start


def balanced(text: str) -> str:
    """``text`` with its brackets closed or dropped: "Stock Exchange (LSE" -> "Stock Exchange (LSE)"."""
    opened = text.count("(") - text.count(")")
    if opened < 0:
        return text.replace(")", "", -opened).strip()
    return text + ")" * opened


def keywords_label(keywords: list[str], n: int = 4) -> str:
    """A fallback label from a topic's top keywords, e.g. "economy, growth, bank, rate"."""
    return ", ".join(k for k in keywords[:n] if k)


def budget_was_hit(answer: str, tokenizer, max_new_tokens: int) -> bool:
    """True when the token budget, not the end of a line or the model, ended ``answer``."""
    if tokenizer is None or "\n" in answer.strip():
        return False
    return len(tokenizer(answer, add_special_tokens=False).input_ids) >= max_new_tokens - 1
