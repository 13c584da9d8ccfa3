"""Helpers for the "Topic Modeling with Llama 2" notebook series.

One module per concern, each a handful of small documented functions:
``settings`` (profiles and knobs), ``data`` (corpora), ``llm`` (quantized loading),
``prompts`` (the labeling prompt), ``topics`` (embeddings and BERTopic),
``labels`` (clean LLM labels, batched labeling), ``plots`` (static topic map),
``auth`` (Hugging Face login) and ``run`` (the papermill runner).
"""

__version__ = "0.1.0"
