"""The Colab editions: generated from the sources, in sync, self-contained, and runnable offline."""

from pathlib import Path
import ast
import importlib.util
import json
import subprocess
import sys

import nbformat
import pytest

from tools.run import REPO

pytestmark = pytest.mark.same_on_any_cpu  # what the editions hold: no precision changes it

spec = importlib.util.spec_from_file_location("build_colab", REPO / "tools" / "build_colab.py")
build_colab = importlib.util.module_from_spec(spec)
spec.loader.exec_module(build_colab)
EDITIONS = sorted((REPO / "colab").glob("*.ipynb"))
# Each edition's size in bytes before it embedded only the helpers its notebook imports (issue 34): `ls -l colab/`
# at commit 38fa27e, when every edition embedded every helpers module the series imports, the runner included.
SIZES_BEFORE_ISSUE_34 = {
    "00_setup_and_login.ipynb": 291753, "01_quantized_loading.ipynb": 296948, "02_prompt_engineering.ipynb": 331065,
    "03_topic_modeling.ipynb": 308877, "04_visualization.ipynb": 328802, "05_evaluation.ipynb": 336324,
    "06_refining_topics.ipynb": 338027, "07_going_big.ipynb": 325060, "all_in_one.ipynb": 423822,
}


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
    helpers = next(c for c in nb.cells if build_colab.HELPERS_MARK in c.source)
    for cell in (install, helpers):  # collapsed in Colab: one title line shows
        assert cell.metadata.get("cellView") == "form" and cell.source.startswith("#@title ")
    solutions = [c for c in nb.cells if "solution" in c.metadata.get("tags", [])]
    assert path.name == "all_in_one.ipynb" or len(solutions) >= 2  # the all-in-one's: in each notebook's edition
    assert all(c.metadata.get("cellView") == "form" and c.source.startswith("#@title Solution") for c in solutions)
    assert "git clone" not in "".join(sources)
    assert any(build_colab.HELPERS_MARK in s for s in sources) and any("profile_for_this_machine" in s for s in sources)
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
    import importlib.metadata as md

    shipped = {name: text for path in EDITIONS for name, text in _shipped(nbformat.read(path, as_version=4)).items()}
    modules = set()
    for text in shipped.values():
        for node in ast.walk(ast.parse(text)):
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


def _shipped(nb) -> dict[str, str]:
    """What an edition's helpers cell writes: path under helpers/ -> text."""
    return build_colab.shipped(next(c.source for c in nb.cells if build_colab.HELPERS_MARK in c.source))


def _as_python(source: str) -> str:
    """A cell without its IPython lines (%pip, !ls): each becomes ``pass``, so the cell still parses."""
    return "\n".join(line[:len(line) - len(line.lstrip())] + "pass" if line.lstrip().startswith(("%", "!")) else line
                     for line in source.splitlines())


def _code_it_runs(nb) -> list[str]:
    """The code an edition runs on the helpers it writes: every code cell but the helpers cell, and notebook 03's
    cells when it carries 03 (``NOTEBOOK_03``: it runs 03 on them, in a kernel of its own, when 03's results are
    missing)."""
    cells = [_as_python(c.source) for c in nb.cells if c.cell_type == "code" and build_colab.HELPERS_MARK not in c.source]
    carried = [text for source in cells if (text := build_colab.carried_notebook_03(source))]
    return cells + [_as_python(c.source) for text in carried for c in nbformat.reads(text, as_version=4).cells
                    if c.cell_type == "code"]


@pytest.mark.parametrize("path", EDITIONS, ids=lambda p: p.name)
def test_each_edition_writes_the_helpers_its_notebook_imports_and_nothing_else(path, tmp_path):
    """Python's own modulefinder, on the repository's helpers/, follows what the edition's cells import (inside
    functions too); the edition writes those files, and of the rest only files of a package below helpers/ that it
    imports (a package ships whole). Nothing of the runner or the test servers (tools/) ever."""
    import modulefinder

    nb = nbformat.read(path, as_version=4)
    script = tmp_path / "cells.py"
    script.write_text("\n\n".join(_code_it_runs(nb)))
    finder = modulefinder.ModuleFinder(path=[str(REPO)])
    finder.run_script(str(script))
    imported = {Path(m.__file__).relative_to(REPO / "helpers").as_posix() for name, m in finder.modules.items()
                if name.split(".")[0] == "helpers"}
    shipped = set(_shipped(nb))
    missing, _ = finder.any_missing_maybe()
    assert not [name for name in missing if name.split(".")[0] in ("helpers", "tools")], "imported, and no such module"
    assert not {name for name in finder.modules if name.split(".")[0] == "tools"}
    assert imported <= shipped, f"imported but not written: {sorted(imported - shipped)}"
    packages = {name.rsplit("/", 1)[0] + "/" for name in imported if "/" in name}
    assert not {n for n in shipped - imported if not n.startswith(tuple(packages))}, "written but never imported"
    assert "__init__.py" in shipped and not {"run.py", "overwrite.py", "servers.py"} & shipped


