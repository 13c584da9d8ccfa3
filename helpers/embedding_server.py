"""Embeddings from a server: any OpenAI-compatible ``/v1/embeddings`` endpoint (vLLM, TEI, Infinity) as notebook 03's
step 1, with ``embedding_backend = "openai"``. The API key is read from the variable ``embedding_api_key_env`` and
never leaves the client; the cache key holds the model, not the URL."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any, Optional, Sequence

import numpy as np

from bertopic.backend import BaseEmbedder

from .serving import OpenAIServer

BACKEND = "openai"


class EmbeddingServer(OpenAIServer, BaseEmbedder):
    """An OpenAI-compatible embeddings server in place of a ``SentenceTransformer`` (``encode``) and a BERTopic embedder
    (``embed``): batches of ``batch_size``, ``concurrency`` at a time, float32 vectors in the texts' order."""

    backend = BACKEND
    what, setting, route = "embedding", "embedding", "embeddings"
    start_hint = ("start one (e.g. `infinity_emb v2 --model-id <model folder> --port 7997`, or vLLM's or "
                  "text-embeddings-inference's server) or fix embedding_base_url")

    def __init__(self, base_url: str, model: str, api_key_env: str = "OPENAI_API_KEY", concurrency: int = 4,
                 batch_size: int = 32, retries: int = 4, timeout: float = 120.0):
        if concurrency < 1 or batch_size < 1:
            raise ValueError(f"embedding_concurrency and embedding_batch_size must be at least 1, got "
                             f"{concurrency} and {batch_size}.")
        super().__init__(base_url, model, api_key_env, retries, timeout)
        self.concurrency, self.batch_size = concurrency, batch_size
        self.checked = False  # encode calls check once before sending texts

    def check(self) -> str:
        """Check the server serves ``model`` (:meth:`ask_served`); returns a sentence saying it answers."""
        self.ask_served()
        self.checked = True
        return (f"Embedding server {self.shown_url} answers, serving {self.model}; batches of {self.batch_size}, "
                f"{self.concurrency} at a time")

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        """The vectors of one batch, in the order of ``texts``."""
        import openai

        try:
            reply = self.client.embeddings.create(model=self.model, input=list(texts), encoding_format="float")
        except openai.OpenAIError as error:
            raise self.explain(error) from None
        rows = sorted(reply.data, key=lambda item: item.index)
        if len(rows) != len(texts):
            raise RuntimeError(f"The embedding server at {self.shown_url} returned {len(rows)} vectors for "
                               f"{len(texts)} texts; check the server's log.")
        return np.asarray([row.embedding for row in rows], dtype=np.float32)

    def encode(self, sentences: Sequence[str] | str, show_progress_bar: bool = False, batch_size: Optional[int] = None,
               **_: Any) -> np.ndarray:
        """Embed like ``SentenceTransformer.encode``: one row per text, one vector for a single string. The first call
        runs :meth:`check`; on a failure the batches not started are cancelled and the explained error is raised."""
        single = isinstance(sentences, str)
        texts = [sentences] if single else list(sentences)
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        if not self.checked:
            self.check()
        size = batch_size or self.batch_size
        batches = [texts[i:i + size] for i in range(0, len(texts), size)]
        pool = ThreadPoolExecutor(max_workers=self.concurrency)
        try:
            results = pool.map(self.embed_batch, batches)
            if show_progress_bar:
                from tqdm.auto import tqdm

                results = tqdm(results, total=len(batches), desc="Batches", unit="batch")
            vectors = np.concatenate(list(results))
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
        return vectors[0] if single else vectors

    def embed(self, documents: Sequence[str], verbose: bool = False) -> np.ndarray:
        """BERTopic's ``BaseEmbedder.embed``: the same vectors as :meth:`encode`."""
        return self.encode(documents, show_progress_bar=verbose)


def open_embedding_server(base_url: str, model: str, api_key_env: str = "OPENAI_API_KEY", concurrency: int = 4,
                          batch_size: int = 32, **options: Any) -> EmbeddingServer:
    """An :class:`EmbeddingServer` for ``BERTopic(embedding_model=...)`` and notebook 03's ``sentence_model``; nothing
    is sent until it embeds or is checked."""
    return EmbeddingServer(base_url, model, api_key_env, concurrency, batch_size, **options)
