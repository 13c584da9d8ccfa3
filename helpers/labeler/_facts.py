"""What a label claims about its topic: its numbers and names must be the documents' own, and it must name a
subject, not a role, a broadcaster or one event (issue 35). One short rule per function; :func:`._rubric.label_failures`
and :func:`._choice.choose_label` apply them.
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
    """The words of ``document`` written capitalized and those written in lower case, away from a sentence's start,
    and the capitalized ones mostly followed by another capitalized word (a name's first word: "United States")."""
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
    """The share of the ``documents`` using ``word`` mid-sentence that write it capitalized ("Tory" 1.0, "party"
    about 0.3 in BBC politics, "campaigns" 0); with ``leads``, the share of those capitalizing it that mostly follow
    it with another capitalized word ("United" of "United States", not "Tory" of "Tory party"). 0 when unused."""
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
    """The proper names of two or more words that ``label`` shows: runs of capitalized words side by side (no stop
    word, possessive or clause break between them), one of them a name. In a label of mixed case ("The economic
    growth of the United States") every capitalized word after the first is a name; in an all-title-case one
    ("Labour's New Tory Party Campaigns") the ``documents`` say: a name is a word they mostly capitalize ("Tory"),
    and a run holds the words beside it they capitalize at least sometimes ("New", "Party"; not "Campaigns"), and
    the word after one they mostly follow with another name's word ("States" after "United")."""
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
    """Each number of ``label`` with the words it attaches to: "Windows 10" -> [["windows 10"]], "Chelsea's 2018"
    -> [["chelsea 2018"]], "The Best TV Show of 2022" -> [["2022"]] (a stop word beside it: the bare number)."""
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
    """The numbers (with the word they attach to: :func:`number_phrases`) and the names of two or more words
    (:func:`name_phrases`) of ``label`` that none of the ``documents`` (nor the other ``texts``: titles, the prompt)
    holds as a phrase: "Windows 10" and "2018" in 2004-05 news, "United States" where no document says it,
    "New Tory Party" in "Labour's New Tory Party Campaigns". The documents' casing says which words are names."""
    claims = number_phrases(label) + [[name] for name in name_phrases(label, documents)]
    pool = [f" {_joined_words(t)} " for t in [*documents, *texts] if t] if claims else []
    return [ways[0] for ways in claims if not any(f" {p} " in text for p in ways for text in pool)]


# Words that name a person's or a firm's role, and the broadcasters (the corpus's own: every BBC story is BBC's)
ROLE_WORDS = frozenset({
    "singer", "star", "actor", "actress", "player", "company", "firm", "group", "chief", "boss", "executive",
    "minister", "president", "manager", "coach", "leader", "spokesman", "analyst", "official", "people", "man",
    "woman", "fan", "artist", "musician", "band", "team", "director", "presenter", "chairman", "customer", "user",
})
BROADCASTERS = frozenset({"bbc", "itv", "cnn", "sky", "channel"})
_CHANNEL_WORDS = frozenset({"sport", "sports", "news", "online", "radio", "one", "two", "three", "four", "world",
                            "service", "website", "1", "2", "3", "4", "5"})


def names_no_subject(label: str) -> bool:
    """True when ``label`` names a role ("Singer", "Company", "Company chiefs") or a broadcaster ("BBC", "BBC
    Sport", "BBC News"), not what its documents are about: every content word is a role's, or the first names a
    broadcaster and the rest its channel or a role ("BBC licence fee" names a subject)."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    words = [w for w in words_of((label or "").replace("-", " ")) if w not in ENGLISH_STOP_WORDS]
    role = lambda w: bool(variants(w) & ROLE_WORDS)  # noqa: E731
    if not words:
        return False
    channel = all(w in _CHANNEL_WORDS or role(w) for w in words[1:])
    return all(map(role, words)) or (words[0] in BROADCASTERS and channel)


# ... and "The best/top" before at most a number and two words, the last a plural: "The Best TV Shows", "The top 10 films"
_JUDGMENT = re.compile(r"\b(?:of all time|ever|greatest|ultimate|of the (?:century|decade))\b"
                       r"|^\W*the\s+(?:best|top)\s+(?:\d+\s+)?(?:\w+\s+)?\w+s\s*$", re.IGNORECASE)


def names_a_judgment(label: str) -> bool:
    """True when ``label`` passes a verdict instead of naming a subject: "The Best Band of All Time", "The Best TV
    Show Ever", "The Game of the Century", "The Best TV Shows" (the 135M model's hype for music, television and
    video-game topics); an award's name ("Best film at the Oscars", "The Best Actor Oscar") or "The top-up fees",
    "The top rate of tax" is no verdict."""
    return bool(_JUDGMENT.search(label or ""))


_SIDES = re.compile(r"\S\s+(?:vs?\.?|versus)\s+\S", re.IGNORECASE)


def names_one_event(label: str) -> bool:
    """True when ``label`` names one match, two sides against each other ("The England vs. Ireland match in the
    Six Nations", "Man Utd v Arsenal"): one story of a topic, not its subject."""
    return bool(_SIDES.search(label or ""))
