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
