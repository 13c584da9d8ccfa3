import itertools
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from helpers.comparison import comparability_notes, compare_evaluations, long_table, settings_differences, topic_table
from helpers.evaluation import (
    DIRECTIONS, EVALUATION_FORMAT_VERSION, evaluate_run, label_texts, saved_evaluation, to_json_ready, write_json,
)
from helpers.measures import (
    agreement, centroids, ctfidf_words, dominant_categories, faithfulness, nan_mean, nearest_categories, npmi_per_topic,
    tokenize, topic_diversity,
)

DOCS = [
    "goal striker club league match", "club league goal coach match", "striker goal league cup club",
    "bank rates inflation economy growth", "economy growth bank rates market", "inflation rates bank economy shares",
] * 3


def npmi_coherence(topic_words, tokens):
    """The mean NPMI of the topics that can be scored, as the evaluation averages them."""
    return nan_mean(npmi_per_topic(topic_words, tokens))


def test_coherent_topics_score_higher_npmi_than_mixed_ones():
    tokens = [d.split() for d in DOCS]
    good = npmi_coherence([["goal", "club", "league"], ["bank", "rates", "economy"]], tokens)
    mixed = npmi_coherence([["goal", "bank", "inflation"], ["club", "economy", "rates"]], tokens)
    assert -1 <= mixed < good <= 1


def test_unknown_words_are_left_out_and_unscorable_topics_are_nan():
    tokens = [d.split() for d in DOCS]
    assert npmi_coherence([["goal", "club", "zzz"]], tokens) == npmi_coherence([["goal", "club"]], tokens)
    assert math.isnan(npmi_coherence([["zzz", "yyy"]], tokens))
    scores = npmi_per_topic([["goal", "club"], ["zzz", "goal"], ["bank", "rates"]], tokens)
    assert math.isnan(scores[1]) and all(-1 <= s <= 1 for s in (scores[0], scores[2]))


def test_tokenize_keeps_or_drops_stop_words_and_rejects_other_values():
    assert tokenize(["The bank and the rates"]) == [["the", "bank", "and", "the", "rates"]]
    assert tokenize(["The bank and the rates"], "english") == [["bank", "rates"]]
    with pytest.raises(ValueError, match="'none' or 'english'"):
        tokenize(["x"], "french")


def test_diversity_is_the_share_of_unique_words():
    assert topic_diversity([["a", "b"], ["c", "d"]]) == 1.0
    assert topic_diversity([["a", "b"], ["a", "b"]]) == 0.5
    assert topic_diversity([["a", "b", "x"], ["a", "b", "y"]], top_n=2) == 0.5


def test_ctfidf_words_reads_the_matrix_by_sorted_topic_and_skips_outliers():
    class Model(_Fitted):
        top_n_words = 1  # BERTopic keeps this many in get_topic; the rest come from the matrix
        vectorizer_model = _Vectorizer(["goal", "bank", "club", "rates"])
        topic_sizes_ = {1: 5, -1: 2, 0: 7}  # rows follow sorted ids: -1, 0, 1
        c_tf_idf_ = sp.csr_matrix(np.array([[9, 9, 9, 9], [0.5, 0, 0.2, 0], [0, 0.4, 0, 0.3]]))

    assert ctfidf_words(Model(), top_n=25) == {0: ["goal", "club"], 1: ["bank", "rates"]}
    assert ctfidf_words(Model(), top_n=1) == {0: ["goal"], 1: ["bank"]}


def test_shuffled_baseline_is_the_average_over_every_shuffle_that_moves_all_labels():
    rng = np.random.default_rng(0)
    texts, cents = rng.normal(size=(4, 8)), rng.normal(size=(4, 8))
    result = faithfulness(texts, cents)
    unit = lambda m: m / np.linalg.norm(m, axis=1, keepdims=True)  # noqa: E731
    sims = unit(texts) @ unit(cents).T
    derangements = [p for p in itertools.permutations(range(4)) if all(i != j for i, j in enumerate(p))]
    brute = np.mean([np.mean([sims[p[i], i] for i in range(4)]) for p in derangements])
    assert result["faithfulness_shuffled"] == pytest.approx(brute)
    assert result["faithfulness"] == pytest.approx(np.mean(np.diag(sims)))
    assert result["faithfulness_gap"] == pytest.approx(result["faithfulness"] - brute)


