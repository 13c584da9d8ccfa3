"""Our LLM labeler as one BERTopic representation model, laid out like ``bertopic/representation/``.

:class:`BatchedTextGeneration` labels every topic in batched, greedy calls and keeps an answer only
when the rubric passes it; use it wherever BERTopic's ``TextGeneration`` fits (README.md here). Its
parts: ``_batched`` (the class), ``_clean`` and ``_rubric`` (cleaning, repairing and judging an
answer), ``_facts`` (its numbers and names the documents' own, a subject named), ``_choice`` (one label per
topic, no two alike), ``_keyphrases``, ``_window``, ``_cache``.
"""

from ._batched import BatchedTextGeneration

__all__ = ["BatchedTextGeneration"]
