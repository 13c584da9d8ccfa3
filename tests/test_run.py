import pytest

from helpers.run import check_names, declared_parameters, notebook_paths, parse_value, prepare_run_dir


def test_notebooks_are_numbered_and_each_declares_profile():
    paths = notebook_paths()
    assert [p.name[:2] for p in paths] == [f"{i:02d}" for i in range(len(paths))]
    assert all("profile" in declared_parameters(p) for p in paths)


def test_unknown_parameter_suggests_the_closest():
    declared = {p: declared_parameters(p) for p in notebook_paths()}
    with pytest.raises(SystemExit, match=r"Unknown parameter 'sample_sise'.*Did you mean 'sample_size'\?"):
        check_names({"sample_sise": 3}, declared)
    check_names({"sample_size": 3, "label_method": "reference"}, declared)


def test_cli_values_are_typed_like_yaml():
    assert (parse_value("300"), parse_value("reference"), parse_value("null")) == (300, "reference", None)


def test_an_earlier_run_folder_is_never_overwritten_unless_asked(tmp_path):
    run = prepare_run_dir(tmp_path, "r1", overwrite=False)
    (run / "topics.csv").write_text("kept")
    with pytest.raises(SystemExit, match=r"already exists. Pick another --name, or pass --overwrite"):
        prepare_run_dir(tmp_path, "r1", overwrite=False)
    assert prepare_run_dir(tmp_path, "r1", overwrite=True) == run


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
