import pandas as pd
import pytest

from helpers.data import load_corpus


def test_packaged_corpus_is_bbc_news_with_standard_columns():
    corpus = load_corpus()
    assert len(corpus) == 2225
    assert list(corpus.columns) == ["abstract", "title", "category"]
    assert corpus.category.value_counts().to_dict() == {
        "sports": 511, "business": 510, "politics": 417, "tech": 401, "entertainment": 386,
    }
    assert corpus.abstract.str.len().min() > 100


def test_sample_is_reproducible_by_seed():
    a = load_corpus(sample_size=50, seed=1)
    b = load_corpus(sample_size=50, seed=1)
    c = load_corpus(sample_size=50, seed=2)
    assert len(a) == 50 and a.title.tolist() == b.title.tolist() != c.title.tolist()


def test_local_csv_with_own_column_names_drops_empty_rows_and_says_so(csv_corpus):
    corpus = load_corpus(str(csv_corpus), text_column="text", title_column="headline", category_column="section")
    assert corpus.abstract.tolist() == ["Stocks rose today.", "Rain is expected."]
    assert corpus.title.tolist() == ["a", "c"]
    assert corpus.attrs["notes"] == ["Read mine.csv (columns separated by ',', encoding utf-8).",
                                     "Dropped 2 empty or non-text documents.",
                                     "Length in words: median 3, 90% of the documents under 3, longest 3."]


def test_missing_text_column_lists_the_columns_found(csv_corpus):
    with pytest.raises(KeyError, match=r"no text column 'abstract'. Columns found: text, headline, section"):
        load_corpus(str(csv_corpus))


def test_missing_file_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"Dataset .*nope.csv' does not exist. Give an existing file"):
        load_corpus(str(tmp_path / "nope.csv"))


def test_corpus_without_text_is_an_error(tmp_path):
    path = tmp_path / "empty.jsonl"
    path.write_text('{"abstract": ""}\n{"abstract": "  "}\n')
    with pytest.raises(ValueError, match="no non-empty text documents"):
        load_corpus(str(path))


def test_missing_title_falls_back_to_first_words(tmp_path):
    path = tmp_path / "t.parquet"
    import pandas as pd

    pd.DataFrame({"abstract": ["one two three four five six seven eight nine ten"]}).to_parquet(path)
    assert load_corpus(str(path)).title[0] == "one two three four five six seven eight"


def test_duplicates_are_counted_and_kept_or_dropped(tmp_path):
    import pandas as pd

    path = tmp_path / "dup.csv"
    pd.DataFrame({"abstract": ["same text", "same text", "other text"]}).to_csv(path, index=False)
    kept = load_corpus(str(path))
    assert len(kept) == 3 and "Kept 1 duplicate documents (set drop_duplicates = True to drop them)." in kept.attrs["notes"]
    dropped = load_corpus(str(path), drop_duplicates=True)
    assert len(dropped) == 2 and "Dropped 1 duplicate documents." in dropped.attrs["notes"]


# ---- your own data, as people have it (issue 16) ------------------------------------------
FRENCH = ["Un café à Zürich coûte 5 € aujourd'hui.", "Une question naïve sur l'économie.", "Les élèves étudient."]


def test_a_cp1252_spreadsheet_csv_is_detected_and_said(tmp_path):
    path = tmp_path / "excel-export.csv"
    path.write_bytes(pd.DataFrame({"text": FRENCH, "title": ["a", "b", "c"]}).to_csv(index=False).encode("cp1252"))
    corpus = load_corpus(str(path), text_column="text")
    assert corpus.abstract.tolist() == FRENCH
    assert "Read excel-export.csv (columns separated by ',', encoding cp1252 (detected: if letters look wrong, set " \
           "`encoding`))." in corpus.attrs["notes"]
    assert load_corpus(str(path), text_column="text", encoding="cp1252").abstract.tolist() == FRENCH


