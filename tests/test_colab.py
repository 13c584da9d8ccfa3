"""The Colab editions: generated from the sources, in sync, self-contained, and runnable offline."""

import importlib.util

import nbformat
from conftest import assert_secret_absent
import pytest

from helpers.run import REPO

spec = importlib.util.spec_from_file_location("build_colab", REPO / "tools" / "build_colab.py")
build_colab = importlib.util.module_from_spec(spec)
spec.loader.exec_module(build_colab)
EDITIONS = sorted((REPO / "colab").glob("*.ipynb"))
FAKE_TOKEN = "hf_FAKE-colab-test-token-never-real-0123"
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


def test_colab_folder_is_exactly_what_the_generator_writes():
    files = build_colab.build()
    assert sorted(files) == sorted(p.name for p in EDITIONS)
    for name, text in files.items():
        assert (REPO / "colab" / name).read_text() == text, f"colab/{name} drifted: run `make colab`"


def test_one_edition_per_notebook_plus_all_in_one():
    names = {p.stem for p in EDITIONS}
    assert names == {p.stem for p in (REPO / "notebooks").glob("[0-9][0-9]_*.ipynb")} | {"all_in_one"}


@pytest.mark.parametrize("path", EDITIONS, ids=lambda p: p.name)
def test_each_edition_is_valid_and_self_contained(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1 and 'profile = "colab-t4"' in tagged[0].source
    sources = [c.source for c in nb.cells if c.cell_type == "code"]
    install = next(c for c in nb.cells if c.source.startswith("#@title Install what Colab lacks"))
    assert "torch" not in install.source.split("\n", 1)[1] and "if IS_COLAB" in install.source
    helpers = next(c for c in nb.cells if "HELPERS = {" in c.source)
    for cell in (install, helpers):  # collapsed in Colab: one title line shows
        assert cell.metadata.get("cellView") == "form" and cell.source.startswith("#@title ")
    solutions = [c for c in nb.cells if "solution" in c.metadata.get("tags", [])]
    assert len(solutions) >= 2 and all(c.metadata.get("cellView") == "form" and c.source.startswith("#@title Solution")
                                       for c in solutions)
    assert "git clone" not in "".join(sources)
    assert any("HELPERS = {" in s for s in sources) and any("profile_for_this_machine" in s for s in sources)
    assert "colab.research.google.com/github/" in nb.cells[0].source


@pytest.mark.notebooks
def test_all_in_one_edition_runs_offline_and_never_shows_the_token(tmp_path, monkeypatch):
    import papermill

    monkeypatch.setenv("HF_TOKEN", FAKE_TOKEN)
    run = tmp_path / "run"
    # Count the chat LLMs alive at every LLM load (every from_pretrained, in the notebooks and in load_llm)
    edition = nbformat.read(REPO / "colab" / "all_in_one.ipynb", as_version=4)
    at = next(i for i, c in enumerate(edition.cells) if "HELPERS = {" in c.source) + 1
    edition.cells.insert(at, nbformat.v4.new_code_cell(COUNT_LLMS_ALIVE))
    edition.cells.append(nbformat.v4.new_code_cell('print("LLMS ALIVE AT EACH LOAD:", ALIVE_AT_LOAD)'))
    edition.cells.append(nbformat.v4.new_code_cell(  # in Colab there is no repository to fall back on
        'import sys\nprint("HELPERS FROM:", sorted({str(__import__("pathlib").Path(m.__file__).parent.resolve()) '
        'for n, m in list(sys.modules.items()) if n.split(".")[0] == "helpers" and getattr(m, "__file__", None)}))'))
    nbformat.write(edition, tmp_path / "all_in_one.ipynb")
    papermill.execute_notebook(
        str(tmp_path / "all_in_one.ipynb"), str(tmp_path / "executed.ipynb"),
        parameters={"sample_size": 300, "run_dir": str(run)}, cwd=str(tmp_path), kernel_name="python3",
        progress_bar=False,
    )
    executed = (tmp_path / "executed.ipynb").read_text()
    assert "switched to 'offline'" in executed
    alive = eval(executed.split("LLMS ALIVE AT EACH LOAD: ")[1].split("\\n")[0])
    assert len(alive) >= 7 and set(alive) == {0}, f"one LLM in memory at a time, across the whole series: {alive}"
    assert (tmp_path / "helpers" / "labels.py").exists(), "the edition wrote its own helpers"
    loaded_from = eval(executed.split("HELPERS FROM: ")[1].split("\\n")[0])
    assert loaded_from == [str((tmp_path / "helpers").resolve())], f"every helpers module from the edition: {loaded_from}"
    for name in ("topics.csv", "labels.csv", "documents.html", "topic_map.png", "evaluation.json", "evaluation.png"):
        assert (run / name).stat().st_size > 0
    assert_secret_absent(tmp_path, FAKE_TOKEN)
