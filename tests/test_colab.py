"""The Colab editions: generated from the sources, in sync, self-contained, and runnable offline."""

from pathlib import Path
import importlib.util

import nbformat
import pytest

from helpers.run import REPO

spec = importlib.util.spec_from_file_location("build_colab", REPO / "tools" / "build_colab.py")
build_colab = importlib.util.module_from_spec(spec)
spec.loader.exec_module(build_colab)
EDITIONS = sorted((REPO / "colab").glob("*.ipynb"))


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


def _install_cells(nb) -> tuple[list[str], list[str]]:
    """The pins of an edition's two %pip lines: (with dependencies, --no-deps)."""
    install = next(c for c in nb.cells if c.source.startswith("#@title Install what Colab lacks"))
    lines = [line.split("%pip install -q", 1)[1] for line in install.source.splitlines() if "%pip install" in line]
    plain, nodeps = lines
    return [w for w in plain.split() if "==" in w], [w for w in nodeps.split("#")[0].split() if "==" in w]


@pytest.mark.parametrize("path", EDITIONS, ids=lambda p: p.name)
def test_each_edition_installs_exactly_what_colab_lacks_of_the_requirements(path):
    """requirements.txt minus Colab's published package list (tools/colab_runtime), pinned as in requirements.txt:
    a package added to the requirements and missing from Colab can never be forgotten in the editions again."""
    plain, nodeps = _install_cells(nbformat.read(path, as_version=4))
    assert plain == build_colab.colab_lacks() and nodeps == build_colab.colab_lacks(REPO / "requirements-nodeps.txt")
    colab = build_colab.colab_packages()
    assert "gensim==4.4.0" in plain and "importlib-resources==7.1.0" in plain, "the two an earlier edition forgot"
    assert not any(build_colab.normalized(pin.split("==")[0]) in colab for pin in plain + nodeps), "never Colab's own"
    assert not {"pytest", "jupyterlab"} & {pin.split("==")[0] for pin in plain}, "dev tools stay out of Colab"


def test_every_distribution_the_shipped_helpers_import_is_in_colab_or_installed():
    """What the hook checks, as a test: each module the editions' helpers import comes from Colab or the editions'
    installs (this venv tells which distribution provides each module)."""
    import ast
    import importlib.metadata as md

    shipped = {f"{name}.py" for name in build_colab.HELPERS_FOR_COLAB}
    modules = set()
    for path in (REPO / "helpers").glob("*.py"):
        if path.name in shipped:
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Import):
                    modules |= {a.name.split(".")[0] for a in node.names}
                elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    modules.add(node.module.split(".")[0])
    plain, nodeps = _install_cells(nbformat.read(EDITIONS[0], as_version=4))
    provided = set(build_colab.colab_packages()) | {build_colab.normalized(p.split("==")[0]) for p in plain + nodeps}
    distributions = md.packages_distributions()
    missing = sorted({f"{m} ({d})" for m in modules for d in distributions.get(m, [])
                      if build_colab.normalized(d) not in provided})
    assert not missing, f"imported by the shipped helpers, neither in Colab nor installed: {missing}"


def test_keep_on_drive_puts_the_run_folder_on_the_mounted_drive_and_does_nothing_outside_colab(tmp_path, monkeypatch,
                                                                                              capsys):
    import sys
    import types

    import helpers.colab as colab

    mounted = []

    def mount(where):
        mounted.append(where)
        (tmp_path / "drive" / "MyDrive").mkdir(parents=True)

    monkeypatch.setitem(sys.modules, "google.colab", types.SimpleNamespace(drive=types.SimpleNamespace(mount=mount)))
    monkeypatch.setattr(colab, "DRIVE", tmp_path / "drive")
    monkeypatch.setattr(colab, "DRIVE_FOLDER", tmp_path / "drive" / "MyDrive" / "topic-modeling-llama2")
    assert colab.drive_run_dir("runs/interactive", False) == "runs/interactive" and not mounted
    monkeypatch.setattr(colab, "running_in_colab", lambda: False)
    assert colab.drive_run_dir("runs/interactive", True) == "runs/interactive" and not mounted
    assert "outside Colab the results stay in runs/interactive" in capsys.readouterr().out
    monkeypatch.setattr(colab, "running_in_colab", lambda: True)
    run = colab.drive_run_dir("runs/interactive", True)
    assert run == str(tmp_path / "drive" / "MyDrive" / "topic-modeling-llama2" / "runs" / "interactive")
    assert mounted == [str(tmp_path / "drive")] and (tmp_path / run).is_dir()
    assert colab.drive_run_dir(run, True) == run and len(mounted) == 1, "running the cell again changes nothing"
    capsys.readouterr()
    # issue 37, item 9: an absolute folder outside the Drive was reported as "kept on your Google Drive"
    outside = str(tmp_path / "content" / "x")
    assert colab.drive_run_dir(outside, True) == outside and not Path(outside).exists()
    said = capsys.readouterr().out
    assert "is outside your Google Drive" in said and "kept on your Google Drive" not in said


def test_an_edition_after_03_finds_its_results_without_running_03_again(tmp_path):
    from helpers.colab import make_results_of_03
    from helpers.topics import REQUIRED_RESULTS

    for name in REQUIRED_RESULTS:
        (tmp_path / name).touch()
    assert make_results_of_03(str(tmp_path), "not a notebook: never read", "offline") == \
        f"Notebook 03's results are in {tmp_path}."


def test_an_edition_after_03_runs_03_with_its_settings_and_the_colab_secret(tmp_path, monkeypatch, capsys):
    """Without 03's results, 04-06 run 03 in a kernel of their own: it gets the notebook's profile, folder and sample,
    and the Colab secret HF_TOKEN through the environment (the Hub reads Colab secrets only in Colab's own kernel)."""
    import nbclient

    import helpers.auth

    seen = {}

    class Client:
        def __init__(self, notebook, **kwargs):
            seen["cells"] = [c.source for c in notebook.cells if "injected-parameters" in c.metadata.get("tags", [])]

        def execute(self):
            seen["token"] = __import__("os").environ.get("HF_TOKEN")

    monkeypatch.setenv("HF_TOKEN", "")  # recorded, so the token set below is taken back after the test
    monkeypatch.delenv("HF_TOKEN")
    monkeypatch.setattr(helpers.auth, "colab_secret", lambda name="HF_TOKEN": "hf_FAKE-secret-for-03")
    monkeypatch.setattr(nbclient, "NotebookClient", Client)
    from helpers.colab import make_results_of_03

    note = make_results_of_03(str(tmp_path / "run"), (REPO / "notebooks" / "03_topic_modeling.ipynb").read_text(),
                              "colab-t4", 300)
    assert seen["token"] == "hf_FAKE-secret-for-03" and note.startswith("Notebook 03 ran in")
    assert seen["cells"] == [f"profile = 'colab-t4'\nrun_dir = {str((tmp_path / 'run').resolve())!r}\nsample_size = 300"]
    assert "so notebook 03 runs first, with profile 'colab-t4': about 25 minutes on a T4" in capsys.readouterr().out
