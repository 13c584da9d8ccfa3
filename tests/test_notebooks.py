"""Every notebook, executed with papermill on a small offline sample, checked by what it produced."""

import json
import os
import re
import subprocess
import sys

import nbformat
from conftest import assert_secret_absent
from reading import FUNCTION_WORDS, words as _reader_words  # a reader's rules (tests/reading.py), not the labeler's
import pandas as pd
import pytest

from tools.run import NOTEBOOKS, RUNNER, notebook_paths

pytestmark = pytest.mark.notebooks
FAKE_TOKEN = "hf_FAKE-test-token-never-real-0123456789"
SAMPLE = 300


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory):
    """One run of the whole series (``python tools/run.py``, exercises included) with a fake HF token set."""
    runs = tmp_path_factory.mktemp("runs")
    env = {**os.environ, "HF_TOKEN": FAKE_TOKEN}
    result = subprocess.run(
        [sys.executable, str(RUNNER), "--runs", str(runs), "--name", "test", "--exercises",
         "-p", "sample_size", str(SAMPLE)],
        env=env, capture_output=True, text=True, timeout=1500,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Results in" in result.stdout
    return runs / "test"


def _executed(run_dir, name):
    return nbformat.read(run_dir / name, as_version=4)


def test_every_notebook_ran_without_errors(run_dir):
    for path in notebook_paths():
        nb = _executed(run_dir, path.name)
        errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
        assert not errors, f"{path.name}: {errors[:1]}"


def test_topics_were_found(run_dir):
    topics = pd.read_csv(run_dir / "topics.csv")
    assert (topics.Topic >= 0).sum() >= 3
    assert topics.Count.sum() == SAMPLE
    assert {"Representation", "KeyBERT", "MMR", "LLM", "CustomName"} <= set(topics.columns)


def _found_among(word: str, vocabulary: set) -> bool:
    """``word`` (a possessive "'s" dropped), or a word starting with all but its last two letters (at least four:
    "economic" for "economy", "films" for "film"), occurs in ``vocabulary``."""
    word = re.sub(r"['’]s$", "", word)
    stem = word[: max(4, len(word) - 2)]
    return word in vocabulary or (len(word) >= 4 and any(v.startswith(stem) for v in vocabulary))


def _read_as_a_name(label: str, vocabulary: set) -> list[str]:
    """What a reader finds wrong with ``label`` for a topic whose documents use ``vocabulary``."""
    words = _reader_words(label)
    content = [w for w in words if w not in FUNCTION_WORDS]
    problems = []
    if not label.strip() or not content:
        problems.append("no name in it")
    elif len(words) > 10:
        problems.append("a sentence's length")
    if words and (words[-1] in FUNCTION_WORDS or re.search(r"['’]s?$", label.strip().split()[-1])):
        problems.append(f"ends on {words[-1]!r}")
    if any(a == b and a not in FUNCTION_WORDS for a, b in zip(words, words[1:])):  # "Celebrity Celebrity"
        problems.append("a word twice")
    if content and sum(_found_among(w, vocabulary) for w in content) * 2 < len(content):
        problems.append(f"most words not in its documents: {[w for w in content if not _found_among(w, vocabulary)]}")
    return problems


def test_every_label_reads_as_a_name_from_its_topic_and_says_where_it_came_from(run_dir):
    """Checked the way a reader checks a label, with rules the labeler never used (its rubric is not re-run here):
    a name, not empty nor a sentence; not ending on a function word or a possessive; no word twice side by side; most of its
    words in the topic's own documents. Its source says where it came from: a key phrase is words of one of the
    topic's documents, a keyword fallback is the topic's keywords."""
    topics = pd.read_csv(run_dir / "topics.csv")
    labels = pd.read_csv(run_dir / "labels.csv", keep_default_na=False)
    documents = pd.read_parquet(run_dir / "documents.parquet")
    assert sorted(labels.topic) == sorted(topics.Topic)
    named = labels[labels.topic != -1]
    assert set(named.source) <= {"llm", "key phrase", "keywords"}
    keywords = dict(zip(topics.Topic, topics.Representation.astype(str)))
    for row in named.itertuples():
        mine = documents[documents.topic == row.topic]
        texts = [*mine.abstract, *mine.title]
        vocabulary = {w for text in texts for w in _reader_words(text)}
        assert _read_as_a_name(row.label, vocabulary) == [], (row.topic, row.label)
        assert row.fallback == (row.source == "keywords"), (row.label, row.source, row.fallback)
        if row.source == "key phrase":
            assert any(set(_reader_words(row.label)) <= set(_reader_words(text)) for text in texts), row.label
        if row.source == "keywords":
            assert set(_reader_words(row.label)) <= set(_reader_words(keywords[row.topic])), row.label
        assert 0 <= row.confidence <= 1
    # on 300 documents a handful of topics: the LLM names some of them (half of them on the whole corpus, BENCHMARKS.md)
    assert (named.source == "llm").sum() >= 1, "the LLM labels topics itself, key phrases only fill in"


def test_a_reader_keeps_every_label_of_03_06_and_the_hierarchy(run_dir):
    """Issue 35: no label of 03, of 06's refined topics or of the hierarchy ends on a function word or a
    possessive, says a word twice, holds a number none of its documents holds, or names two nodes; no parent is
    named as one of its children (tests/reading.py, a reader's rules, not the labeler's)."""
    from reading import label_table_problems

    assert label_table_problems(run_dir) == []


def test_no_topics_keywords_hold_the_news_house_words(run_dir):
    """Issue 35: "said" and "mr" (BBC News' house style) are in no topic's keywords, in 03 nor in 06."""
    from reading import keyword_problems

    assert keyword_problems(run_dir) == []


def test_labels_are_the_names_the_plots_use(run_dir):
    topics = pd.read_csv(run_dir / "topics.csv")
    labels = pd.read_csv(run_dir / "labels.csv", keep_default_na=False)
    assert dict(zip(topics.Topic, topics.CustomName)) == dict(zip(labels.topic, labels.label))


def _stream_text(nb) -> str:
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)


