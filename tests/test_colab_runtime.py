"""The Colab editions as their users meet them: Colab's own package versions, each edition opened from its badge
in a fresh runtime (a fresh copy of the environment, an empty folder, an empty home and cache), the install
cells run as written. ``make colab-test`` runs these; they build the environment once (tools/colab_env.py)."""

import json
import sys

import nbformat
import pandas as pd
import pytest

from conftest import assert_secret_absent
from tools.run import REPO

sys.path.insert(0, str(REPO / "tools"))
import colab_env  # noqa: E402
from build_colab import HELPERS_MARK  # noqa: E402

pytestmark = pytest.mark.colab_runtime
SAMPLE = 200
FAKE_TOKEN = "hf_FAKE-colab-test-token-never-real-0123"
# 04 to 07 each run notebook 03 first in their fresh runtime: 04 shows that path; 05's, 06's and 07's lesson cells run
# in the all-in-one edition (its asserts cover theirs; their solutions run in test_notebooks.py, through the runner's
# --exercises), and test_colab.py checks that each edition writes every helper it imports. Each fresh runtime costs
# minutes on a 2-core machine (5 min for 07), so CI runs them once (issue 36).
RUNS_03_FIRST_ELSEWHERE = {"05_evaluation", "06_refining_topics", "07_going_big"}
EDITIONS = sorted(p.stem for p in (REPO / "colab").glob("*.ipynb") if p.stem not in RUNS_03_FIRST_ELSEWHERE)
COUNT_LLMS_ALIVE = """
import gc
import transformers

ALIVE_AT_LOAD, _load = [], transformers.AutoModelForCausalLM.from_pretrained.__func__


def _is_llm(o):
    try:
        return isinstance(o, transformers.PreTrainedModel) and o.can_generate()
    except ReferenceError:  # a dead weak proxy
        return False


def _counted(cls, *args, **kwargs):
    gc.collect()
    ALIVE_AT_LOAD.append(sum(_is_llm(o) for o in gc.get_objects()))
    return _load(cls, *args, **kwargs)


transformers.AutoModelForCausalLM.from_pretrained = classmethod(_counted)
"""
SHOW_LLMS_AND_HELPERS = (
    'import sys\nprint("LLMS ALIVE AT EACH LOAD:", ALIVE_AT_LOAD)\n'
    'print("HELPERS FROM:", sorted({str(__import__("pathlib").Path(m.__file__).parent.resolve()) '
    'for n, m in list(sys.modules.items()) if n.split(".")[0] == "helpers" and getattr(m, "__file__", None)}))'
)


@pytest.fixture(scope="session")
def base():
    """The Colab-like environment, built once (delete .colab-env/base to rebuild it)."""
    return colab_env.build()


def _printed(path) -> str:
    nb = nbformat.read(path, as_version=4)
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)


def _edition(name: str, root):
    """The edition as committed; the all-in-one one with two cells of ours (LLMs alive at each load, where
    the helpers came from)."""
    path = REPO / "colab" / f"{name}.ipynb"
    if name != "all_in_one":
        return path
    edition = nbformat.read(path, as_version=4)
    at = next(i for i, c in enumerate(edition.cells) if HELPERS_MARK in c.source) + 1
    edition.cells.insert(at, nbformat.v4.new_code_cell(COUNT_LLMS_ALIVE))
    edition.cells.append(nbformat.v4.new_code_cell(SHOW_LLMS_AND_HELPERS))
    root.mkdir(parents=True, exist_ok=True)
    nbformat.write(edition, root.parent / f"{name}.ipynb")
    return root.parent / f"{name}.ipynb"


@pytest.mark.parametrize("name", EDITIONS)
def test_each_edition_runs_from_its_badge_on_colabs_packages(name, base, tmp_path):
    root = tmp_path / "runtime"
    report = colab_env.run_edition(_edition(name, root), root, {"sample_size": SAMPLE}, base,
                                   secrets={"HF_TOKEN": FAKE_TOKEN})
    assert report["returncode"] == 0, report["log"]
    assert report["changed"] == {}, f"the install cells changed Colab's own packages: {report['changed']}"
    colab = colab_env.colab_packages()
    other = {n: [v, colab[n]] for n, v in report["added"].items() if colab.get(n) and v != colab[n]}
    assert not other, f"installed beside Colab's runtime at another version than Colab's own: {other}"
    printed = _printed(report["executed"])
    assert "switched to 'offline'" in printed, "no GPU here: the edition switches to the offline profile"
    run = report["paths"]["content"] / "runs" / "interactive"
    if name[:2] in ("04", "05", "06"):  # a fresh runtime has no 03 results: the edition makes them, saying so
        assert "so notebook 03 runs first" in printed and "Notebook 03 ran in" in printed
    if name.startswith(("03", "04", "05", "06", "all")):
        documents = pd.read_parquet(run / "documents.parquet")
        assert len(documents) == SAMPLE and documents.topic.nunique() >= 2
    expected = {"04": ["documents.html", "topic_map.png", "datamap.png"], "05": ["evaluation.json", "evaluation.png"],
                "06": ["refined/labels.csv", "hierarchy_llm.html"],
                "al": ["documents.html", "topic_map.png", "datamap.png", "evaluation.json", "evaluation.png",
                       "refined/labels.csv", "hierarchy_llm.html"]}.get(name[:2], [])
    for file in expected:
        assert (run / file).stat().st_size > 0, file
    if name == "all_in_one":
        alive = json.loads(printed.split("LLMS ALIVE AT EACH LOAD: ")[1].split("\n")[0])
        assert len(alive) >= 5 and set(alive) == {0}, f"one LLM in memory at a time, across the whole series: {alive}"
        helpers_from = eval(printed.split("HELPERS FROM: ")[1].split("\n")[0])
        own = str((report["paths"]["content"] / "helpers").resolve())  # the package, and its labeler/ beside
        assert helpers_from and all(f == own or f.startswith(own + "/") for f in helpers_from), helpers_from
    if name.startswith(("06", "all")):
        labels = pd.read_csv(run / "refined" / "labels.csv", keep_default_na=False)
        assert labels[labels.topic != -1].label.str.len().gt(0).all(), "every refined topic is named"
    for where in (report["paths"]["content"], report["paths"]["home"], report["executed"].parent / "executed.ipynb"):
        if where.is_file():
            assert FAKE_TOKEN.encode() not in where.read_bytes()
        else:
            assert_secret_absent(where, FAKE_TOKEN)  # what the edition wrote (the environment copy is Colab's)


def test_the_colab_like_environment_has_colabs_versions(base):
    """What the editions above ran on: Colab's numpy, pandas, transformers, sentence-transformers, IPython."""
    have = colab_env.installed(base / "bin" / "python")
    colab = colab_env.colab_packages()
    for name in ("numpy", "pandas", "transformers", "sentence-transformers", "scikit-learn", "plotly", "ipython",
                 "ipykernel", "umap-learn", "hdbscan", "huggingface-hub", "datasets", "matplotlib"):
        assert have[name] == colab[name], name
    assert have["torch"].startswith("2.13.0"), "this machine's CPU build in place of Colab's CUDA one (the one difference)"
    assert "bertopic" not in have and "gensim" not in have, "what Colab lacks comes from the editions' install cells"
