"""Run one tagged cell of a committed notebook in a namespace the test gives it.

The taught code lives in the notebooks (the reference's lines, written out); these tests
run that very cell, so what they check is what a learner reads.
"""

from pathlib import Path

import nbformat

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def cell_source(notebook: str, tag: str) -> str:
    """The source of the one cell tagged ``tag`` in ``notebooks/<notebook>``."""
    cells = [c for c in nbformat.read(NOTEBOOKS / notebook, as_version=4).cells if tag in c.metadata.get("tags", [])]
    assert len(cells) == 1, f"{notebook}: {len(cells)} cells tagged {tag!r}"
    return cells[0].source


def run_cell(notebook: str, tag: str, namespace: dict = None, **names) -> dict:
    """Execute the cell tagged ``tag`` in ``namespace`` (this very dict, so a ``del`` in the cell drops
    its last reference) with ``names`` added; returns the namespace afterwards."""
    namespace = {} if namespace is None else namespace
    namespace.update(names)
    exec(compile(cell_source(notebook, tag), f"{notebook}[{tag}]", "exec"), namespace)
    return namespace
