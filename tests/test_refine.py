"""Notebook 06's plumbing: your labels through a merge, the hierarchy's groups, edited-label errors."""

import numpy as np
import pandas as pd
import pytest

from helpers.refine import carry_labels, hierarchy_groups, read_edited_labels

LABELS = pd.DataFrame({"topic": [-1, 0, 1, 2], "label": ["Outliers", "Economy", "Football", "Films"]})


def test_edited_labels_are_the_rows_you_changed(tmp_path):
    LABELS.assign(label=["Outliers", "Money matters", "Football", ""]).to_csv(tmp_path / "mine.csv", index=False)
    assert read_edited_labels(tmp_path / "mine.csv", LABELS) == {0: "Money matters"}
    pd.DataFrame({"topic": [7], "label": ["x"]}).to_csv(tmp_path / "other.csv", index=False)
    with pytest.raises(ValueError, match=r"names topics this run does not have: \[7\]"):
        read_edited_labels(tmp_path / "other.csv", LABELS)
    with pytest.raises(FileNotFoundError, match="copy labels_to_edit.csv from the run folder"):
        read_edited_labels(tmp_path / "missing.csv", LABELS)


def test_a_topic_cell_that_is_no_number_is_one_sentence_naming_its_line_and_blank_rows_are_skipped(tmp_path):
    (tmp_path / "mine.csv").write_text("topic,label\n0,Money matters\n,\nfootball,Sport\n")
    with pytest.raises(ValueError, match=r"mine.csv line 4 has the topic 'football', not a topic number: keep the "
                                         r"topic column as labels_to_edit.csv wrote it"):
        read_edited_labels(tmp_path / "mine.csv", LABELS)
    (tmp_path / "mine.csv").write_text("topic,label\n0,Money matters\n,\n")
    assert read_edited_labels(tmp_path / "mine.csv", LABELS) == {0: "Money matters"}


def test_a_merged_topic_keeps_the_label_of_its_largest_named_topic():
    mapping = {0: 0, 1: 0, 2: 1, 3: 2}
    assert carry_labels({1: "Small", 0: "Large", 3: "Kept"}, mapping, {0: 90, 1: 10, 2: 5, 3: 7}) == {0: "Large", 2: "Kept"}


def test_an_inner_node_prompt_takes_both_children_in_turn():
    documents = pd.DataFrame({"abstract": [f"doc {i}" for i in range(10)], "title": [f"t{i}" for i in range(10)],
                              "topic": [0, 0, 0, 0, 1, 1, 1, 2, 2, 3]})
    hierarchy = pd.DataFrame({"Parent_ID": ["4", "5"], "Parent_Name": ["a_b_c", "a_d_e"], "Topics": [[0, 1, 2], [0, 1, 2, 3]],
                              "Child_Left_ID": ["0", "4"], "Child_Right_ID": ["6", "3"], "Distance": [0.5, 0.9]})
    hierarchy = pd.concat([pd.DataFrame({"Parent_ID": ["6"], "Parent_Name": ["b_c"], "Topics": [[1, 2]],
                                         "Child_Left_ID": ["1"], "Child_Right_ID": ["2"], "Distance": [0.3]}), hierarchy])
    representative = {t: [f"representative of {t}"] for t in range(4)}
    groups = hierarchy_groups(hierarchy, "[DOCUMENTS]|[KEYWORDS]", documents, np.eye(10), representative, nr_docs=3)
    assert groups["4"]["prompt"] == "- representative of 0\n- representative of 1\n- representative of 2\n|a, b, c"
    assert groups["5"]["prompt"].startswith("- representative of 0\n- representative of 3\n- representative of 1")
    assert len(groups["5"]["documents"]) == 10 and groups["6"]["titles"] == ["t4", "t5", "t6", "t7", "t8"]