IMPORT_FROM_WHAT_IT_WROTE = r"""
import importlib, json, os, sys
from pathlib import Path

sys.meta_path[:] = [f for f in sys.meta_path if not getattr(f, "__module__", "").startswith("__editable__")]
for edition in json.loads(Path(sys.argv[1]).read_text()):
    folder = Path(edition["folder"]).resolve()
    folder.mkdir()
    os.chdir(folder)
    error = None
    try:
        exec(edition["helpers_cell"], {})  # writes helpers/ here and imports it, as in a Colab runtime
        for statement in edition["imports"]:
            exec(statement, {})
    except Exception as failed:
        error = f"{type(failed).__name__}: {failed}"
    loaded = {n: m.__file__ for n, m in sys.modules.items() if n.split(".")[0] == "helpers"}
    elsewhere = sorted(n for n, f in loaded.items() if not Path(f).resolve().is_relative_to(folder))
    print(json.dumps({"edition": edition["name"], "error": error, "loaded": len(loaded), "elsewhere": elsewhere}))
    for name in loaded:
        del sys.modules[name]
    sys.path[:] = [p for p in sys.path if p != str(folder)]
    importlib.invalidate_caches()
"""


def test_each_edition_imports_what_its_notebook_imports_from_the_helpers_it_writes_alone(tmp_path):
    """In a fresh Python whose only helpers/ is the one an edition's helpers cell writes (into an empty folder, as
    in a new Colab runtime), every helpers import of that edition's cells (and of 03's, where it carries 03) works."""
    editions = []
    for path in EDITIONS:
        nb = nbformat.read(path, as_version=4)
        imports = [ast.unparse(node) for source in _code_it_runs(nb) for node in ast.walk(ast.parse(source))
                   if isinstance(node, ast.Import) and any(a.name.split(".")[0] == "helpers" for a in node.names)
                   or isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "helpers"]
        assert imports, path.name
        editions.append({"name": path.name, "folder": str(tmp_path / path.stem), "imports": imports,
                         "helpers_cell": next(c.source for c in nb.cells if build_colab.HELPERS_MARK in c.source)})
    (tmp_path / "editions.json").write_text(json.dumps(editions))
    env = {k: v for k, v in __import__("os").environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([sys.executable, "-c", IMPORT_FROM_WHAT_IT_WROTE, str(tmp_path / "editions.json")],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    reports = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert [r["edition"] for r in reports] == [p.name for p in EDITIONS]
    assert [r for r in reports if r["error"] or r["elsewhere"] or r["loaded"] < 2] == []


@pytest.mark.parametrize("path", EDITIONS, ids=lambda p: p.name)
def test_the_helpers_cell_comes_before_every_cell_that_imports_helpers_and_03_unpacks_on_its_own(path):
    """The helpers cell writes helpers/ before any cell imports from it; the results cell (04-07) unpacks notebook 03
    with nothing but its own lines (a restarted runtime reruns it without the helpers cell) into 03's exact text."""
    nb = nbformat.read(path, as_version=4)
    at = next(i for i, c in enumerate(nb.cells) if build_colab.HELPERS_MARK in c.source)
    importing = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and i != at
                 and build_colab.imported_helpers(_as_python(c.source))]
    assert importing and min(importing) > at
    carrying = [c for c in nb.cells if "NOTEBOOK_03 =" in c.source]
    if path.name[:2] in ("04", "05", "06", "07"):
        statements = [n for n in ast.parse(_as_python(carrying[0].source)).body
                      if isinstance(n, ast.Import) or getattr(getattr(n, "targets", [None])[0], "id", "") == "NOTEBOOK_03"]
        namespace: dict = {}
        exec(compile(ast.Module(statements, type_ignores=[]), "results cell", "exec"), namespace)
        assert namespace["NOTEBOOK_03"] == (REPO / "notebooks" / "03_topic_modeling.ipynb").read_text()
    else:
        assert not carrying


def test_packing_survives_a_round_trip_and_gives_the_same_bytes_on_any_build():
    """pack -> decoded gives the text back, and the packed literal is the one recorded here when colab/ was built
    (bz2 and base85 give the same bytes on every build: colab/ changes only when a source does)."""
    import hashlib

    text = "print('héllo')\n" * 50
    assert build_colab.decoded(ast.literal_eval(build_colab.pack(text))) == text
    assert hashlib.sha256(build_colab.pack(text).encode()).hexdigest() == \
        "3435f41554466ad9cd0dd14ea61f4d0d0bd08a0159d7b8c296a4f41fa6579984"


@pytest.mark.parametrize("path", EDITIONS, ids=lambda p: p.name)
def test_each_edition_is_under_half_its_size_when_it_carried_every_helper(path):
    """The target of issue 34: the helpers packed (build_colab.pack), only those the notebook imports; the all-in-one
    (every notebook's lesson, about 139 KB, and the union of their helpers) without the exercises' solutions."""
    assert path.stat().st_size < SIZES_BEFORE_ISSUE_34[path.name] / 2


def test_the_all_in_one_runs_every_lesson_cell_and_sends_the_exercises_to_each_notebooks_edition():
    """Run all runs the lessons, as the runner does; the exercises are read here and worked in the notebook's own
    edition, which has every solution."""
    cells = nbformat.read(REPO / "colab" / "all_in_one.ipynb", as_version=4).cells
    sources = [c.source for c in cells]
    assert not [c for c in cells if "solution" in c.metadata.get("tags", []) or "#@title Solution" in c.source]
    headings = [c.source for c in cells if c.cell_type == "markdown" and c.source.startswith("## Exercises")]
    notebooks = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    assert notebooks and len(headings) == len(notebooks)
    for path, heading in zip(notebooks, headings):
        assert f"({build_colab.edition_url(path.stem)})" in heading, heading
        edition = [c.source for c in nbformat.read(REPO / "colab" / f"{path.stem}.ipynb", as_version=4).cells]
        for cell in nbformat.read(path, as_version=4).cells[2:]:
            if "solution" in cell.metadata.get("tags", []):
                assert build_colab.copy(cell).source in edition, f"{path.name}: a solution is missing from its edition"
            elif not cell.source.startswith("## Exercises"):
                assert cell.source in sources, f"{path.name}: a lesson cell is missing from the all-in-one"


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
    from helpers.runs import REQUIRED_RESULTS

    for name in REQUIRED_RESULTS:
        (tmp_path / name).touch()
    assert make_results_of_03(str(tmp_path), "not a notebook: never read", "offline") == \
        f"Notebook 03's results are in {tmp_path}."


def test_an_edition_after_03_runs_03_with_its_settings_and_the_colab_secret(tmp_path, monkeypatch, capsys):
    """Without 03's results, 04-06 run 03 in a kernel of their own: it gets the notebook's profile, folder and sample,
    and the Colab secret HF_TOKEN through the environment (the Hub reads Colab secrets only in Colab's own kernel).
    A stand-in for 03 (the same parameters cell) records what its kernel was given; 03's executed copy is kept."""
    import json

    import nbformat
    import papermill

    import helpers.auth

    assert {"profile", "run_dir", "sample_size"} <= set(papermill.inspect_notebook(
        str(REPO / "notebooks" / "03_topic_modeling.ipynb"))), "03 declares what it is given"
    stand_in = nbformat.v4.new_notebook()
    stand_in.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Python 3"}
    stand_in.cells = [
        nbformat.v4.new_code_cell('profile = "offline"\nrun_dir = "../runs/interactive"\nsample_size = None',
                                  metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(
            "import json, os, pathlib\n"
            "seen = {'profile': profile, 'run_dir': run_dir, 'sample_size': sample_size,\n"
            "        'token': os.environ.get('HF_TOKEN'), 'cwd': os.getcwd()}\n"
            "(pathlib.Path(run_dir) / 'seen.json').write_text(json.dumps(seen))"),
    ]
    monkeypatch.setenv("HF_TOKEN", "")  # recorded, so the token set below is taken back after the test
    monkeypatch.delenv("HF_TOKEN")
    monkeypatch.setattr(helpers.auth, "colab_secret", lambda name="HF_TOKEN": "hf_FAKE-secret-for-03")
    monkeypatch.chdir(tmp_path)  # where an edition writes helpers/: 03's kernel imports them from there
    from helpers.colab import make_results_of_03

    note = make_results_of_03("run", nbformat.writes(stand_in), "colab-t4", 300)
    run = (tmp_path / "run").resolve()
    assert note.startswith("Notebook 03 ran in") and note.endswith("its results are in run.")
    assert json.loads((run / "seen.json").read_text()) == {
        "profile": "colab-t4", "run_dir": str(run), "sample_size": 300, "token": "hf_FAKE-secret-for-03",
        "cwd": str(tmp_path.resolve())}
    executed = nbformat.read(run / "03_topic_modeling.ipynb", as_version=4)
    assert [c.metadata.get("tags") or [] for c in executed.cells] == [["parameters"], ["injected-parameters"], []]
    assert "so notebook 03 runs first, with profile 'colab-t4': about 25 minutes on a T4" in capsys.readouterr().out