def test_utf8_with_a_bom_and_a_wrong_encoding_parameter(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes(pd.DataFrame({"text": FRENCH}).to_csv(index=False).encode("utf-8-sig"))
    assert load_corpus(str(path), text_column="text").abstract.tolist() == FRENCH, "the BOM is not in the column name"
    with pytest.raises(ValueError, match=r"bom.csv: byte 0x[0-9a-f]{2} at offset \d+ is not valid ascii. Set `encoding`"):
        load_corpus(str(path), text_column="text", encoding="ascii")
    with pytest.raises(ValueError, match="Unknown encoding 'latin-9000'"):
        load_corpus(str(path), text_column="text", encoding="latin-9000")


def test_bytes_no_encoding_fits_name_the_file_and_the_offset(tmp_path):
    path = tmp_path / "binary.csv"
    path.write_bytes(b"text\nfine line\n" + bytes(range(256)) * 20)
    with pytest.raises(ValueError, match=r"Cannot read binary.csv: byte 0x80 at offset 143 is not UTF-8 and no other "
                                         r"text encoding fits the file. Save it as UTF-8"):
        load_corpus(str(path), text_column="text")


def test_tsv_and_semicolon_files_are_sniffed_or_told(tmp_path):
    frame = pd.DataFrame({"text": ["one, two; three", "four, five", "six; seven"], "title": ["a", "b", "c"]})
    frame.to_csv(tmp_path / "data.tsv", sep="\t", index=False)
    assert load_corpus(str(tmp_path / "data.tsv"), text_column="text").abstract.tolist() == frame.text.tolist()
    frame.to_csv(tmp_path / "semi.csv", sep=";", index=False)
    corpus = load_corpus(str(tmp_path / "semi.csv"), text_column="text")
    assert corpus.abstract.tolist() == frame.text.tolist() and "separated by ';'" in corpus.attrs["notes"][0]
    frame.to_csv(tmp_path / "tabs.csv", sep="\t", index=False)
    assert load_corpus(str(tmp_path / "tabs.csv"), text_column="text", delimiter="\\t").title.tolist() == ["a", "b", "c"]


def test_a_broken_json_lines_row_is_named_or_skipped_and_counted(tmp_path):
    path = tmp_path / "export.jsonl"
    path.write_text('{"abstract": "first document"}\n{"abstract": nul}\n{"abstract": "third document"}\n[1, 2]\n')
    with pytest.raises(ValueError, match=r"export.jsonl, line 2: not a JSON object \(Expecting value\). Fix that line, "
                                         r"or set skip_bad_lines = True"):
        load_corpus(str(path))
    corpus = load_corpus(str(path), skip_bad_lines=True)
    assert corpus.abstract.tolist() == ["first document", "third document"]
    assert "Skipped 2 broken lines of export.jsonl (line 2, 4)." in corpus.attrs["notes"]


def test_json_records_columns_and_a_wrapped_list(tmp_path):
    import json

    for shape in ([{"abstract": t} for t in FRENCH], {"abstract": FRENCH}, {"data": [{"abstract": t} for t in FRENCH]}):
        (tmp_path / "d.json").write_text(json.dumps(shape), encoding="utf-8")
        assert load_corpus(str(tmp_path / "d.json")).abstract.tolist() == FRENCH
    (tmp_path / "d.json").write_text('{"abstract": ["a",\n "b",]}')
    with pytest.raises(ValueError, match=r"d.json, line 2, column 6: not valid JSON"):
        load_corpus(str(tmp_path / "d.json"))
    (tmp_path / "d.json").write_text('"just text"')
    with pytest.raises(ValueError, match=r"d.json: expected a list of records"):
        load_corpus(str(tmp_path / "d.json"))


def test_an_excel_sheet_by_name(tmp_path):
    path = tmp_path / "book.xlsx"
    with pd.ExcelWriter(path) as writer:
        pd.DataFrame({"notes": ["x"]}).to_excel(writer, sheet_name="Readme", index=False)
        pd.DataFrame({"text": FRENCH, "section": ["a", "b", "a"]}).to_excel(writer, sheet_name="Articles", index=False)
    corpus = load_corpus(str(path), text_column="text", category_column="section", sheet="Articles")
    assert corpus.abstract.tolist() == FRENCH and corpus.category.tolist() == ["a", "b", "a"]
    with pytest.raises(ValueError, match=r"book.xlsx has no sheet 'Sheet1'; its sheets: Readme, Articles. Set `sheet`"):
        load_corpus(str(path), text_column="text", sheet="Sheet1")
    with pytest.raises(KeyError, match=r"book.xlsx has no text column 'text'. Columns found: notes"):
        load_corpus(str(path), text_column="text")
    (tmp_path / "old.xls").write_bytes(b"\xd0\xcf\x11\xe0")
    with pytest.raises(ValueError, match=r"old Excel file: save it as .xlsx"):
        load_corpus(str(tmp_path / "old.xls"))


def test_a_folder_of_txt_files_with_sub_folders_as_categories(tmp_path):
    root = tmp_path / "articles"
    for category, texts in (("food", FRENCH[:2]), ("school", FRENCH[2:])):
        (root / category).mkdir(parents=True)
        for i, text in enumerate(texts):
            (root / category / f"{i}.txt").write_bytes(f"Headline {category} {i}\n{text}\n".encode("cp1252"))
    corpus = load_corpus(str(root), first_line_title=True)
    assert sorted(corpus.abstract) == sorted(FRENCH)
    assert sorted(corpus.title) == ["Headline food 0", "Headline food 1", "Headline school 0"]
    assert sorted(corpus.category) == ["food", "food", "school"]
    assert "Read 3 .txt files from articles/ (encoding: cp1252 (3 files))." in corpus.attrs["notes"]
    plain = load_corpus(str(root / "food"))
    assert plain.title.tolist() == ["0", "1"] and plain.abstract[0].startswith("Headline food 0")
    assert "category" not in plain
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match=r"holds no .txt files: put one document per .txt file in it"):
        load_corpus(str(tmp_path / "empty"))


