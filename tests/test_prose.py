"""The prose is short (issue 34, item 6): no markdown cell over 150 words, each notebook's prose under 1,000 words;
the caveats, numbers and background go to docs/going-further.md, which a notebook links to."""

from pathlib import Path

import nbformat
import pytest

pytestmark = pytest.mark.same_on_any_cpu  # the notebooks' prose: no precision changes it

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
GOING_FURTHER = ROOT / "docs" / "going-further.md"
MAX_CELL_WORDS = 150
MAX_NOTEBOOK_WORDS = 1000


def markdown_words(path: Path) -> list[tuple[int, int]]:
    """(cell index, word count) of every markdown cell of the notebook at ``path``."""
    cells = nbformat.read(path, as_version=4).cells
    return [(i, len(c.source.split())) for i, c in enumerate(cells) if c.cell_type == "markdown"]


def test_there_are_notebooks_to_check():
    assert NOTEBOOKS, "no notebook in notebooks/"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_markdown_cell_is_over_150_words(path):
    long = [(i, n) for i, n in markdown_words(path) if n > MAX_CELL_WORDS]
    assert not long, f"{path.name}: markdown cells over {MAX_CELL_WORDS} words (cell index, words): {long}; " \
                     "move the caveats to docs/going-further.md"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_the_notebooks_prose_is_under_1000_words(path):
    words = markdown_words(path)
    total = sum(n for _, n in words)
    largest = sorted(words, key=lambda t: -t[1])[:3]
    assert total < MAX_NOTEBOOK_WORDS, f"{path.name}: {total} words of markdown (largest cells, index and words: " \
                                       f"{largest}); move some to docs/going-further.md"


def test_going_further_exists_and_a_notebook_links_to_it():
    assert GOING_FURTHER.is_file(), "docs/going-further.md is missing"
    assert GOING_FURTHER.read_text(encoding="utf-8").strip(), "docs/going-further.md is empty"
    linking = [p.name for p in NOTEBOOKS if any(
        c.cell_type == "markdown" and "going-further.md" in c.source for c in nbformat.read(p, as_version=4).cells)]
    assert linking, "no notebook links to docs/going-further.md"
