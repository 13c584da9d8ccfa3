"""Shared code of the "Topic Modeling with Llama 2" notebooks; docstrings name the notebook that teaches or uses
their code.

- 00, setup: ``settings`` (the profiles), ``credentials``, ``machine`` (``setup_notebook``), ``auth`` (Hugging
  Face login), ``data`` and ``formats`` (corpora), ``files`` (atomic writes), ``colab``;
- 01, the LLM: ``llm``, ``packaged`` (the offline model), ``memory`` (will it fit?), ``open_llm`` (model, server
  or replay), ``serving`` (a chat server);
- 02, the prompt: ``prompts``;
- 03, BERTopic: ``topics``, ``embedding_server``, ``labeler`` (our LLM representation), ``labels``,
  ``runs`` (saving, loading a run), ``post_topics`` (the post's six topics);
- 04, plots: ``plots``; 05, evaluation: ``measures``, ``label_measures``, ``label_similarity``, ``evaluation``,
  ``comparison``; 06, refining: ``refine``.

What no notebook imports lives in ``tools/``.
"""

__version__ = "0.1.0"
