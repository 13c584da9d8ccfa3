"""A run folder: what notebook 03 saves and 04-07 load, and which of its settings a session takes (never its
servers, key variables or cache folder)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

import numpy as np
import pandas as pd

from .files import atomic_folder, atomic_write
from .machine import quiet_noisy_loggers
from .settings import PACKAGED_EMBEDDINGS, PACKAGED_LLM
from .topics import open_embedding_model

RUN_FORMAT_VERSION = 3  # 2: labels.csv has source, confidence, the rubric's verdict; 3: no embedding-model pointer

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
    settings: Any,
    embedding_model_name: Optional[str] = None,
    prompt=None,
    tables: Optional[dict[str, pd.DataFrame]] = None,
    **more: Any,
) -> dict[str, Path]:
    """Write ``topic_model/`` (safetensors), ``topics.csv``, ``labels.csv``, ``documents.parquet``, ``settings.json``
    (with ``more``), ``prompt`` and ``tables`` into ``run_dir``, atomically (notebooks 03 and 06)."""
    from .prompts import LABELS_PROMPT_FILE, save_prompt
    from .settings import as_dict

    settings = {**(settings if isinstance(settings, dict) else as_dict(settings)), **more}
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    model_dir = run_dir / "topic_model"
    # not even a Hub id: BERTopic.load would download the model a folder names
    quiet_noisy_loggers()  # BERTopic warns that no embedding model is saved: on purpose
    atomic_folder(model_dir, lambda tmp: topic_model.save(
        str(tmp), serialization="safetensors", save_ctfidf=True, save_embedding_model=False))
    documents = corpus.assign(topic=topic_model.topics_, x=coords[:, 0], y=coords[:, 1])
    paths = {
        "topics": atomic_write(run_dir / "topics.csv", lambda t: topics_table(topic_model).to_csv(t, index=False)),
        "labels": atomic_write(run_dir / "labels.csv", lambda t: labels.to_csv(t, index=False)),
        "documents": atomic_write(run_dir / "documents.parquet", lambda t: documents.to_parquet(t, index=False)),
        "settings": atomic_write(  # last: it names the topic model and documents saved with it
            run_dir / "settings.json",
            lambda t: Path(t).write_text(json.dumps({**run_record(settings), "saved_together": saved_together(run_dir)},
                                                    indent=2)),
        ),
        "topic_model": model_dir,
    }
    if prompt is not None:
        paths["prompt"] = save_prompt(run_dir, prompt, LABELS_PROMPT_FILE)
    for name, table in (tables or {}).items():
        paths[name] = atomic_write(run_dir / name, lambda t, table=table: table.to_csv(t, index=False))
    return paths


def run_record(settings: dict[str, Any]) -> dict[str, Any]:
    """What ``settings.json`` holds: the settings, ``precision_resolved`` and library ``versions`` (for notebook 05)."""
    from .machine import package_versions, resolve_precision

    return {"format_version": RUN_FORMAT_VERSION, **settings,
            "precision_resolved": resolve_precision(settings.get("precision") or "auto"),
            "versions": package_versions()}


def saved_together(run_dir: Path) -> str:
    """A hash of ``topic_model/`` and ``documents.parquet`` that tells a save cut short."""
    from .topics import content_key

    files = sorted((run_dir / "topic_model").rglob("*")) + [run_dir / "documents.parquet"]
    return content_key(*[part for p in files if p.is_file() for part in (p.relative_to(run_dir).as_posix(), p.read_bytes())])


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
    settings = read_json_object(run_dir / "settings.json", "re-run notebook 03 into a new run_dir.")
    if settings.get("format_version") != RUN_FORMAT_VERSION:
        raise ValueError(
            f"Run folder {str(run_dir)!r} was written by another version of this series "
            f"(format {settings.get('format_version')!r}, this one reads {RUN_FORMAT_VERSION}). "
            f"Re-run notebook 03 into a new run_dir."
        )
    if "saved_together" in settings and settings["saved_together"] != saved_together(run_dir):
        raise ValueError(f"Run folder {str(run_dir)!r} holds the topic model or documents of another save than its "
                         f"settings.json (a save of notebook 03 or 06 was cut short): re-run notebook 03 into a new "
                         f"run_dir.")
    return settings


def read_json_object(path: Path, what_to_do: str) -> dict[str, Any]:
    """The JSON object in ``path``; anything else is a one-sentence ValueError ending in ``what_to_do``."""
    try:
        value = json.loads(path.read_text(encoding="utf-8") or "{}")
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ValueError(f"{path} is not readable JSON (cut short or edited by hand): {what_to_do}") from None
    if not isinstance(value, dict):
        raise ValueError(f"{path} holds a JSON {type(value).__name__}, not the object this series writes: {what_to_do}")
    return value


UNSAFE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".joblib", ".npy")  # formats that can hold pickles


def safe_model_folder(path: Path) -> Path:
    """``path`` if it is a BERTopic safetensors folder with nothing to unpickle and no embedding model named;
    else a one-sentence ValueError (a folder must never run code or choose a download)."""
    path = Path(path)
    unsafe = path.is_symlink() or not path.is_dir() or not (path / "topic_embeddings.safetensors").is_file()
    if not unsafe:
        unsafe = any(p.suffix.lower() in UNSAFE_SUFFIXES or p.is_symlink() for p in path.rglob("*"))
    if unsafe:
        raise ValueError(f"{path} is not a safetensors topic-model folder (a pickle or torch weights would run code "
                         f"when loaded), so it is not loaded: open only run folders notebook 03 wrote, or re-run 03.")
    config = path / "config.json"
    if config.is_file() and read_json_object(config, "re-run notebook 03 into a new run_dir.").get("embedding_model"):
        raise ValueError(f"{path} names an embedding model in its config.json, which BERTopic.load would download and "
                         f"load, so it is not loaded: open only run folders notebook 03 wrote, or re-run 03.")
    return path


# Never read from a run folder (its settings.json could send your key and documents to another server).
SESSION_ONLY = ("embedding_base_url", "embedding_api_key_env", "embedding_concurrency", "embedding_batch_size",
                "llm_base_url", "llm_api_key_env", "llm_concurrency", "cache_dir")
# This machine's own: replaying recorded answers, how many prompts fit in memory at once.
MACHINE_BOUND = ("replay_only", "label_batch_size")
PACKAGED = {"embedding": PACKAGED_EMBEDDINGS, "llm": PACKAGED_LLM}


def check_same_models(saved: dict[str, Any], session, kinds: tuple[str, ...], run_dir: Any = "") -> None:
    """Refuse, in one sentence, a run folder whose ``embedding``/``llm`` backend or model differs from this
    session's (the packaged models may differ)."""
    for kind in kinds:
        backend, mine = saved.get(f"{kind}_backend") or getattr(type(session), f"{kind}_backend"), \
            getattr(session, f"{kind}_backend")
        if backend != mine:
            raise ValueError(
                f"Run folder {str(run_dir)!r} was made with {kind}_backend {backend!r} and this session's is {mine!r}: "
                f"pass -p {kind}_backend {backend}" + (f" with -p {kind}_base_url <your server>" if backend == "openai"
                                                       else "") + " to open it, since a run folder never chooses a "
                "server, a key variable or a model download for you.")
        model, wanted = saved.get(f"{kind}_model"), getattr(session, f"{kind}_model")
        if model != wanted and not (model == PACKAGED[kind] and backend != "openai"):
            raise ValueError(
                f"Run folder {str(run_dir)!r} was made with the {kind} model {str(model)[:80]!r} and this session's "
                f"is {wanted!r}: pass -p {kind}_model <that model> (or its profile) to open it, since a run folder "
                f"never chooses a server, a key variable or a model download for you.")