def test_real_labels_beat_the_shuffled_baseline_when_they_fit():
    embeddings = np.array([[1.0, 0.0]] * 3 + [[0.0, 1.0]] * 3)
    cents = centroids(embeddings, [0, 0, 0, 1, 1, -1])
    assert set(cents) == {0, 1}
    labels = np.array([[1.0, 0.1], [0.1, 1.0]])
    result = faithfulness(labels, np.array([cents[0], cents[1]]))
    assert result["faithfulness"] > result["faithfulness_shuffled"]


def test_agreement_with_categories():
    perfect = agreement([0, 0, 1, 1], ["a", "a", "b", "b"])
    assert perfect == {"nmi": 1.0, "ari": 1.0}
    assert agreement([0, 1, 0, 1], ["a", "a", "b", "b"])["ari"] < 0.5
    assert agreement([0, 0, -1, 1], ["a", "a", "b", "b"], include_outliers=False)["nmi"] == 1.0
    assert agreement([0, 1], []) is None


def test_dominant_and_nearest_categories():
    assert dominant_categories([0, 0, 0, 1, -1], ["a", "a", "b", "b", "b"]) == {0: ("a", 2 / 3), 1: ("b", 1.0)}
    names = ["economy", "sport"]
    assert nearest_categories(np.array([[0.9, 0.1], [0.2, 0.8]]), np.array([[1.0, 0], [0, 1.0]]), names) == names


def test_json_ready_values():
    data = to_json_ready({"a": np.float32(0.5), "b": float("nan"), "c": [np.int64(3), (1, float("inf"))], 4: None})
    assert data == {"a": 0.5, "b": None, "c": [3, [1, None]], "4": None}
    json.dumps(data, allow_nan=False)


# ---- a whole (small) run, without BERTopic: the fitted model's attributes evaluate_run reads
class _Vectorizer:
    def __init__(self, words=("goal", "club", "league", "striker", "bank", "rates", "economy", "inflation")):
        self.words = np.array(words)

    def get_feature_names_out(self):
        return self.words


class _Fitted:
    """What 05 reads of a fitted BERTopic besides its attributes: ``get_topic``, its ``top_n_words`` of highest
    c-TF-IDF."""

    top_n_words = 10

    def get_topic(self, topic):
        weights = self.c_tf_idf_[sorted(self.topic_sizes_).index(topic)].toarray().ravel()
        words = self.vectorizer_model.get_feature_names_out()
        ranked = np.argsort(-weights, kind="stable")
        return [(str(words[i]), float(weights[i])) for i in ranked if weights[i] > 0][:self.top_n_words]


class _TopicModel(_Fitted):
    vectorizer_model = _Vectorizer()
    topic_sizes_ = {-1: 1, 0: 3, 1: 2}
    c_tf_idf_ = sp.csr_matrix(np.array([[1, 1, 1, 1, 1, 1, 1, 1],
                                        [0.5, 0.4, 0.3, 0.2, 0, 0, 0, 0],
                                        [0, 0, 0, 0, 0.5, 0.4, 0.3, 0.2]]))
    topic_aspects_ = {
        "KeyBERT": {-1: [("x", 1)], 0: [("goal", 0.9), ("league", 0.8)], 1: [("economy", 0.9), ("bank", 0.8)]},
        "MMR": {0: [("club", 0.9), ("striker", 0.1)], 1: [("rates", 0.9), ("", 0)]},
    }


VECTORS = {"sport": [1.0, 0.0], "business": [0.0, 1.0]}


def _embed(texts):
    """Text -> 2-D vector: football words point one way, money words the other."""
    football = {"goal", "club", "league", "striker", "football", "sport"}
    money = {"bank", "rates", "economy", "inflation", "markets", "business"}
    out = []
    for text in texts:
        words = set(text.lower().replace(",", " ").split())
        out.append([len(words & football) + 0.1, len(words & money) + 0.1])
    return np.array(out)