def test_an_edits_file_written_from_an_earlier_run_of_03_is_recognised_not_applied(tmp_path):
    """06 reads labels_to_edit.csv in place; after 03 ran again into the same folder, that file's topics are the old
    run's: applying its labels would name the wrong topics (issue 25, review)."""
    import pandas as pd
    import pytest

    from helpers.refine import labels_to_edit, read_edited_labels

    before = pd.DataFrame({"topic": [-1, 0, 1], "label": ["Outliers", "Stock markets", "Football"],
                           "source": ["", "llm", "llm"]})
    table = labels_to_edit(before)
    table.loc[table.topic == 1, "label"] = "Premier League"
    table.to_csv(tmp_path / "labels_to_edit.csv", index=False)
    assert read_edited_labels(tmp_path / "labels_to_edit.csv", before) == {1: "Premier League"}
    after = before.assign(label=["Outliers", "Elections", "Football"])  # 03 again: topic 0 is another topic now
    with pytest.raises(ValueError, match=r"written from an earlier run of notebook 03 \(topic 0 was 'Stock markets', "
                                         r"it is 'Elections' now\): copy your labels into a fresh"):
        read_edited_labels(tmp_path / "labels_to_edit.csv", after)


def test_an_inner_node_keeps_its_centre_and_a_bounded_sample_of_its_documents():
    """At the reference's size the root node is the whole corpus: a group holds the centre of all its vectors (what
    the labeler's coverage reads) and at most ``most_docs`` documents, drawn with the seed (issue 27)."""
    rng = np.random.default_rng(1)
    n = 50
    documents = pd.DataFrame({"abstract": [f"doc {i}" for i in range(n)], "title": [f"t{i}" for i in range(n)],
                              "topic": [i % 2 for i in range(n)]})
    vectors = rng.normal(size=(n, 4))
    hierarchy = pd.DataFrame({"Parent_ID": ["2"], "Parent_Name": ["a_b"], "Topics": [[0, 1]],
                              "Child_Left_ID": ["0"], "Child_Right_ID": ["1"], "Distance": [0.5]})
    representative = {0: ["doc 40"], 1: ["doc 13"]}
    group = hierarchy_groups(hierarchy, "[DOCUMENTS]|[KEYWORDS]", documents, vectors, representative, most_docs=7)["2"]
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)  # each vector scaled to length 1 (cosine)
    assert group["vectors"].shape == (1, 4) and np.allclose(group["vectors"][0], unit.mean(axis=0))
    numbers = [int(d.split()[1]) for d in group["documents"]]
    assert len(numbers) == 7 and numbers == sorted(numbers) and len(set(numbers)) == 7
    assert {13, 40} <= set(numbers), "the documents the prompt shows are among those the label is judged on"
    assert group["titles"] == [f"t{i}" for i in numbers]
    again = hierarchy_groups(hierarchy, "[DOCUMENTS]|[KEYWORDS]", documents, vectors, representative, most_docs=7)["2"]
    assert again["documents"] == group["documents"]
    whole = hierarchy_groups(hierarchy, "[DOCUMENTS]|[KEYWORDS]", documents, vectors, representative, most_docs=None)
    assert len(whole["2"]["documents"]) == n


def test_a_topic_is_judged_on_a_bounded_seeded_sample_of_its_documents():
    """What BatchedTextGeneration and hierarchy_groups judge a label on: every row of a small topic, a seeded
    sample of a large one (the same rows for the same seed), in document order."""
    from helpers.labeler._choice import JUDGED_DOCS, judged_rows

    small = np.arange(0, 300, 3)
    assert judged_rows(small).tolist() == small.tolist()
    large = np.arange(5, 5 + 3 * JUDGED_DOCS)
    picked = judged_rows(large, seed=4)
    assert len(picked) == JUDGED_DOCS and set(picked) <= set(large) and (np.diff(picked) > 0).all()
    assert judged_rows(large, seed=4).tolist() == picked.tolist() != judged_rows(large, seed=5).tolist()
    assert judged_rows(large, most=None).tolist() == large.tolist()
    kept = judged_rows(large, seed=4, keep=[7, 5000, 99_999])  # a row outside the topic is no row of it
    assert len(kept) == JUDGED_DOCS and {7, 5000} <= set(kept) and 99_999 not in kept and (np.diff(kept) > 0).all()


