"""A label's claims: its numbers and names must be the documents' own, and it must name a subject, not a role, a
broadcaster or one event (rules :mod:`._rubric` and :mod:`._choice` apply).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Sequence

from ._rubric import _PHRASE_STARTS, _joined_words, variants, words_of

NAME_SHARE, SOMETIMES_NAME = 0.5, 0.1  # a word the documents capitalize mid-sentence in over half / a tenth of them
_TOKEN = re.compile(r"[A-Za-z0-9]+(?:['’][A-Za-z]+)*")
_SENTENCE_END = re.compile(r"[.!?:;\"“”\n]")


@lru_cache(maxsize=50_000)
def _casing(document: str) -> tuple[frozenset, frozenset, frozenset]:
    """Words of ``document`` capitalized and lowercased mid-sentence, and capitalized ones mostly followed by a capital
    (a name's first word)."""
    capital, lower, followed, end, last = set(), set(), {}, None, None
    for m in _TOKEN.finditer(document):
        gap = document[end:m.start()] if end is not None else ""
        starts = end is None or _SENTENCE_END.search(gap) is not None
        if last is not None:  # the capitalized word before this one: is it followed by a capital?
            followed.setdefault(last, []).append(gap == " " and m.group()[0].isupper())
        end, last = m.end(), None
        if not starts and m.group()[0].isalpha():
            word = words_of(m.group())[0]
            (capital if m.group()[0].isupper() else lower).add(word)
            last = word if m.group()[0].isupper() and not re.search(r"['’]", m.group()) else None
    leads = {w for w, after in followed.items() if 2 * sum(after) > len(after)}
    return frozenset(capital), frozenset(lower), frozenset(leads)


def name_share(word: str, documents: Sequence[str], leads: bool = False) -> float:
    """Share of the ``documents`` using ``word`` mid-sentence that capitalize it (0 if none); with ``leads``, of those
    that mostly follow it with a capital ("United" of "United States")."""
    capital = other = 0
    for document in documents:
        caps, lows, firsts = _casing(document)
        named, unnamed = (firsts, caps - firsts) if leads else (caps, lows)
        capital, other = capital + (word in named), other + (word in unnamed)
    return capital / (capital + other) if capital + other else 0.0


def _capital(token: str) -> bool:
    token = token.strip("\"'“”‘’()[]")
    return token[:1].isupper() and not token.isupper()  # an acronym ("TV", "BBC") is capitalized whatever it names


def name_phrases(label: str, documents: Sequence[str]) -> list[str]:
    """The proper names of two or more words in ``label``: runs of capitalized words, one a name; in an all-title-case
    label the ``documents``' casing says which words are names."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    tokens = label.split()
    words = [words_of(t) for t in tokens]
    content = [i for i, w in enumerate(words) if w and not set(w) <= ENGLISH_STOP_WORDS]
    title_case = all(tokens[i].strip("\"'“”‘’()[]")[:1].isupper() for i in content)
    rank = [0] * len(tokens)  # 2: a name, 1: a word the documents capitalize sometimes
    for i in content:
        if _capital(tokens[i]) and not set(words[i]) & _PHRASE_STARTS:
            shares = [1.0] if i and not title_case else [name_share(w, documents) for w in words[i]]
            rank[i] = 2 if max(shares) > NAME_SHARE else 1 if min(shares) >= SOMETIMES_NAME else 0
            if title_case and not rank[i] and i - 1 in content and rank[i - 1] == 2 and _capital(tokens[i]) and \
                    name_share(words[i - 1][-1], documents, leads=True) > NAME_SHARE:
                rank[i] = 1  # the word after a name's first word ("States" after "United") is of the name
    runs, run = [], []
    for i, token in enumerate(tokens + [""]):
        if rank[i:i + 1] == [0] or i == len(tokens) or (run and re.search(r"(['’]s?|[:;,–-])$", tokens[run[-1]])):
            runs += [run] if len(run) > 1 and max(rank[j] for j in run) == 2 else []
            run = []
        if i < len(tokens) and rank[i]:
            run.append(i)
    return [" ".join(w for j in run for w in words[j]) for run in runs]


def number_phrases(label: str) -> list[list[str]]:
    """Each number of ``label`` with the words beside it ("Windows 10" -> [["windows 10"]]), bare beside a stop word."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    words = words_of(label.replace("-", " "))
    found = []
    for i, word in enumerate(words):
        if any(c.isdigit() for c in word):
            beside = [" ".join(p) for p in (words[max(i - 1, 0):i + 1] if i else [], words[i:i + 2])
                      if len(p) == 2 and not set(p) & ENGLISH_STOP_WORDS]
            found.append(beside or [word])
    return found


def invented_facts(label: str, documents: Sequence[str], texts: Sequence[str] = ()) -> list[str]:
    """The numbers and multi-word names of ``label`` that no ``documents`` nor other ``texts`` (titles, the prompt) hold
    as a phrase, e.g. "Windows 10" in 2004-05 news."""
    claims = number_phrases(label) + [[name] for name in name_phrases(label, documents)]
    pool = [f" {_joined_words(t)} " for t in [*documents, *texts] if t] if claims else []
    return [ways[0] for ways in claims if not any(f" {p} " in text for p in ways for text in pool)]


# Words that name a role, and the broadcasters (every BBC story is BBC's)
ROLE_WORDS = frozenset({
    "singer", "star", "actor", "actress", "player", "company", "firm", "group", "chief", "boss", "executive",
    "minister", "president", "manager", "coach", "leader", "spokesman", "analyst", "official", "people", "man",
    "woman", "fan", "artist", "musician", "band", "team", "director", "presenter", "chairman", "customer", "user",
})
BROADCASTERS = frozenset({"bbc", "itv", "cnn", "sky", "channel"})
_CHANNEL_WORDS = frozenset({"sport", "sports", "news", "online", "radio", "one", "two", "three", "four", "world",
                            "service", "website", "1", "2", "3", "4", "5"})


def names_no_subject(label: str) -> bool:
    """True when ``label`` names only a role or a broadcaster ("BBC Sport"), not a subject."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    words = [w for w in words_of((label or "").replace("-", " ")) if w not in ENGLISH_STOP_WORDS]
    role = lambda w: bool(variants(w) & ROLE_WORDS)  # noqa: E731
    if not words:
        return False
    channel = all(w in _CHANNEL_WORDS or role(w) for w in words[1:])
    return all(map(role, words)) or (words[0] in BROADCASTERS and channel)


# A verdict word, or "The best/top" before at most a number and two words, the last a plural ("The top 10 films")
_JUDGMENT = re.compile(r"\b(?:of all time|ever|greatest|ultimate|of the (?:century|decade))\b"
                       r"|^\W*the\s+(?:best|top)\s+(?:\d+\s+)?(?:\w+\s+)?\w+s\s*$", re.IGNORECASE)


def names_a_judgment(label: str) -> bool:
    """True when ``label`` is a verdict ("The Best Band of All Time"), not a subject; an award's name is none."""
    return bool(_JUDGMENT.search(label or ""))


_SIDES = re.compile(r"\S\s+(?:vs?\.?|versus)\s+\S", re.IGNORECASE)


def names_one_event(label: str) -> bool:
    """True when ``label`` names one match ("Man Utd v Arsenal"): one story, not the topic's subject."""
    return bool(_SIDES.search(label or ""))