def test_most_documents_longer_than_the_window_are_warned_about():
    from helpers.data import truncation_note
    from helpers.topics import load_embedding_model

    model = load_embedding_model("packaged:all-MiniLM-L6-v2")
    long_docs = ["word " * 400] * 6 + ["short text"] * 4
    note = truncation_note(model, long_docs)
    assert note.startswith("60% of the documents are longer than the embedding model's window of 256 tokens")
    assert truncation_note(model, ["short text"] * 10) is None
    capped = load_embedding_model("packaged:all-MiniLM-L6-v2", max_tokens=128)
    article = " ".join(f"The {n} council voted on the budget of the {n} district." for n in range(40))
    first = capped.tokenizer.decode(capped.tokenizer(article)["input_ids"][1:127])  # 128 with [CLS] and [SEP]
    same, whole = (float(capped.encode([article], normalize_embeddings=True)[0]
                         @ model.encode([text], normalize_embeddings=True)[0]) for text in (first, article))
    assert same > 0.999 > whole, "the capped model embeds the first 128 tokens, the whole window more"
    assert truncation_note(capped, long_docs, capped=128).startswith(
        "60% of the documents are longer than 128 tokens, and embedding_max_tokens = 128: only their first 128 tokens")
    assert load_embedding_model("packaged:all-MiniLM-L6-v2", max_tokens=0).max_seq_length == 256


# ---- issue 25, items 13 and 14 -------------------------------------------------------------
def test_json_lines_keep_line_and_paragraph_separators_inside_their_strings(tmp_path):
    """JSON allows U+2028, U+2029 and U+0085 raw inside a string; only "\\n" ends a JSON Lines record."""
    import json

    texts = ["First line\u2028second line of one document.", "A\u0085b\u2029c: still one document.", "Plain."]
    path = tmp_path / "docs.jsonl"
    path.write_text("\r\n".join(json.dumps({"text": t}, ensure_ascii=False) for t in texts) + "\n", encoding="utf-8")
    corpus = load_corpus(str(path), text_column="text")
    assert len(corpus) == 3 and "\u2028" in "".join(corpus.abstract)


@pytest.mark.parametrize("encoding", ["utf-8", "UTF8", "utf_8"])
@pytest.mark.parametrize("shape", [".jsonl", ".json", "folder"])
def test_a_forced_utf8_encoding_drops_the_byte_order_mark(tmp_path, encoding, shape):
    """Windows tools write UTF-8 with a BOM; ``encoding = "utf-8"`` must not keep it as text."""
    import json

    rows = [{"text": t, "title": f"t{i}"} for i, t in enumerate(FRENCH)]
    bom = "\ufeff".encode("utf-8")
    if shape == "folder":
        path = tmp_path / "texts"
        path.mkdir()
        for row in rows:
            (path / f"{row['title']}.txt").write_bytes(bom + f"{row['text']}".encode("utf-8"))
        corpus = load_corpus(str(path), encoding=encoding)
    else:
        path = tmp_path / f"docs{shape}"
        text = "\n".join(json.dumps(r, ensure_ascii=False) for r in rows) if shape == ".jsonl" else json.dumps(rows)
        path.write_bytes(bom + text.encode("utf-8"))
        corpus = load_corpus(str(path), text_column="text", encoding=encoding)
    assert sorted(corpus.abstract) == sorted(FRENCH)
    assert not any("\ufeff" in t for t in [*corpus.abstract, *corpus.title])