def test_the_static_map_draws_every_clustered_document_and_every_topic(run_dir):
    from PIL import Image

    documents = pd.read_parquet(run_dir / "documents.parquet")
    clustered = documents[documents.topic >= 0]
    note = f"{len(clustered):,} documents in {clustered.topic.nunique()} topics drawn, all of them"
    printed = _stream_text(_executed(run_dir, "04_visualization.ipynb"))
    assert note in printed
    labels = pd.read_csv(run_dir / "labels.csv", keep_default_na=False)
    weak = ((labels.topic != -1) & (labels.confidence < 0.5)).sum()
    assert f"{weak} labels marked (?) as weak" in printed
    for name in ("topic_map.png", "datamap.png"):
        image = Image.open(run_dir / name)
        assert min(image.size) > 500, name
    from browser import colors_shown

    import numpy as np

    shown = colors_shown(np.asarray(Image.open(run_dir / "datamap.png").convert("RGB")))
    assert shown >= min(clustered.topic.nunique(), 5), "the library's map shows its topics in color"


def _shown_labels(run_dir) -> list[str]:
    documents = pd.read_parquet(run_dir / "documents.parquet")
    labels = pd.read_csv(run_dir / "labels.csv", keep_default_na=False)
    return labels[labels.topic.isin(documents.topic[documents.topic >= 0])].sort_values("topic").label.tolist()


def test_documents_html_renders_offline_with_every_topic_in_its_legend(run_dir, tmp_path):
    from browser import colors_shown, render, svg_texts

    dom, image = render(run_dir / "documents.html", tmp_path)
    assert sorted(svg_texts(dom, "legendtext")) == sorted(_shown_labels(run_dir))
    assert 'class="gl-canvas' in dom and colors_shown(image) >= 5, "the points are drawn"


def test_barchart_and_hierarchy_render_offline_with_the_llm_labels(run_dir, tmp_path):
    from browser import render, svg_texts, tick_texts

    labels = _shown_labels(run_dir)
    dom, _ = render(run_dir / "barchart.html", tmp_path)
    titles = svg_texts(dom, "annotation-text")
    assert titles and set(titles) <= set(labels) and labels[0] in titles
    assert 'class="point' in dom, "the bars are drawn"
    dom, _ = render(run_dir / "hierarchy.html", tmp_path)
    assert sorted(tick_texts(dom, "y")) == sorted(labels)
    assert 'class="js-line' in dom, "the dendrogram's lines are drawn"


def test_run_artifacts_are_readable_under_the_umask(run_dir):
    import stat

    from helpers.files import current_umask

    for name in ("topics.csv", "labels.csv", "documents.html", "topic_map.png", "evaluation.json", "topic_model"):
        path = run_dir / name
        expected = (0o777 if path.is_dir() else 0o666) & ~current_umask()
        assert stat.S_IMODE(path.stat().st_mode) == expected, f"{name}: not what a plain open() would give"


def test_03_saves_what_04_needs_without_pickle(run_dir):
    model_files = {p.name for p in (run_dir / "topic_model").iterdir()}
    assert "topic_embeddings.safetensors" in model_files and not any(n.endswith((".pkl", ".pickle")) for n in model_files)
    documents = pd.read_parquet(run_dir / "documents.parquet")
    assert {"abstract", "title", "topic", "x", "y", "category"} <= set(documents.columns) and len(documents) == SAMPLE
    assert json.loads((run_dir / "settings.json").read_text())["sample_size"] == SAMPLE