def session_settings(saved: Any, session=None, kinds: tuple[str, ...] = ("embedding",), run_dir: Any = ""):
    """Settings to open a run folder with (notebook 07): the folder's (``saved``: a dict or the folder), checked
    against ``session`` (default: its profile), with :data:`SESSION_ONLY` and :data:`MACHINE_BOUND` from ``session``."""
    from .settings import knob_names, resolve_settings

    if not isinstance(saved, dict):
        run_dir, saved = saved, read_run_settings(Path(saved))

    profile = saved.get("profile", "offline")
    session = session if session is not None else resolve_settings(profile)
    check_same_models(saved, session, kinds, run_dir)
    mine = SESSION_ONLY + MACHINE_BOUND
    knobs = {k: v for k, v in saved.items() if k in knob_names() and k not in mine and v is not None}
    knobs.setdefault("embedding_max_tokens", 0)  # missing or 0: the model's own window
    ours = {k: getattr(session, k) for k in mine}
    for kind in ("embedding", "llm"):  # unused by the notebook: this session's (04, 05: no LLM)
        if kind not in kinds:
            ours |= {f"{kind}_backend": getattr(session, f"{kind}_backend"), f"{kind}_model": getattr(session, f"{kind}_model")}
    return resolve_settings(profile, **{**knobs, **{k: v for k, v in ours.items() if v is not None}})


def load_results(run_dir: Path, settings=None, embedding_model=None) -> dict[str, Any]:
    """Read back and check what :func:`save_results` wrote, with this session's embedding model (loaded unless
    given); ``"settings"`` is the folder's, ``"session"`` the settings to continue with."""
    run_dir = Path(run_dir)
    saved = read_run_settings(run_dir)
    model_dir = safe_model_folder(run_dir / "topic_model")  # checked before anything is loaded
    session = session_settings(saved, settings, ("embedding",), run_dir)
    from bertopic import BERTopic

    if embedding_model is None:  # loaded here, or this session's server
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
