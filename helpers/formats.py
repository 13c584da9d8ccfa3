"""Reading a local corpus file or folder for :func:`helpers.data.load_corpus` (notebook 03); errors name the file
and what to change."""

from __future__ import annotations

import codecs
from collections import Counter
from pathlib import Path
from typing import Optional

import pandas as pd

from .settings import PACKAGED_CORPUS

SUFFIXES = (".csv", ".tsv", ".parquet", ".jsonl", ".json", ".xlsx")
TABS = ("\t", "\\t", "tab")  # ways to write a tab


def decode(data: bytes, name: str, encoding: Optional[str] = None) -> tuple[str, str]:
    """``(text, encoding used)``: ``encoding`` when given, else UTF-8, else the detected one (Windows-1252 when
    it fits); raises ``ValueError`` naming the file and the bad byte."""
    if encoding:
        try:  # "utf-8" reads like "utf-8-sig": a BOM is not text
            return data.decode("utf-8-sig" if codecs.lookup(encoding).name == "utf-8" else encoding), encoding
        except LookupError:
            raise ValueError(f"Unknown encoding {encoding!r}; use e.g. 'utf-8', 'cp1252' or 'latin-1'.") from None
        except UnicodeDecodeError as error:
            raise ValueError(f"{name}: byte 0x{data[error.start]:02x} at offset {error.start} is not valid "
                             f"{encoding}. Set `encoding` to the one the file was saved in, or leave it out to "
                             f"detect it.") from None
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError as error:
        from charset_normalizer import from_bytes

        matches = from_bytes(data)
        best = next((m for m in matches if m.encoding == "cp1252"), matches.best())
        if best is None:
            raise ValueError(f"Cannot read {name}: byte 0x{data[error.start]:02x} at offset {error.start} is not "
                             f"UTF-8 and no other text encoding fits the file. Save it as UTF-8 text, or set "
                             f"`encoding` to the one it was written in (e.g. 'cp1252').") from None
        return str(best), best.encoding


def read_delimited(text: str, name: str, delimiter: Optional[str]) -> tuple[pd.DataFrame, str]:
    """``(table, delimiter used)`` of a CSV or TSV text; without ``delimiter``, the sniffed one or the first of
    ``,`` ``;`` tab ``|`` giving several columns."""
    import csv
    import io

    if delimiter in TABS:
        delimiter = "\t"
    if delimiter:
        tried = [delimiter]
    else:
        try:
            sniffed = csv.Sniffer().sniff(text[:65536], delimiters=",;\t|").delimiter
        except csv.Error:
            sniffed = None
        tried = list(dict.fromkeys([sniffed, ",", ";", "\t", "|"]))
    single, error = None, None
    for candidate in filter(None, tried):
        try:
            frame = pd.read_csv(io.StringIO(text), sep=candidate)
        except (pd.errors.ParserError, pd.errors.EmptyDataError) as failure:
            error = error or failure
            continue
        if delimiter or frame.shape[1] > 1:
            return frame, candidate
        single = single or (frame, candidate)
    if single:
        return single
    raise ValueError(f"Cannot read {name} as a table with columns separated by {' or '.join(map(repr, filter(None, tried)))} "
                     f"({str(error).strip()}). Set `delimiter` to the character between its columns.")


def read_json_lines(text: str, name: str, skip_bad_lines: bool = False) -> tuple[pd.DataFrame, list[int]]:
    """One JSON object per line; ``(table, numbers of the broken lines skipped)``."""
    import json

    rows, broken = [], []
    # not splitlines(): JSON strings may hold U+2028
    for number, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            if not isinstance(row, dict):
                raise json.JSONDecodeError("not an object with named fields", line, 0)
            rows.append(row)
        except json.JSONDecodeError as error:
            if not skip_bad_lines:
                raise ValueError(f"{name}, line {number}: not a JSON object ({error.msg}). Fix that line, or set "
                                 f"skip_bad_lines = True to skip broken lines (they are counted).") from None
            broken.append(number)
    return pd.DataFrame(rows), broken


