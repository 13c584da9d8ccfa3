"""The first screen of every notebook is short (issue 26): at most 10 knobs, at most 15 lines of code before the
first lesson section, one setup line; every notebook has a "change X, re-run, compare" exercise with a solution."""

import ast
from pathlib import Path

import nbformat
import pytest

pytestmark = pytest.mark.same_on_any_cpu  # the notebooks' cells: no precision changes it

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def knobs(source: str) -> list[str]:
    """The names a parameters cell assigns."""
    return [t.id for node in ast.parse(source).body if isinstance(node, ast.Assign) for t in node.targets
            if isinstance(t, ast.Name)]


def code_lines_before_first_section(nb) -> int:
    lines = 0
    for cell in nb.cells:
        if cell.cell_type == "markdown" and cell.source.lstrip().startswith("## "):
            return lines
        if cell.cell_type == "code":
            lines += sum(1 for line in cell.source.splitlines() if line.strip())
    raise AssertionError("no '## ' lesson section")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_the_first_screen_is_short(path):
    nb = nbformat.read(path, as_version=4)
    parameters = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    names = knobs(parameters.source)
    assert len(names) <= 10, f"{path.name}: {len(names)} knobs in the parameters cell: {names}"
    assert code_lines_before_first_section(nb) <= 15, f"{path.name}: more than 15 lines of code before its first section"
    setup = nb.cells[nb.cells.index(parameters) + 1]
    calls = [line for line in setup.source.splitlines() if "setup_notebook(" in line and "import" not in line]
    assert len(calls) == 1 and calls[0].startswith("settings = setup_notebook("), f"{path.name}: one setup line"


def test_knob_counting_sees_every_assignment():
    assert knobs('profile = "offline"  # x\nrun_dir = "a"\nmore_settings = {}\n') == ["profile", "run_dir", "more_settings"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_notebook_has_a_change_rerun_compare_exercise_with_a_solution(path):
    nb = nbformat.read(path, as_version=4)
    found = [i for i, c in enumerate(nb.cells) if c.cell_type == "markdown" and "Change, re-run, compare" in c.source]
    assert found, f"{path.name}: no exercise marked 'Change, re-run, compare'"
    after = nb.cells[found[0] + 1]
    assert after.cell_type == "code" and "solution" in after.metadata.get("tags", []), \
        f"{path.name}: the exercise's solution cell (tagged 'solution', run by the tests with --exercises) follows it"
