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
    assert corpus.attrs["notes"] == ["Dropped 2 empty or non-text documents."]


def test_missing_text_column_lists_the_columns_found(csv_corpus):
    with pytest.raises(KeyError, match=r"no text column 'abstract'. Columns found: text, headline, section"):
        load_corpus(str(csv_corpus))


def test_missing_file_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"Dataset file .*nope.csv' does not exist"):
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
    assert len(kept) == 3 and kept.attrs["notes"] == ["Kept 1 duplicate documents (set drop_duplicates = True to drop them)."]
    dropped = load_corpus(str(path), drop_duplicates=True)
    assert len(dropped) == 2 and dropped.attrs["notes"] == ["Dropped 1 duplicate documents."]