def read_json(text: str, name: str) -> pd.DataFrame:
    """A JSON list of records, a mapping of columns, or one key holding a list of records."""
    import json

    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"{name}, line {error.lineno}, column {error.colno}: not valid JSON ({error.msg}). A file "
                         f"with one JSON object per line should end in .jsonl.") from None
    inner = next(iter(data.values())) if isinstance(data, dict) and len(data) == 1 else None
    if isinstance(inner, list) and inner and all(isinstance(row, dict) for row in inner):
        data = inner  # {"data": [{...}, ...]}
    if isinstance(data, list) and all(isinstance(row, dict) for row in data):
        return pd.DataFrame(data)
    if isinstance(data, dict) and all(isinstance(v, list) for v in data.values()):
        return pd.DataFrame(data)
    raise ValueError(f"{name}: expected a list of records ([{{\"text\": ...}}, ...]) or columns "
                     f"({{\"text\": [...]}}); found a JSON {type(data).__name__} of another shape.")


def read_excel(path: Path, sheet: Optional[str]) -> pd.DataFrame:
    """One sheet of an .xlsx workbook (the first unless ``sheet`` names one)."""
    sheets = pd.ExcelFile(path).sheet_names
    if sheet and sheet not in sheets:
        raise ValueError(f"{path.name} has no sheet {sheet!r}; its sheets: {', '.join(sheets)}. Set `sheet` to one "
                         f"of them.")
    return pd.read_excel(path, sheet_name=sheet or sheets[0])


def read_text_folder(root: Path, encoding: Optional[str], first_line_title: bool) -> tuple[pd.DataFrame, list[str]]:
    """A folder of ``.txt`` files, one document each (sub-folders become ``category``); the ``title`` is the first
    line when ``first_line_title``, else the file name."""
    files = sorted(root.rglob("*.txt"))
    if not files:
        raise ValueError(f"Folder {str(root)!r} holds no .txt files: put one document per .txt file in it "
                         f"(sub-folders become categories), or give a file as `dataset`.")
    rows, encodings = [], Counter()
    for path in files:
        text, used = decode(path.read_bytes(), str(path), encoding)
        encodings[used] += 1
        title, _, body = text.strip().partition("\n") if first_line_title else (path.stem, "", text)
        parts = path.relative_to(root).parts
        rows.append({"title": title.strip(), "abstract": " ".join(body.split()),
                     "category": parts[0] if len(parts) > 1 else None})
    frame = pd.DataFrame(rows)
    if frame.category.isna().all():
        frame = frame.drop(columns="category")
    used = ", ".join(f"{e} ({n:,} files)" for e, n in encodings.most_common())
    return frame, [f"Read {len(files):,} .txt files from {root.name}/ (encoding: {used})."]


def read_source(source: str, encoding: Optional[str] = None, delimiter: Optional[str] = None,
                sheet: Optional[str] = None, skip_bad_lines: bool = False,
                first_line_title: bool = False) -> tuple[pd.DataFrame, list[str]]:
    """A local file or folder as a table, with notes on how it was read; the reader is picked by suffix."""
    path = Path(source).expanduser()
    if not path.exists():
        raise FileNotFoundError(
            f"Dataset {str(path)!r} does not exist. Give an existing file ({', '.join(SUFFIXES)}) or a folder of "
            f".txt files as `dataset`, or {PACKAGED_CORPUS!r} for the packaged corpus."
        )
    if path.is_dir():
        return read_text_folder(path, encoding, first_line_title)
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        hint = " (an old Excel file: save it as .xlsx)" if suffix == ".xls" else ""
        raise ValueError(f"Cannot read {path.name!r}{hint}: supported are {', '.join(SUFFIXES)} files and folders "
                         f"of .txt files.")
    if suffix == ".parquet":
        return pd.read_parquet(path), [f"Read {path.name} (Parquet)."]
    if suffix == ".xlsx":
        return read_excel(path, sheet), [f"Read {path.name} (Excel, sheet {sheet or 'the first'})."]
    text, used = decode(path.read_bytes(), path.name, encoding)
    how = f"encoding {used}" + (" (detected: if letters look wrong, set `encoding`)" if used not in ("utf-8", encoding) else "")
    if suffix == ".jsonl":
        frame, broken = read_json_lines(text, path.name, skip_bad_lines)
        skipped = [f"Skipped {len(broken):,} broken lines of {path.name} (line {', '.join(map(str, broken[:5]))}"
                   f"{', ...' if len(broken) > 5 else ''})."] if broken else []
        return frame, [f"Read {path.name} (JSON Lines, {how})."] + skipped
    if suffix == ".json":
        return read_json(text, path.name), [f"Read {path.name} (JSON, {how})."]
    frame, used_delimiter = read_delimited(text, path.name, "\t" if suffix == ".tsv" and not delimiter else delimiter)
    return frame, [f"Read {path.name} (columns separated by {used_delimiter!r}, {how})."]