def _small_run():
    documents = pd.DataFrame({
        "abstract": [DOCS[0], DOCS[1], DOCS[2], DOCS[3], DOCS[4], DOCS[5]],
        "topic": [0, 0, 0, 1, 1, -1],
        "category": ["sport", "sport", "sport", "business", "business", "business"],
    })
    labels = pd.DataFrame({"topic": [-1, 0, 1], "label": ["misc", "Football league", "Bank rates and inflation"],
                           "fallback": [False, False, True],
                           "reference_label": ["misc", "Football league: goals", "Bank rates and inflation."]})
    embeddings = _embed(documents.abstract.tolist())
    return documents, labels, embeddings


def test_evaluate_run_reports_every_metric_in_range():
    documents, labels, embeddings = _small_run()
    result = evaluate_run(_TopicModel(), documents, labels, _embed, embeddings)
    json.dumps(result, allow_nan=False)
    assert result["format_version"] == EVALUATION_FORMAT_VERSION
    assert set(result["representations"]) == {"c-TF-IDF", "KeyBERT", "MMR", "LLM label", "LLM first line"}
    for name, row in result["representations"].items():
        if name == "LLM label":
            continue
        assert -1 <= row["npmi"] <= 1, name
        assert 0 <= row["diversity"] <= 1 and 0 <= row["diversity_top10"] <= 1
        assert row["faithfulness"] > row["faithfulness_shuffled"], name
        assert row["category_match"] == 1.0 and row["scored_topics"] == 2, name
    llm = result["representations"]["LLM label"]
    # topic 1 fell back to its keywords: they are not the LLM's words, so its row scores topic 0 only
    assert llm["fallback_share"] == 0.5 and llm["scored_topics"] == 1
    assert llm["words_per_topic"] == 2, "'Football league' alone, not the keywords of the fallback"
    assert llm["category_match"] == 1.0 and "faithfulness" not in llm, "one topic left: no shuffled baseline"
    assert result["representations"]["c-TF-IDF"]["words_per_topic"] == 4
    run = result["run"]
    assert (run["documents"], run["topic_count"], run["outlier_share"]) == (6, 2, pytest.approx(1 / 6))
    assert run["nmi_without_outliers"] == 1.0 and run["ari_without_outliers"] == 1.0
    table = topic_table(result)
    assert table.loc[0, "LLM label"] == "Football league" and table.loc[1, "dominant_category"] == "business"
    assert set(long_table(result, "r").metric) <= set(DIRECTIONS)


def test_evaluate_run_without_categories_or_topics():
    documents, labels, embeddings = _small_run()
    result = evaluate_run(_TopicModel(), documents.drop(columns="category"), labels, _embed, embeddings)
    assert result["representations"]["LLM label"]["category_match"] is None and "nmi" not in result["run"]
    with pytest.raises(ValueError, match="no topic besides the outliers"):
        evaluate_run(_TopicModel(), documents.assign(topic=-1), labels, _embed, embeddings)


def test_the_best_score_is_bold_only_among_rows_of_the_same_kind():
    from helpers.comparison import styled_representations

    table = pd.DataFrame({"npmi": [0.1, 0.2, 0.05, 0.3, 0.25], "faithfulness_shuffled": [0.1, 0.2, 0.3, 0.4, 0.5]},
                         index=["c-TF-IDF", "KeyBERT", "MMR", "LLM label", "LLM first line"])
    import re

    css = styled_representations(table).to_html().split("</style>")[0]
    bold = sorted(re.findall(r"_row(\d+)_col(\d+)", css))  # every cell the style rules make bold
    assert bold == [("1", "0"), ("3", "0")], "the best keyword list (KeyBERT) and the best label; never the baseline"


def test_label_texts_leave_out_the_outlier_topic():
    _, labels, _ = _small_run()
    assert label_texts(labels)["LLM label"] == {0: "Football league", 1: "Bank rates and inflation"}


