"""The notebooks' shared code for the "Topic Modeling with Llama 2" series, in the order the notebooks teach it.

Each function's docstring names the notebook that teaches its code or uses it. One module per concern:

- 00, setup: ``settings`` (the two profiles, knob by knob) and ``credentials`` (keys never shown or saved);
  ``machine`` (device, precision, versions, quiet logs: ``setup_notebook``); ``auth`` (Hugging Face login);
  ``data`` and ``formats`` (the packaged BBC News, your own files, Hub datasets); ``files`` (atomic writes);
  ``colab`` (Colab's fresh runtimes and Google Drive);
- 01, the LLM: ``llm`` (loading a chat LLM, quantized or not), ``packaged`` (the offline model's GGUF, converted
  once), ``memory`` (will it fit?), ``open_llm`` (the LLM a run's settings ask for: a model, a server, or replay),
  ``serving`` (an OpenAI-compatible chat server as the LLM);
- 02, the prompt: ``prompts`` (the reference's three parts, any chat template);
- 03, BERTopic: ``topics`` (cached embeddings, ``min_cluster_size``), ``embedding_server`` (an OpenAI-compatible
  embeddings server as the embedding model), ``labeler`` (our LLM labeler, one BERTopic representation, with its
  own README), ``labels`` (the label table, the labeler the settings ask for), ``runs`` (saving and loading a run);
  ``post_topics`` (the post's own six topics and Llama 2's labels, shown beside this run's);
- 04, plots: ``plots``; 05, evaluation: ``measures``, ``label_measures``, ``label_similarity`` (a label's words, two
  labels alike: shared with the labeler), ``evaluation``, ``comparison``;
- 06, refining: ``refine``.

What no notebook imports lives in ``tools/`` (the papermill runner, the Colab and editions builders, the servers
the tests start).
"""

__version__ = "0.1.0"
