"""Helpers for the "Topic Modeling with Llama 2" notebook series: the plumbing the notebooks do not teach.

One module per concern:

- ``settings``: the two profiles and knob-by-knob overrides; ``machine``: device, precision, versions, quiet logs;
- ``auth``: Hugging Face login without showing a token; ``colab``: Colab's fresh runtimes and Google Drive;
- ``data``: corpora (packaged BBC News, local files, Hub datasets); ``files``: writing files atomically;
- ``llm``: loading a chat LLM, quantized or not; ``serving``: an OpenAI-compatible chat server as the LLM;
- ``embedding_server``: an OpenAI-compatible embeddings server as the embedding model;
- ``prompts``: the labeling prompt (the reference's three parts, any chat template);
- ``topics``: cached embeddings, ``min_cluster_size``, saving and loading a run;
- ``batched_generation``: ``BatchedTextGeneration``, our LLM representation (one file, as BERTopic's are);
- ``window``: prompts cut to the model's window;
- ``rubric``: cleaning, repairing and judging an LLM answer; ``keyphrases``: each topic's key phrases;
- ``labels``: choosing one label per topic and the label table; ``answer_cache``: LLM answers replayed from disk;
- ``distinct``: no two topics of a run named alike; ``label_measures``: label measures the choice never used;
- ``labeler``: the labeler a run's settings ask for (a model, a server, or replay);
- ``measures``: NPMI, diversity, faithfulness, agreement, one function each; ``evaluation``: a run's evaluation;
- ``comparison``: evaluations as tables, two runs side by side; ``plots``: static maps and metric panels;
- ``refine``: notebook 06's edited labels; ``run``: the papermill runner; ``overwrite``: its ``--overwrite`` swap.
"""

__version__ = "0.1.0"
