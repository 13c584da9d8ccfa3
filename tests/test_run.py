import pytest

from helpers.run import check_names, declared_parameters, notebook_paths, prepare_run_dir


def test_notebooks_are_numbered_and_each_declares_profile():
    paths = notebook_paths()
    assert [p.name[:2] for p in paths] == [f"{i:02d}" for i in range(len(paths))]
    assert all("profile" in declared_parameters(p) for p in paths)


def test_unknown_parameter_suggests_the_closest():
    declared = {p: declared_parameters(p) for p in notebook_paths()}
    with pytest.raises(SystemExit, match=r"Unknown parameter 'sample_sise'.*Did you mean 'sample_size'\?"):
        check_names({"sample_sise": 3}, declared)
    check_names({"sample_size": 3, "label_method": "reference"}, declared)


def test_cli_values_reach_the_notebooks_typed(tmp_path, monkeypatch):
    """`-p sample_size 300 -p label_method reference -p category_column null` as the runner passes them on."""
    import helpers.run as run

    given = {}
    monkeypatch.setattr(run, "execute", lambda paths, parameters, run_dir, *options: given.update(parameters) or [])
    run.main(["--runs", str(tmp_path), "--name", "x", "--notebooks", "03", "-p", "sample_size", "300",
              "-p", "label_method", "reference", "-p", "category_column", "null", "-p", "stop_words", "none"])
    assert given == {"sample_size": 300, "label_method": "reference", "category_column": None, "stop_words": "none"}


def test_an_earlier_run_folder_is_never_overwritten_unless_asked(tmp_path):
    every = notebook_paths()
    run = prepare_run_dir(tmp_path, "r1", overwrite=False, paths=every)
    (run / "topics.csv").write_text("kept")
    with pytest.raises(SystemExit, match=r"already exists. Pick another --name, or pass --overwrite"):
        prepare_run_dir(tmp_path, "r1", overwrite=False, paths=every)
    assert (run / "topics.csv").read_text() == "kept"
    assert prepare_run_dir(tmp_path, "r1", overwrite=True, paths=every) == run
    assert not (run / "topics.csv").exists(), "a full re-run starts clean"


def _full_run_folder(root):
    from helpers.run import PRODUCES

    run = root / "r"
    (run / "topic_model").mkdir(parents=True)
    for path in notebook_paths():
        (run / path.name).write_text("old")
    for products in PRODUCES.values():
        for name in products:
            if name != "topic_model":
                (run / name).write_text("old")
    return run


def test_overwrite_removes_what_the_rerun_replaces_and_what_it_makes_stale(tmp_path, capsys):
    run = _full_run_folder(tmp_path)
    prepare_run_dir(tmp_path, "r", overwrite=True, paths=notebook_paths(only=["03", "05"]))
    left = sorted(p.name for p in run.iterdir())
    # 00-02's executed copies stay; 03's results go, and 04's map drawn from the old topics with them
    assert left == ["00_setup_and_login.ipynb", "01_quantized_loading.ipynb", "02_prompt_engineering.ipynb"]
    assert "documents.html" in capsys.readouterr().out

    run = _full_run_folder(tmp_path / "again")
    prepare_run_dir(tmp_path / "again", "r", overwrite=True, paths=notebook_paths(only=["05"]))
    left = {p.name for p in run.iterdir()}
    assert {"topics.csv", "documents.html", "topic_model"} <= left, "re-evaluating keeps the topics and maps"
    assert not {"evaluation.json", "comparison.json", "05_evaluation.ipynb"} & left


def test_the_runner_lists_only_what_this_run_wrote(tmp_path):
    import os
    import time

    from helpers.run import PRODUCES, written_since

    assert set(PRODUCES) <= {p.stem for p in notebook_paths()}
    (tmp_path / "documents.html").write_text("old")
    os.utime(tmp_path / "documents.html", (time.time() - 3600, time.time() - 3600))
    start = time.time()
    (tmp_path / "evaluation.json").write_text("new")
    assert [p.name for p in written_since(tmp_path, start)] == ["evaluation.json"]


def test_path_parameters_are_read_from_where_the_command_was_typed(tmp_path):
    from helpers.run import absolute_paths

    (tmp_path / "my.csv").write_text("abstract\nx\n")
    given = {"compare_with": "runs/a", "cache_dir": "/abs/cache", "dataset": "my.csv", "sample_size": 3,
             "text_column": "my.csv"}
    out = absolute_paths(given, tmp_path)
    assert out["compare_with"] == str(tmp_path / "runs" / "a")
    assert out["cache_dir"] == "/abs/cache" and out["sample_size"] == 3
    assert out["dataset"] == str(tmp_path / "my.csv") and out["text_column"] == "my.csv"
    assert absolute_paths({"dataset": "CShorten/ML-ArXiv-Papers"}, tmp_path)["dataset"] == "CShorten/ML-ArXiv-Papers"
    # a file that is not there yet still names the caller's folder in the error the notebook raises
    assert absolute_paths({"dataset": "data/missing.csv"}, tmp_path)["dataset"] == str(tmp_path / "data" / "missing.csv")


def _notebook(path, *cells, parameters="x = 1"):
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(parameters, metadata={"tags": ["parameters"]})] + list(cells)
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Python 3"}
    nbformat.write(nb, path)
    return path


def test_one_shared_kernel_keeps_the_imports_but_no_variable_of_the_notebook_before(tmp_path):
    """The runner's default: notebooks run in one kernel (imports once per run), its namespace emptied between them."""
    import nbformat

    from helpers.run import execute

    code = nbformat.v4.new_code_cell
    first = _notebook(tmp_path / "01_a.ipynb", code("import sys, os\nleftover = 41\nimport json\nprint(os.getpid())"))
    second = _notebook(tmp_path / "02_b.ipynb", code(
        "import os, sys\nprint(os.getpid())\nprint('leftover' in globals(), 'json' in sys.modules, 'run_dir' in globals())"))
    for fresh in (False, True):
        out = tmp_path / f"out-{fresh}"
        out.mkdir()
        log = execute([first, second], {}, out, fresh_kernels=fresh)
        assert [r["notebook"] for r in log] == ["01_a.ipynb", "02_b.ipynb"]
        pids = [nbformat.read(out / name, as_version=4).cells[-1].outputs[0]["text"].split()[0] for name in ("01_a.ipynb", "02_b.ipynb")]
        seen = nbformat.read(out / "02_b.ipynb", as_version=4).cells[-1].outputs[0]["text"].split()[1:]
        assert seen[0] == "False", "no variable of the notebook before"
        assert (pids[0] == pids[1]) is (not fresh), "one kernel by default, one per notebook with fresh_kernels"


def test_exercise_solutions_run_only_when_asked(tmp_path):
    import nbformat

    from helpers.run import execute

    code = nbformat.v4.new_code_cell
    path = _notebook(tmp_path / "01_x.ipynb", code("done = []"),
                     code("done.append('solved')\nprint('solved')", metadata={"tags": ["solution"]}))
    for exercises in (False, True):
        out = tmp_path / f"out-{exercises}"
        out.mkdir()
        execute([path], {}, out, exercises=exercises)
        last = nbformat.read(out / "01_x.ipynb", as_version=4).cells[-1]
        assert "done.append('solved')" in last.source, "the solution is shown either way"
        assert (last.cell_type == "code" and last.outputs[0]["text"].strip() == "solved") is exercises