# ---- comparison ---------------------------------------------------------------------
def _evaluation(npmi, outliers, docs=100):
    return {"format_version": EVALUATION_FORMAT_VERSION, "method": {"npmi_top_n": 10},
            "run": {"documents": docs, "topic_count": 5, "outlier_share": outliers},
            "representations": {"c-TF-IDF": {"npmi": npmi, "faithfulness_shuffled": 0.1}}}


def test_compare_names_the_better_run_by_each_metrics_direction():
    frame = compare_evaluations(_evaluation(0.2, 0.3), _evaluation(0.1, 0.1), ("ours", "reference"))
    rows = frame.set_index(["representation", "metric"])
    assert rows.loc[("c-TF-IDF", "npmi"), "better"] == "ours"
    assert rows.loc[("c-TF-IDF", "npmi"), "difference"] == pytest.approx(0.1)
    assert rows.loc[("run", "outlier_share"), "better"] == "reference"  # fewer outliers is better
    assert rows.loc[("run", "topic_count"), "better"] == ""  # neither side is better
    assert rows.loc[("c-TF-IDF", "faithfulness_shuffled"), "better"] == ""
    assert list(frame.metric) == ["npmi", "faithfulness_shuffled", "topic_count", "outlier_share"]  # not alphabetical
    same = compare_evaluations(_evaluation(0.2, 0.3), _evaluation(0.2, 0.3), ("a", "b"))
    assert set(same.better) <= {"=", ""}


def test_settings_differences_and_comparability_notes():
    a = {"stop_words": "english", "label_method": "batched", "dataset": "x", "embedding_model": "m"}
    b = {"stop_words": "none", "label_method": "batched", "dataset": "x", "embedding_model": "m"}
    assert settings_differences(a, b) == {"stop_words": ("english", "none")}
    assert comparability_notes(_evaluation(0.1, 0.1), _evaluation(0.1, 0.1), a, b) == []
    notes = comparability_notes(_evaluation(0.1, 0.1), _evaluation(0.1, 0.1, docs=50), a, {**b, "embedding_model": "n"})
    assert any("different corpora" in n for n in notes) and any("embedding models" in n for n in notes)


def test_a_saved_evaluation_is_reused_only_when_computed_the_same_way_from_the_same_results(tmp_path):
    from helpers.evaluation import RESULT_FILES, results_key

    for name in RESULT_FILES:
        (tmp_path / name).write_text(f"{name} as notebook 03 wrote it")
    assert saved_evaluation(tmp_path, {"npmi_top_n": 10}) is None
    saved = {**_evaluation(0.2, 0.1), "nan_value": float("nan"), "results_key": results_key(tmp_path)}
    write_json(tmp_path / "evaluation.json", saved)
    assert saved_evaluation(tmp_path, {"npmi_top_n": 10})["nan_value"] is None
    assert saved_evaluation(tmp_path, {"npmi_top_n": 5}) is None
    (tmp_path / "labels.csv").write_text("topic,label\n0,an edited label\n")  # 03 re-run, or labels edited
    assert saved_evaluation(tmp_path, {"npmi_top_n": 10}) is None, "stale: the results changed since"
    (tmp_path / "evaluation.json").write_text('{"format_version": ')  # cut short: computed again, no traceback
    assert saved_evaluation(tmp_path, {"npmi_top_n": 10}) is None
    write_json(tmp_path / "evaluation.json", {**saved, "results_key": results_key(tmp_path)})
    (tmp_path / "documents.parquet").unlink()  # its results gone: left to the reader's one sentence
    assert saved_evaluation(tmp_path, {"npmi_top_n": 10}) is None


class _SavedModel:
    """What save_results asks of a fitted BERTopic."""

    topics_ = [0, 1, 0]

    def save(self, path, **options):
        (Path(path) / "topic_embeddings.safetensors").write_bytes(b"")

    def get_topic_info(self):
        return pd.DataFrame({"Topic": [0, 1], "Count": [2, 1]})


