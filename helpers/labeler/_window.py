"""Prompts cut to the model's window (prompt and answer together) by shortening their documents, longest first."""

from __future__ import annotations

import re
from typing import Optional, Sequence

from ..prompts import fill_prompt


def context_window(generator) -> Optional[int]:
    """The most tokens ``generator``'s model reads: the smaller of its tokenizer's ``model_max_length`` (under 1e6)
    and its ``max_position_embeddings``; ``None`` when neither says (a chat server)."""
    tokenizer = getattr(generator, "tokenizer", None)
    config = getattr(getattr(generator, "model", None), "config", None)
    limits = [getattr(tokenizer, "model_max_length", None), getattr(config, "max_position_embeddings", None),
              getattr(generator, "max_position_embeddings", None)]
    limits = [int(n) for n in limits if isinstance(n, (int, float)) and 0 < n < 1e6]
    return min(limits) if limits else None


def _water_level(lengths: Sequence[int], budget: int) -> int:
    """The largest ``c`` with ``sum(min(n, c) for n in lengths) <= budget``."""
    low, high = 0, max(lengths, default=0)
    while low < high:
        mid = (low + high + 1) // 2
        low, high = (mid, high) if sum(min(n, mid) for n in lengths) <= budget else (low, mid - 1)
    return low if budget > 0 else 0


def _first_tokens(tokenizer, text: str, n: int) -> str:
    """``text`` cut to its first ``n`` tokens, at the end of a whole word."""
    encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=bool(getattr(tokenizer, "is_fast", 0)))
    if len(encoded.input_ids) <= n:
        return text
    if n == 0:
        return ""
    if "offset_mapping" in encoded:
        end = encoded.offset_mapping[n - 1][1]
        kept = text[:end] if text[end:end + 1].isspace() else re.sub(r"\S*$", "", text[:end])
    else:
        kept = re.sub(r"\S*$", "", tokenizer.decode(encoded.input_ids[: n + 1], skip_special_tokens=True))
    return kept.rstrip()


def fit_to_window(template: str, documents: Sequence[str], keywords: Sequence[str], tokenizer,
                  limit: Optional[int]) -> tuple[str, int]:
    """``template`` filled (:func:`fill_prompt`) and cut to at most ``limit`` tokens, and the number of tokens cut.
    Only the documents are shortened, to whole words; uncut without ``tokenizer`` or ``limit``. Raises
    ``ValueError`` when the prompt without its documents is already over ``limit``."""
    prompt = fill_prompt(template, list(documents), list(keywords))
    if tokenizer is None or limit is None:
        return prompt, 0
    count = lambda text: len(tokenizer(text, add_special_tokens=False).input_ids)  # noqa: E731
    full = size = count(prompt)
    lengths = [count(d) for d in documents]
    budget = sum(lengths) - (full - limit)  # tokens the documents may keep
    while size > limit:
        level = _water_level(lengths, budget)
        prompt = fill_prompt(template, [_first_tokens(tokenizer, d, level) for d in documents], list(keywords))
        size = count(prompt)
        if size > limit and level == 0:
            raise ValueError(f"This prompt has {size} tokens without its documents, over the model's window of "
                             f"{limit} (less the answer's tokens): shorten the prompt, or lower label_max_new_tokens.")
        budget -= max(size - limit, 0)  # joined text tokenizes slightly differently
    return prompt, full - size