def test_labels_edited_in_excel_on_windows_are_read(tmp_path):
    """Issue 37, item 5: a cp1252 "Économie" raised a bare UnicodeDecodeError."""
    text = "topic,label\n0,Économie\n1,Football\n"
    (tmp_path / "excel.csv").write_bytes(text.encode("cp1252"))
    (tmp_path / "utf8-bom.csv").write_bytes(text.encode("utf-8-sig"))
    for name in ("excel.csv", "utf8-bom.csv"):
        assert read_edited_labels(tmp_path / name, LABELS) == {0: "Économie"}, name
    (tmp_path / "utf16.csv").write_bytes(b"\x81\x8d" + text.encode("utf-8"))  # bytes neither encoding has
    with pytest.raises(ValueError, match=r"is neither UTF-8 nor Windows-1252 text: save it again as \"CSV UTF-8\""):
        read_edited_labels(tmp_path / "utf16.csv", LABELS)


def test_an_in_place_edits_file_from_an_earlier_03_is_kept_and_not_applied(tmp_path, capsys):
    from helpers.refine import StaleEdits, your_labels

    stale = LABELS.assign(llm_label=["Outliers", "Business", "Football", "Films"], label=["Outliers", "Mine", "Football", "Films"])
    stale.to_csv(tmp_path / "labels_to_edit.csv", index=False)
    before = (tmp_path / "labels_to_edit.csv").read_bytes()
    assert your_labels(None, tmp_path / "labels_to_edit.csv", LABELS) == {}
    assert "None of its labels is applied, and the file is left as it is." in capsys.readouterr().out
    assert (tmp_path / "labels_to_edit.csv").read_bytes() == before
    with pytest.raises(StaleEdits):  # given by name, it is an error
        your_labels(str(tmp_path / "labels_to_edit.csv"), tmp_path / "none.csv", LABELS)
    assert your_labels(None, tmp_path / "none.csv", LABELS) == {}


def test_an_inner_node_prompt_shows_its_childrens_labels_and_documents_of_each():
    """Issue 35, item 4: a parent is named from its children: their labels fill [TOPICS], and a child that is one
    topic gives its first, second, ... representative documents, in turn with the other child's."""
    documents = pd.DataFrame({"abstract": [f"doc {i}" for i in range(6)], "title": [""] * 6, "topic": [0, 0, 0, 1, 1, 2]})
    hierarchy = pd.DataFrame({"Parent_ID": ["3", "4"], "Parent_Name": ["a_b", "a_b_c"], "Topics": [[0, 1], [0, 1, 2]],
                              "Child_Left_ID": ["0", "3"], "Child_Right_ID": ["1", "2"], "Distance": [0.5, 0.9]})
    representative = {0: ["a0", "a1", "a2"], 1: ["b0", "b1", "b2"], 2: ["c0"]}
    names = {"0": "Football", "1": "Tennis", "2": "Banks", "3": "Sport"}
    groups = hierarchy_groups(hierarchy, "[TOPICS]|[DOCUMENTS]|[KEYWORDS]", documents, np.eye(6), representative,
                              nr_docs=4, names=names, nodes={"3", "4"})
    assert groups["3"]["prompt"] == "Football; Tennis|- a0\n- b0\n- a1\n- b1\n|a, b"
    assert groups["4"]["prompt"] == "Sport; Banks|- a0\n- c0\n- b0\n- a1\n|a, b, c"
    assert list(hierarchy_groups(hierarchy, "[TOPICS]", documents, np.eye(6), representative, names=names,
                                 nodes={"3"})) == ["3"], "only the nodes asked for: one level at a time"
