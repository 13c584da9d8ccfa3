"""Every notebook, executed with papermill on a small offline sample, checked by what it produced."""

import json
import os
import subprocess
import sys

import nbformat
from conftest import assert_secret_absent
import pandas as pd
import pytest

from helpers.labels import is_prompt_echo
from helpers.run import NOTEBOOKS, notebook_paths

pytestmark = pytest.mark.notebooks
FAKE_TOKEN = "hf_FAKE-test-token-never-real-0123456789"
SAMPLE = 300


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory):
    """One run of the whole series (``python -m helpers.run``) with a fake HF token set."""
    runs = tmp_path_factory.mktemp("runs")
    env = {**os.environ, "HF_TOKEN": FAKE_TOKEN}
    result = subprocess.run(
        [sys.executable, "-m", "helpers.run", "--runs", str(runs), "--name", "test", "-p", "sample_size", str(SAMPLE)],
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


def test_one_clean_label_per_topic(run_dir):
    topics = pd.read_csv(run_dir / "topics.csv")
    labels = pd.read_csv(run_dir / "labels.csv", keep_default_na=False)
    assert sorted(labels.topic) == sorted(topics.Topic)
    assert labels.label.str.strip().str.len().gt(0).all()
    assert not any(is_prompt_echo(label) for label in labels.label)
    assert labels.label.str.split().str.len().le(12).all()
    assert "\n" not in "".join(labels.label)


def test_labels_are_the_names_the_plots_use(run_dir):
    topics = pd.read_csv(run_dir / "topics.csv")
    labels = pd.read_csv(run_dir / "labels.csv", keep_default_na=False)
    assert dict(zip(topics.Topic, topics.CustomName)) == dict(zip(labels.topic, labels.label))


def test_plots_exist_and_are_not_trivial(run_dir):
    from PIL import Image

    png = run_dir / "topic_map.png"
    assert png.stat().st_size > 20_000
    assert min(Image.open(png).size) > 500
    html = (run_dir / "documents.html").read_text()
    assert len(html) > 20_000 and "plotly" in html.lower()
    documents = pd.read_parquet(run_dir / "documents.parquet")
    labels = pd.read_csv(run_dir / "labels.csv", keep_default_na=False)
    shown = labels[labels.topic.isin(documents.topic[documents.topic >= 0])].label
    assert any(label in html for label in shown)


def test_03_saves_what_04_needs_without_pickle(run_dir):
    model_files = {p.name for p in (run_dir / "topic_model").iterdir()}
    assert "topic_embeddings.safetensors" in model_files and not any(n.endswith((".pkl", ".pickle")) for n in model_files)
    documents = pd.read_parquet(run_dir / "documents.parquet")
    assert {"abstract", "title", "topic", "x", "y", "category"} <= set(documents.columns) and len(documents) == SAMPLE
    assert json.loads((run_dir / "settings.json").read_text())["sample_size"] == SAMPLE


def test_the_token_never_reaches_outputs_or_artifacts(run_dir):
    assert_secret_absent(run_dir, FAKE_TOKEN)
    login = "".join(str(o) for c in _executed(run_dir, "00_setup_and_login.ipynb").cells if c.cell_type == "code" for o in c.outputs)
    assert "no Hugging Face login needed, skipped" in login


def test_01_shows_footprint_and_answers_side_by_side(run_dir):
    outputs = [o for c in _executed(run_dir, "01_quantized_loading.ipynb").cells if c.cell_type == "code" for o in c.outputs]
    table = next(o for o in outputs if "footprint_mb" in str(o.get("data", {}).get("text/plain", "")))
    text = table["data"]["text/plain"]
    assert all(kind in text for kind in ("nf4", "int8", "none"))
    assert "MatMul8bitLt" not in str(outputs)


def test_04_without_results_names_notebook_03(tmp_path):
    import papermill

    with pytest.raises(papermill.PapermillExecutionError, match="03_topic_modeling"):
        papermill.execute_notebook(
            str(NOTEBOOKS / "04_visualization.ipynb"), str(tmp_path / "out.ipynb"),
            parameters={"run_dir": str(tmp_path / "empty")}, cwd=str(NOTEBOOKS), kernel_name="python3", progress_bar=False,
        )


# ---- the committed notebooks themselves --------------------------------------------
SEED_STEPS = {
    1: "requirements.txt", 2: "load_corpus(", 3: "notebook_login", 4: "compute_device()",
    5: "bnb_4bit_use_double_quant", 6: "load_llm(", 7: "make_generator(", 8: "as if I am 5",
    9: "llama2_prompt()", 10: "build_prompt(", 11: "embed_documents(", 12: "hdbscan_model(",
    13: "reduce_2d(", 14: "representation_models(", 15: "fit_transform(abstracts, embeddings)",
    16: "get_topic_info()", 17: "set_topic_labels(", 18: "visualize_documents(", 19: "topic_map(",
}


def test_every_seed_step_has_its_place_in_a_notebook():
    text = "\n".join(p.read_text() for p in notebook_paths())
    missing = {step: marker for step, marker in SEED_STEPS.items() if marker not in text}
    assert not missing


@pytest.mark.parametrize("path", notebook_paths(), ids=lambda p: p.name)
def test_committed_notebook_shape(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")
    tagged = [i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", [])]
    assert tagged == [1], "exactly one parameters cell, right after the title"
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), "commit without outputs"
    assert nb.metadata.kernelspec.name == "python3"


def test_a_run_killed_during_03_resumes_with_the_cached_embeddings(tmp_path):
    import signal
    import time

    import papermill

    cache, run = tmp_path / "cache", tmp_path / "run"
    params = {"sample_size": 200, "cache_dir": str(cache), "run_dir": str(run)}
    args = [sys.executable, "-m", "papermill", str(NOTEBOOKS / "03_topic_modeling.ipynb"), str(tmp_path / "killed.ipynb"),
            "--cwd", str(NOTEBOOKS), "-k", "python3"]
    for name, value in params.items():
        args += ["-p", name, str(value)]
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
    assert "embeddings (200, 384) (reused from the cache)" in outputs
    assert (run / "topics.csv").exists()
    assert not [p for p in cache.rglob(".*") if p.is_file()], "no half-written cache files"