def test_the_token_never_reaches_outputs_or_artifacts(run_dir, tmp_path):
    """The offline series never reads HF_TOKEN; 00 with a Hub model named does (its login step finds the token
    and hands it to the Hub calls), and the token still reaches no output, file or log."""
    assert_secret_absent(run_dir, FAKE_TOKEN)
    login = "".join(str(o) for c in _executed(run_dir, "00_setup_and_login.ipynb").cells if c.cell_type == "code" for o in c.outputs)
    assert "no Hugging Face login needed, skipped" in login
    result = subprocess.run(
        [sys.executable, str(RUNNER), "--runs", str(tmp_path), "--name", "hub", "--notebooks", "00",
         "-p", "llm_model", "someone/gated-chat-model"],
        env={**os.environ, "HF_TOKEN": FAKE_TOKEN}, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    login = _stream_text(_executed(tmp_path / "hub", "00_setup_and_login.ipynb"))
    assert "Hugging Face token found (environment)" in login, "the token was read"
    assert_secret_absent(tmp_path, FAKE_TOKEN)
    assert FAKE_TOKEN not in result.stdout + result.stderr


def test_01_shows_footprint_and_answers_side_by_side(run_dir):
    outputs = [o for c in _executed(run_dir, "01_quantized_loading.ipynb").cells if c.cell_type == "code" for o in c.outputs]
    table = next(o for o in outputs if "footprint_mb" in str(o.get("data", {}).get("text/plain", "")))
    text = table["data"]["text/plain"]
    assert all(kind in text for kind in ("nf4", "int8", "none"))
    assert "MatMul8bitLt" not in str(outputs)
    printed = _stream_text(_executed(run_dir, "01_quantized_loading.ipynb"))
    answer = printed.split("ANSWER IN THE CHAT TEMPLATE:")[1].strip()
    assert len(answer.split()) >= 3, "the sanity question gets an answer"


def test_no_unexplained_warnings_in_the_outputs(run_dir):
    for name, warning in (("01_quantized_loading.ipynb", "Failed to load CPU gemm_4bit_forward"),
                          ("03_topic_modeling.ipynb", "You are saving a BERTopic model without"),
                          ("04_visualization.ipynb", "findfont"), ("04_visualization.ipynb", "SettingWithCopyWarning")):
        assert warning not in _stream_text(_executed(run_dir, name)), (name, warning)


def test_04_to_06_show_each_map_once_and_no_stray_return_values(run_dir):
    for name in ("04_visualization.ipynb", "05_evaluation.ipynb", "06_refining_topics.ipynb"):
        cells = [c for c in _executed(run_dir, name).cells if c.cell_type == "code"]
        shown = "".join(str(o.get("data", {}).get("text/plain", "")) for c in cells for o in c.outputs)
        assert "PosixPath(" not in shown, f"{name}: a cell ends in a call that returns a path"
    lesson = [c for c in _executed(run_dir, "04_visualization.ipynb").cells
              if c.cell_type == "code" and "solution" not in c.metadata.get("tags", [])]
    images = [o for c in lesson for o in c.outputs if "image/png" in o.get("data", {})]
    assert len(images) == 3, "the post's static map, ours and datamapplot's, each shown once"


def _windows_holding(word: str, documents: list, size: int = 10):
    """For each sliding window of ``size`` tokens over ``documents`` in turn (a shorter document is one window):
    does it hold ``word``? Counted as gensim's c_npmi counts (its WordOccurrenceAccumulator): as the window slides,
    the token coming in on the right is added and the one going out on the left dropped, even when it occurs again
    inside the window. The published definition would keep it; on this sample's keywords that moves the mean by
    7e-4 and one topic's MMR words by 0.012, so counting the same way lets the comparison below be exact."""
    import numpy as np

    held = []
    for tokens in documents:
        at = tokens == word
        if len(tokens) < size:
            held.append(np.array([at.any()]))
            continue
        steps = len(tokens) - size + 1
        event = np.zeros(steps, dtype=int)  # at window i: -1 the word goes out on the left, +1 it comes in (wins)
        event[1:][at[: steps - 1]] = -1
        event[1:][at[size:]] = 1
        event[0] = 1 if at[:size].any() else -1
        last = np.maximum.accumulate(np.where(event != 0, np.arange(steps), 0))
        held.append(event[last] > 0)
    return np.concatenate(held)


def _npmi_by_hand(words: list, documents: list, holding: dict, top_n: int = 10) -> float:
    """NPMI of ``words`` (their first ``top_n`` the documents contain), written out: for each pair, with P the share
    of windows holding a word or both, log((P(a, b) + e) / (P(a) P(b))) / -log(P(a, b) + e), e = 1e-12; the mean
    over the pairs. ``holding`` caches :func:`_windows_holding` per word."""
    import itertools
    import math

    known = [w for w in words[:top_n] if w in holding or any((d == w).any() for d in documents)]
    if len(known) < 2:
        return float("nan")
    for w in known:
        if w not in holding:
            holding[w] = _windows_holding(w, documents)
    scores = []
    for a, b in itertools.combinations(known, 2):
        p_a, p_b, p_ab = holding[a].mean(), holding[b].mean(), (holding[a] & holding[b]).mean()
        scores.append(math.log((p_ab + 1e-12) / (p_a * p_b)) / -math.log(p_ab + 1e-12))
    return sum(scores) / len(scores)


def _assert_npmi_recomputed(evaluation: dict, documents: pd.DataFrame, topics: pd.DataFrame) -> None:
    """Every topic's NPMI for the keyword representations, and the keywords' mean, recomputed from the documents
    03 saved (tokens as BERTopic's CountVectorizer finds them: two or more word characters, lowercased), with
    neither helpers.measures nor gensim: the numbers 05 reports are those of the words it shows."""
    import numpy as np

    tokenized = [np.array(re.findall(r"\b\w\w+\b", text.lower()), dtype=object) for text in documents.abstract]
    holding, per_topic = {}, []
    keywords = dict(zip(topics.Topic, topics.Representation))
    for topic in evaluation["topics"]:
        shown = topic["representations"]
        assert set(shown["c-TF-IDF"]["text"].split(", ")) == set(keywords[topic["topic"]].split(", ")), "03's keywords"
        for name in ("c-TF-IDF", "KeyBERT", "MMR"):
            by_hand = _npmi_by_hand(shown[name]["text"].split(", "), tokenized, holding)
            assert shown[name]["npmi"] == pytest.approx(by_hand, abs=1e-9, nan_ok=True), (topic["topic"], name)
        per_topic.append(_npmi_by_hand(shown["c-TF-IDF"]["text"].split(", "), tokenized, holding))
    finite = [s for s in per_topic if s == s]
    assert evaluation["representations"]["c-TF-IDF"]["npmi"] == pytest.approx(sum(finite) / len(finite), abs=1e-9)


def test_05_scores_every_representation_within_range(run_dir):
    evaluation = json.loads((run_dir / "evaluation.json").read_text())
    representations = evaluation["representations"]
    assert {"c-TF-IDF", "KeyBERT", "MMR", "LLM label", "LLM first line"} == set(representations)
    labels_csv = pd.read_csv(run_dir / "labels.csv", keep_default_na=False)
    mean_confidence = labels_csv[labels_csv.topic != -1].confidence.mean()
    assert representations["LLM label"]["confidence"] == pytest.approx(mean_confidence, abs=0.01), "05 agrees with 03"
    for name, row in representations.items():
        assert 0 <= row["confidence"] <= 1 and 0 <= row["confidence_lexical"] <= 1, name
        assert -1 <= row["npmi"] <= 1, name
        assert 0 <= row["diversity"] <= 1 and 0 <= row["diversity_top10"] <= 1, name
        assert -1 <= row["faithfulness_shuffled"] < row["faithfulness"] <= 1, name
        assert 0 <= row["category_match"] <= 1, name
    documents = pd.read_parquet(run_dir / "documents.parquet")
    run = evaluation["run"]
    assert run["documents"] == SAMPLE and run["topic_count"] == documents.topic[documents.topic >= 0].nunique()
    assert run["outlier_share"] == pytest.approx((documents.topic == -1).mean())
    assert 0 < run["nmi"] <= 1 and -1 <= run["ari"] <= 1
    # every keyword representation's NPMI, recomputed by hand from what notebook 03 saved, is the one reported
    _assert_npmi_recomputed(evaluation, documents, pd.read_csv(run_dir / "topics.csv"))
    labels = pd.read_csv(run_dir / "labels.csv", keep_default_na=False)
    shown = {t["topic"]: t["representations"]["LLM label"]["text"] for t in evaluation["topics"]}
    assert shown == {t: label for t, label in zip(labels.topic, labels.label) if t != -1}
    assert (run_dir / "evaluation.png").stat().st_size > 20_000


def test_05_compares_two_runs_side_by_side(run_dir):
    runs = run_dir.parent
    before = (run_dir / "evaluation.json").read_text()
    result = subprocess.run(
        [sys.executable, str(RUNNER), "--runs", str(runs), "--name", "no-stop-words", "--notebooks", "03", "05",
         "-p", "sample_size", str(SAMPLE), "-p", "stop_words", "none", "-p", "compare_with", run_dir.name],
        cwd=runs, capture_output=True, text=True, timeout=900,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    other = runs / "no-stop-words"
    comparison = json.loads((other / "comparison.json").read_text())
    assert comparison["settings_differences"] == {"stop_words": ["none", "english"]}
    assert comparison["runs"] == {"no-stop-words": str(other.resolve()), "test": str(run_dir.resolve())}
    rows = {(r["representation"], r["metric"]): r for r in comparison["rows"]}
    mine = json.loads((other / "evaluation.json").read_text())
    theirs = json.loads(before)
    npmi = rows[("c-TF-IDF", "npmi")]
    assert (npmi["no-stop-words"], npmi["test"]) == (mine["representations"]["c-TF-IDF"]["npmi"],
                                                   theirs["representations"]["c-TF-IDF"]["npmi"])
    assert npmi["difference"] == pytest.approx(npmi["no-stop-words"] - npmi["test"])
    assert npmi["better"] == ("no-stop-words" if npmi["difference"] > 0 else "test" if npmi["difference"] < 0 else "=")
    assert rows[("run", "topic_count")]["better"] == ""
    html = (other / "05_evaluation.ipynb").read_text()
    assert "#d4edda" in html and "#f8d7da" in html, "better and worse values are highlighted"
    assert (other / "comparison.png").stat().st_size > 20_000
    assert (run_dir / "evaluation.json").read_text() == before and not (run_dir / "comparison.json").exists()


@pytest.mark.same_on_any_cpu  # an error message
@pytest.mark.parametrize("name", ["04_visualization.ipynb", "05_evaluation.ipynb"])
def test_a_notebook_without_results_names_notebook_03(tmp_path, name):
    import papermill

    with pytest.raises(papermill.PapermillExecutionError, match="03_topic_modeling"):
        papermill.execute_notebook(
            str(NOTEBOOKS / name), str(tmp_path / "out.ipynb"),
            parameters={"run_dir": str(tmp_path / "empty")}, cwd=str(NOTEBOOKS), kernel_name="python3", progress_bar=False,
        )


# ---- the committed notebooks themselves --------------------------------------------
# Each step of the reference (../shared/SEED_NOTES.md) -> the notebook that writes its code out, and that code.
SEED_STEPS = {
    1: ("00_setup_and_login", ["version(package)"]),
    2: ("00_setup_and_login", ["load_corpus("]),
    3: ("00_setup_and_login", ["login_status("]),
    4: ("00_setup_and_login", ['device = f"cuda:{cuda.current_device()}" if cuda.is_available() else "cpu"']),
    5: ("01_quantized_loading", ["BitsAndBytesConfig(", "load_in_4bit=True", "bnb_4bit_quant_type='nf4'",
                                 "bnb_4bit_use_double_quant=True", "bnb_4bit_compute_dtype=bfloat16",
                                 "bnb_config.bnb_4bit_compute_dtype = torch.float16"]),
    6: ("01_quantized_loading", ["AutoTokenizer.from_pretrained(", "AutoModelForCausalLM.from_pretrained(",
                                 "quantization_config=", "device_map='auto'", "model.eval()"]),
    7: ("01_quantized_loading", ["pipeline(", "task='text-generation'", "temperature=0.1", "max_new_tokens=500",
                                 "repetition_penalty=1.1"]),
    8: ("01_quantized_loading", ["as if I am 5"]),
    9: ("02_prompt_engineering", ["<s>[INST] <<SYS>>", "<</SYS>>", "[/INST]"]),
    10: ("02_prompt_engineering", ["You are a helpful, respectful and honest assistant for labeling topics.",
                                   "[/INST] Environmental impacts of eating meat", "[DOCUMENTS]", "'[KEYWORDS]'",
                                   "prompt = system_prompt + example_prompt + main_prompt"]),
    11: ("03_topic_modeling", ["open_embedding_model(settings)", "cached_embeddings(sentence_model, settings, abstracts)"]),
    12: ("03_topic_modeling", ["UMAP(n_neighbors=15, n_components=5, min_dist=0.0, metric='cosine'",
                               "metric='euclidean', cluster_selection_method='eom', prediction_data=True"]),
    13: ("03_topic_modeling", ["UMAP(n_neighbors=15, n_components=2, min_dist=0.0, metric='cosine'"]),
    14: ("03_topic_modeling", ["KeyBERTInspired()", "MaximalMarginalRelevance(diversity=0.3)",
                               "llm_representation(settings, generator, prompt", "representation_model = {"]),
    15: ("03_topic_modeling", ["topic_model = BERTopic(", "top_n_words=", "verbose=True",
                               "topic_model.fit_transform(abstracts, embeddings)"]),
    16: ("03_topic_modeling", ["get_topic_info()", "info.head(", "info.tail("]),
    17: ("03_topic_modeling", ["set_topic_labels("]),
    18: ("04_visualization", ["visualize_documents(", "hide_annotations=True", "hide_document_hover=False",
                              "custom_labels=True"]),
    19: ("04_visualization", ["sns.scatterplot(", 'size="Length"', "textwrap.fill(", "pe.withStroke(linewidth=0.5",
                              "adjust_text(texts, time_lim=1, force_text=(0.01, 0.02)", 'plt.legend("", frameon=False)',
                              "figsize=(figure_size, figure_size)"]),
}


def _code_lines(path) -> str:
    """A notebook's code, without comment lines and trailing comments: where a step is written, not mentioned."""
    import re

    cells = nbformat.read(path, as_version=4).cells
    code = "\n".join(c.source for c in cells if c.cell_type == "code" and "solution" not in c.metadata.get("tags", []))
    return "\n".join(re.sub(r"\s+#\s.*$|^\s*#.*$", "", line) for line in code.splitlines())


def test_every_seed_step_is_written_out_as_code_in_its_notebook():
    missing = {}
    for step, (notebook, markers) in SEED_STEPS.items():
        code = _code_lines(NOTEBOOKS / f"{notebook}.ipynb")
        missing.update({(step, notebook, m): "missing" for m in markers if m not in code})
    assert not missing
    assert set(SEED_STEPS) == set(range(1, 20)), "every step of SEED_NOTES.md"


@pytest.mark.parametrize("path", notebook_paths(), ids=lambda p: p.name)
def test_committed_notebook_shape(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")
    tagged = [i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", [])]
    assert tagged == [1], "exactly one parameters cell, right after the title"
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), "commit without outputs"
    assert nb.metadata.kernelspec.name == "python3"
    assert nb.cells[2].cell_type == "code" and "setup_notebook(" in nb.cells[2].source, "one setup call, right after"


@pytest.mark.parametrize("path", notebook_paths(), ids=lambda p: p.name)
def test_each_notebook_ends_with_exercises_and_hidden_solutions(path):
    cells = nbformat.read(path, as_version=4).cells
    start = next(i for i, c in enumerate(cells) if c.cell_type == "markdown" and c.source.startswith("## Exercises"))
    exercises = [c for c in cells[start:] if c.cell_type == "markdown" and c.source.startswith("**Exercise ")]
    solutions = [c for c in cells[start:] if "solution" in c.metadata.get("tags", [])]
    assert 2 <= len(exercises) <= 3 and len(solutions) == len(exercises)
    assert all(c.cell_type == "code" and c.metadata["jupyter"]["source_hidden"] for c in solutions)
    assert all(c.cell_type == "markdown" for c in cells[start:] if c not in solutions), "the exercises close the notebook"


@pytest.mark.same_on_any_cpu  # the cache's resume
def test_a_run_killed_during_03_resumes_with_the_cached_embeddings(tmp_path):
    import signal
    import time

    import papermill

    from helpers.llm import model_path
    from helpers.machine import default_cache_dir

    cache, run = tmp_path / "cache", tmp_path / "run"
    model_path("packaged:SmolLM2-135M-Instruct")  # converted once into the session's cache, and linked: no embeddings
    cache.mkdir()
    (cache / "models").symlink_to(default_cache_dir(None) / "models", target_is_directory=True)
    params = {"sample_size": 200, "more_settings": {"cache_dir": str(cache)}, "run_dir": str(run)}
    args = [sys.executable, "-m", "papermill", str(NOTEBOOKS / "03_topic_modeling.ipynb"), str(tmp_path / "killed.ipynb"),
            "--cwd", str(NOTEBOOKS), "-k", "python3", "-y", json.dumps(params)]
    process = subprocess.Popen(args, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while not list(cache.glob("embeddings/*.npy")) and time.time() < deadline and process.poll() is None:
        time.sleep(0.5)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert list(cache.glob("embeddings/*.npy")), "the embeddings were cached before the kill"
    assert not (run / "topics.csv").exists(), "the run was killed before it finished"

    papermill.execute_notebook(str(NOTEBOOKS / "03_topic_modeling.ipynb"), str(tmp_path / "resumed.ipynb"),
                               parameters=params, cwd=str(NOTEBOOKS), kernel_name="python3", progress_bar=False)
    outputs = str([c.outputs for c in nbformat.read(tmp_path / "resumed.ipynb", as_version=4).cells if c.cell_type == "code"])
    assert re.search(r"embeddings \(200, 384\) computed in torch\.\w+ \(reused from the cache\)", outputs), outputs[-2000:]
    assert (run / "topics.csv").exists()
    assert not [p for p in cache.rglob(".*") if p.is_file()], "no half-written cache files"


def test_a_system_prompt_edited_in_02_labels_03s_topics_and_the_table_names_it(run_dir, tmp_path):
    """What a workshop tries first: change the prompt in 02, run 02 and 03, see other labels (issue 26)."""
    import papermill

    reference = "You are a helpful, respectful and honest assistant for labeling topics."
    mine = "You are a sports reporter. You answer with one word in capital letters."
    nb = nbformat.read(NOTEBOOKS / "02_prompt_engineering.ipynb", as_version=4)
    (cell,) = [c for c in nb.cells if "teach:prompt" in c.metadata.get("tags", [])]
    assert reference in cell.source
    cell.source = cell.source.replace(reference, mine)  # the learner's edit, in the cell where the prompt is taught
    nbformat.write(nb, tmp_path / "02_edited.ipynb")
    run = tmp_path / "run"
    for source, params in ((tmp_path / "02_edited.ipynb", {"run_dir": str(run)}),
                           (NOTEBOOKS / "03_topic_modeling.ipynb", {"run_dir": str(run), "sample_size": SAMPLE})):
        papermill.execute_notebook(str(source), str(tmp_path / f"out-{source.name}"), cwd=str(NOTEBOOKS),
                                   parameters=params, kernel_name="python3",
                                   progress_bar=False)
    assert json.loads((run / "prompt.json").read_text())["system"] == mine
    printed = _stream_text(nbformat.read(tmp_path / "out-03_topic_modeling.ipynb", as_version=4))
    assert "prompt: edited: system" in printed
    edited = pd.read_csv(run / "labels.csv", keep_default_na=False).set_index("topic")
    before = pd.read_csv(run_dir / "labels.csv", keep_default_na=False).set_index("topic")
    assert set(edited.prompt) == {"edited: system"} and set(before.prompt) == {"reference"}
    shared = [t for t in edited.index.intersection(before.index) if t != -1]
    assert shared, "the same sample gives topics to compare"
    changed = [t for t in shared if edited.raw[t] != before.raw[t]]
    assert changed, "an edited system prompt gives the LLM's answers another wording"


# ---- your own data, end to end (issue 16) -------------------------------------------------
def _bbc_sample(n_per_category: int = 20) -> pd.DataFrame:
    from helpers.data import load_corpus

    corpus = load_corpus()
    return corpus.groupby("category").head(n_per_category).reset_index(drop=True)


def _write_txt_folder(root, sample: pd.DataFrame) -> None:
    for i, row in sample.iterrows():
        folder = root / row.category
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{i:03d}.txt").write_text(f"{row.title}\n{row.abstract}\n", encoding="utf-8")


def _write_cp1252_csv(path, sample: pd.DataFrame) -> None:
    sample = sample.assign(abstract=sample.abstract.str.replace("pounds", "£", regex=False) + " Café naïve.")
    path.write_bytes(sample.rename(columns={"abstract": "Text", "title": "Headline", "category": "Section"})
                     .to_csv(index=False, sep=";").encode("cp1252"))


@pytest.mark.parametrize("shape", ["txt folder", "cp1252 csv"])
def test_a_run_on_your_own_files(tmp_path, shape):
    sample = _bbc_sample()
    if shape == "txt folder":
        _write_txt_folder(tmp_path / "my_articles", sample)
        params = ["-p", "dataset", "my_articles", "-p", "first_line_title", "true"]
        read_note = f"Read {len(sample)} .txt files from my_articles/ (encoding: utf-8 ({len(sample)} files))."
    else:
        _write_cp1252_csv(tmp_path / "export.csv", sample)
        params = ["-p", "dataset", "export.csv", "-p", "text_column", "Text", "-p", "title_column", "Headline",
                  "-p", "category_column", "Section"]
        read_note = "Read export.csv (columns separated by ';', encoding cp1252 (detected"
    result = subprocess.run(
        [sys.executable, str(RUNNER), "--runs", str(tmp_path / "runs"), "--name", "mine", "--notebooks", "00", "03",
         *params, *(["--fresh-kernels"] if shape == "txt folder" else [])], cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    run = tmp_path / "runs" / "mine"
    for name in ("00_setup_and_login.ipynb", "03_topic_modeling.ipynb"):
        assert read_note in _stream_text(_executed(run, name)), name
    printed = _stream_text(_executed(run, "03_topic_modeling.ipynb"))
    assert "Length in words: median" in printed and "longer than 128 tokens, and embedding_max_tokens = 128" in printed
    documents = pd.read_parquet(run / "documents.parquet")
    assert len(documents) == len(sample) and sorted(documents.category.unique()) == sorted(sample.category.unique())
    assert sorted(documents.title) == sorted(sample.title)
    if shape == "cp1252 csv":
        assert documents.abstract.str.endswith(" Café naïve.").all() and documents.abstract.str.contains("£").any()
    labels = pd.read_csv(run / "labels.csv", keep_default_na=False)
    assert (labels.topic != -1).sum() >= 2 and labels.label.str.len().gt(0).all()


# ---- notebook 06: refining without losing the labels (issue 14) ---------------------------
def test_06_reduces_outliers_and_every_topic_keeps_an_llm_label(run_dir):
    from helpers.labeler._rubric import label_failures

    refined = run_dir / "refined"
    before = pd.read_parquet(run_dir / "documents.parquet")
    after = pd.read_parquet(refined / "documents.parquet")
    if (before.topic == -1).any():  # where 03 left none (fp32 CPUs), test_06_runs_on_a_run_with_no_outliers checks 06
        assert (after.topic == -1).mean() < min(0.05, (before.topic == -1).mean())
    assert after.topic.nunique() < before[before.topic != -1].topic.nunique(), "topics were merged"
    labels = pd.read_csv(refined / "labels.csv", keep_default_na=False)
    assert sorted(labels.topic) == sorted(after.topic.unique())
    for row in labels[labels.topic != -1].itertuples():
        mine = after[after.topic == row.topic]
        verdict = label_failures(row.label, "", mine.abstract.tolist(), mine.title.tolist(), fallback=row.fallback)
        assert verdict == (["keyword fallback"] if row.source == "keywords" else []), (row.label, verdict)
    printed = _stream_text(_executed(run_dir, "06_refining_topics.ipynb"))
    assert "labels kept from notebook 03 (same documents)" in printed and "new (merged topics)" in printed
    checks = re.findall(r"the labeler did the same: (\w+)", printed)  # 06's label_fate, written out, and changes_
    assert checks and set(checks) == {"True"}, checks
    evaluation = json.loads((refined / "evaluation.json").read_text())
    assert evaluation["run"]["outlier_share"] < 0.05 and evaluation["representations"]["LLM label"]["npmi"] is not None


def test_06_labels_every_inner_node_of_the_hierarchy_and_draws_it(run_dir):
    hierarchy = pd.read_csv(run_dir / "refined" / "hierarchy.csv", keep_default_na=False)
    topics = pd.read_parquet(run_dir / "refined" / "documents.parquet").topic.nunique()
    assert len(hierarchy) == topics - 1, "a binary tree over the topics"
    assert hierarchy.Parent_Name.str.strip().str.len().gt(0).all()
    assert not hierarchy.Parent_Name.str.contains("_").any(), "LLM labels, not BERTopic's joined words"
    page = (run_dir / "hierarchy_llm.html").read_text().replace("\\u0027", "'").replace("\\u0026", "&")
    below_root = hierarchy[hierarchy.Distance < hierarchy.Distance.max()]  # the root is nobody's child: no hover
    missing = [name for name in below_root.Parent_Name if json.dumps(name)[1:-1] not in page]
    assert not missing, f"inner-node labels missing on the page: {missing}"
    assert (run_dir / "topics_per_class.html").stat().st_size > 100_000


def test_06_keeps_your_edited_labels_through_merging_and_outliers(run_dir, tmp_path):
    import shutil

    import papermill

    run = tmp_path / "run"
    shutil.copytree(run_dir, run, ignore=shutil.ignore_patterns("refined"))
    to_edit = pd.read_csv(run / "labels_to_edit.csv", keep_default_na=False)
    documents = pd.read_parquet(run / "documents.parquet")
    largest = int(documents[documents.topic != -1].topic.value_counts().index[0])
    to_edit.loc[to_edit.topic == largest, "label"] = "My own name"
    to_edit.to_csv(tmp_path / "mine.csv", index=False)
    papermill.execute_notebook(str(NOTEBOOKS / "06_refining_topics.ipynb"), str(tmp_path / "06.ipynb"),
                               parameters={"run_dir": str(run), "edited_labels": str(tmp_path / "mine.csv")},
                               cwd=str(NOTEBOOKS), kernel_name="python3", progress_bar=False)
    after = pd.read_parquet(run / "refined" / "documents.parquet")
    labels = pd.read_csv(run / "refined" / "labels.csv", keep_default_na=False)
    home = after[documents.topic == largest].topic.value_counts().index[0]  # where the documents went
    assert labels.loc[labels.topic == home, ["label", "source"]].values.tolist() == [["My own name", "yours"]]
    topics = pd.read_csv(run / "refined" / "topics.csv")
    assert dict(zip(topics.Topic, topics.CustomName))[home] == "My own name", "the name every plot shows"
    assert "1 labels of yours" in _stream_text(nbformat.read(tmp_path / "06.ipynb", as_version=4))


def test_06_runs_on_a_run_with_no_outliers_and_reads_labels_edited_in_place(run_dir, tmp_path):
    """Another machine or corpus can leave HDBSCAN no outliers (issue 29); 06 says so and keeps the rest of the
    lesson. A label edited in labels_to_edit.csv itself is read and the file is never written over (issue 25, 5)."""
    import shutil

    import papermill

    from helpers.runs import load_results, save_results

    run = tmp_path / "run"
    shutil.copytree(run_dir, run, ignore=shutil.ignore_patterns("refined"))
    results = load_results(run)
    model, documents = results["topic_model"], results["documents"]
    docs = documents.abstract.tolist()
    if -1 in model.topics_:  # the run as another machine would have made it: every document placed
        model.update_topics(docs, topics=model.reduce_outliers(docs, model.topics_, strategy="c-tf-idf"))
    labels = results["labels"][results["labels"].topic.isin(model.topics_)]
    save_results(run, model, documents.drop(columns=["topic", "x", "y"]), documents[["x", "y"]].to_numpy(), labels,
                 results["settings"], results["settings"]["embedding_model"])
    from helpers.refine import labels_to_edit

    to_edit = labels_to_edit(labels)  # the file 06 writes for this run (the copied one is of the run before)
    largest = int(pd.Series(model.topics_).value_counts().index[0])
    to_edit.loc[to_edit.topic == largest, "label"] = "Edited in place"
    to_edit.to_csv(run / "labels_to_edit.csv", index=False)
    edited = (run / "labels_to_edit.csv").read_text()
    papermill.execute_notebook(str(NOTEBOOKS / "06_refining_topics.ipynb"), str(tmp_path / "06.ipynb"),
                               parameters={"run_dir": str(run)}, cwd=str(NOTEBOOKS), kernel_name="python3",
                               progress_bar=False)
    printed = _stream_text(nbformat.read(tmp_path / "06.ipynb", as_version=4))
    assert "No outliers: every document already has a topic, so reduce_outliers and its update_topics are skipped." \
        in printed
    assert "1 labels of yours" in printed and (run / "labels_to_edit.csv").read_text() == edited, "your edit stays"
    after = pd.read_parquet(run / "refined" / "documents.parquet")
    refined = pd.read_csv(run / "refined" / "labels.csv", keep_default_na=False)
    assert (after.topic != -1).all() and sorted(refined.topic) == sorted(after.topic.unique())
    assert "Edited in place" in refined.label.tolist() and (run / "hierarchy_llm.html").exists()


def test_03s_labels_are_distinct_and_show_their_share_and_duplicates(run_dir):
    """Issue 28: no two topics of a run share a label's head phrase or are closer than the measured threshold."""
    from helpers.label_similarity import near_duplicates
    from helpers.settings import PACKAGED_EMBEDDINGS
    from helpers.topics import load_embedding_model

    labels = pd.read_csv(run_dir / "labels.csv", keep_default_na=False)
    named = labels[labels.topic != -1]
    assert {"share", "duplicates"} <= set(labels.columns)
    texts = named.label.astype(str).tolist()
    model = load_embedding_model(PACKAGED_EMBEDDINGS)
    assert near_duplicates(texts, model.encode(texts, show_progress_bar=False)) == [], texts
    assert (named.duplicates == 0).all()
    assert named.share.between(0, 1).all()



@pytest.mark.same_on_any_cpu  # the runner's swap
def test_an_overwrite_killed_mid_notebook_leaves_every_earlier_result_where_it_was(run_dir, tmp_path):
    """Issue 37, item 6: a killed `--overwrite` hid the old results in runs/.<name>.replaced-..., and nothing
    restored them. SIGKILL (no handler runs) while 05 is re-running: the folder is as it was, your edits too."""
    import hashlib
    import shutil
    import signal
    import time

    run = tmp_path / "runs" / "shared"
    shutil.copytree(run_dir, run)
    (run / "labels_to_edit.csv").write_text("topic,label,source,llm_label\n0,MY HAND EDIT,llm,x\n")
    digest = lambda: {str(p.relative_to(run)): hashlib.sha256(p.read_bytes()).hexdigest()  # noqa: E731
                      for p in sorted(run.rglob("*")) if p.is_file()}
    before = digest()
    process = subprocess.Popen([sys.executable, str(RUNNER), "--runs", str(run.parent), "--name", "shared",
                                "--notebooks", "05", "--overwrite"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               start_new_session=True)
    deadline = time.time() + 300
    while time.time() < deadline and not list(run.parent.glob(".shared.next-*/shared/05_evaluation.ipynb")):
        time.sleep(0.5)
    assert list(run.parent.glob(".shared.next-*/shared/05_evaluation.ipynb")), "05 started in the staging folder"
    time.sleep(3)  # inside 05, past papermill's first write of the executed copy
    assert process.poll() is None, process.stdout.read().decode()[-2000:]
    os.killpg(process.pid, signal.SIGKILL)  # the runner; its kernel, in a session of its own, writes only to staging
    process.wait()
    time.sleep(2)  # the kernel sees its parent gone and exits
    assert digest() == before, "every earlier result, byte for byte"
    assert "MY HAND EDIT" in (run / "labels_to_edit.csv").read_text()
    assert list(run.parent.glob(".shared.next-*")), "the half-done re-run is beside it, cleared by the next one"


def test_opening_a_run_loads_its_embedding_model_once(run_dir, monkeypatch):
    """Issue 37, item 11: BERTopic.load built the model config.json named, then ours was passed (twice per open)."""
    import sentence_transformers

    from helpers.settings import resolve_settings
    from helpers.runs import load_results

    built = []
    original = sentence_transformers.SentenceTransformer.__init__

    def counting(self, *args, **kwargs):
        built.append(args[:1])
        original(self, *args, **kwargs)

    monkeypatch.setattr(sentence_transformers.SentenceTransformer, "__init__", counting)
    results = load_results(run_dir, resolve_settings("offline"))
    assert len(built) == 1 and results["topic_model"].embedding_model is not None
    assert json.loads((run_dir / "topic_model" / "config.json").read_text()).get("embedding_model") is None


def test_03_shows_the_posts_six_llama2_labels_beside_this_runs_model(run_dir):
    """The post's six topics with Llama 2's labels as printed, and this run's model's answer for each, named."""
    from helpers.post_topics import POST_TOPICS

    cell = next(c for c in _executed(run_dir, "03_topic_modeling.ipynb").cells if "post-labels" in c.metadata.get("tags", []))
    html = next(o for o in cell.outputs if "text/html" in o.get("data", {}))["data"]["text/html"]
    header = re.findall(r"<th>(.*?)</th>", html.split("</thead>")[0])
    assert header[-2:] == ["Llama-2-13b-chat (the post)", "packaged:SmolLM2-135M-Instruct (this run)"], header
    rows = [re.findall(r"<td>(.*?)</td>", row, flags=re.S) for row in html.split("<tbody>")[1].split("</tr>")[:-1]]
    assert [(int(r[0]), int(r[1]), r[-2]) for r in rows] == [(t["topic"], t["count"], t["llama2"]) for t in POST_TOPICS]
    assert all(len(r[-1].split()) >= 1 for r in rows), "this run's model answered every topic"