def test_settings_json_records_the_precision_that_ran_and_the_library_versions(tmp_path):
    import json

    from helpers.machine import package_versions, resolve_precision
    from helpers.settings import as_dict, resolve_settings
    from helpers.runs import save_results

    corpus = pd.DataFrame({"abstract": ["a", "b", "c"], "title": ["x", "y", "z"]})
    settings = resolve_settings("offline")
    assert settings.precision == "auto"
    save_results(tmp_path, _SavedModel(), corpus, np.zeros((3, 2)), pd.DataFrame({"topic": [0, 1]}),
                 as_dict(settings), settings.embedding_model)
    saved = json.loads((tmp_path / "settings.json").read_text())
    assert saved["precision"] == "auto" and saved["precision_resolved"] == resolve_precision("auto")
    assert saved["precision_resolved"] in ("bf16", "fp16", "fp32")
    assert saved["versions"] == package_versions() and saved["versions"]["bertopic"] != "missing"


def test_the_comparison_shows_another_precision_or_library_version():
    a = {"stop_words": "english", "precision": "auto", "precision_resolved": "bf16",
         "versions": {"torch": "2.8.0", "bertopic": "0.17.4"}}
    b = {"stop_words": "english", "precision": "auto", "precision_resolved": "fp32",
         "versions": {"torch": "2.9.0", "bertopic": "0.17.4"}}
    assert settings_differences(a, b) == {"precision_resolved": ("bf16", "fp32"), "versions.torch": ("2.8.0", "2.9.0")}
    notes = comparability_notes(_evaluation(0.1, 0.1), _evaluation(0.1, 0.1), a, b)
    assert any("different precisions (bf16 and fp32)" in n for n in notes)
    assert any(n == "The runs used other versions of torch." for n in notes)
    assert comparability_notes(_evaluation(0.1, 0.1), _evaluation(0.1, 0.1), a, a) == []


def test_ctfidf_words_keep_bertopics_own_words_where_two_weigh_the_same():
    """A tie at 03's tenth keyword: 05 scores the words 03 shows (get_topic's), not a sort's other choice."""
    class Model:
        vectorizer_model = _Vectorizer(["goal", "bank", "club", "rates"])
        topic_sizes_ = {0: 7}
        c_tf_idf_ = sp.csr_matrix(np.array([[0.5, 0.1, 0.5, 0]]))

        def get_topic(self, topic):
            return [("club", 0.5)]  # top_n_words = 1: of two equal weights BERTopic kept "club"

    assert ctfidf_words(Model(), top_n=1) == {0: ["club"]}
    assert ctfidf_words(Model(), top_n=25) == {0: ["club", "goal", "bank"]}


def test_a_folder_whose_save_was_cut_short_between_its_model_and_its_documents_is_one_sentence(tmp_path):
    """Each file of a save is atomic, the set is not: a full disk or a kill after the topic model but before the
    documents leaves one save's model beside another's documents, which 04-06 would draw and measure silently."""
    from helpers.runs import read_run_settings, save_results
    from helpers.settings import resolve_settings

    corpus = pd.DataFrame({"abstract": ["a", "b", "c"], "title": ["x", "y", "z"]})
    labels = pd.DataFrame({"topic": [0, 1]})
    save_results(tmp_path, _SavedModel(), corpus, np.zeros((3, 2)), labels, resolve_settings("offline"))
    assert read_run_settings(tmp_path)["saved_together"]
    first = (tmp_path / "documents.parquet").read_bytes()
    save_results(tmp_path, _SavedModel(), corpus, np.ones((3, 2)), labels, resolve_settings("offline"))
    read_run_settings(tmp_path)
    (tmp_path / "labels.csv").write_text("topic,label\n0,a label edited by hand\n1,b\n")  # yours to edit: no save
    read_run_settings(tmp_path)
    (tmp_path / "documents.parquet").write_bytes(first)  # the second save's documents never written
    with pytest.raises(ValueError, match=r"holds the topic model or documents of another save than its settings.json "
                                         r"\(a save of notebook 03 or 06 was cut short\): re-run notebook 03"):
        read_run_settings(tmp_path)
