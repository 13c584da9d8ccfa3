"""Our LLM labeler, :class:`BatchedTextGeneration`: one BERTopic representation model (README.md here), in parts
``_batched`` (the class), ``_clean``, ``_rubric``, ``_facts``, ``_choice``, ``_keyphrases``, ``_memory``,
``_window`` and ``_cache``."""

from ._batched import BatchedTextGeneration

__all__ = ["BatchedTextGeneration"]
