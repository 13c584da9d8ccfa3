"""What README.md and BENCHMARKS.md claim, checked against the code (issue 25, item 20)."""

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _paragraphs(name: str) -> list[str]:
    return [" ".join(p.split()) for p in (ROOT / name).read_text().split("\n\n")]


def test_the_long_document_warning_is_promised_only_by_notebooks_that_print_it():
    printing = set()
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        code = "".join("".join(c["source"]) for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code")
        if "truncation_note(" in code or ("embeddings, note = cached_embeddings(" in code and "print(note)" in code):
            printing.add(path.name[:2])
    sentences = [s for p in _paragraphs("README.md") for s in re.split(r"(?<=[.;])\s", p)
                 if "longer than" in s and "window" in s]
    assert sentences, "the README no longer mentions the warning: drop this test with it"
    for sentence in sentences:
        promised = {n for m in re.finditer(r"Notebooks? (\d\d)(?: and (\d\d))?", sentence) for n in m.groups() if n}
        assert promised and promised <= printing, (sentence, printing)


def test_every_label_passing_the_rubric_is_said_to_be_true_by_construction():
    """The labeler keeps only passing candidates: "every label passes" is a filter, not a result."""
    for name in ("README.md", "BENCHMARKS.md"):
        for paragraph in _paragraphs(name):
            if re.search(r"every (?:one of our )?labels?(?: of both runs)? pass(?:es)? the (?:strict )?rubric", paragraph, re.I):
                assert "by construction" in paragraph, (name, paragraph[:200])


def test_the_label_comparison_leads_with_the_lexical_measure_the_choice_never_used():
    paragraph = next(p for p in _paragraphs("README.md") if "Measured on the offline default" in p)
    measured = paragraph[paragraph.index("Measured on the offline default"):]
    assert measured.index("lexical") < measured.index("embedding"), measured[:300]


def test_the_package_docstring_names_every_helper_module():
    import helpers

    root = Path(helpers.__file__).parent
    modules = sorted([p.stem for p in root.glob("*.py") if p.stem != "__init__"] +
                     [p.name for p in root.iterdir() if (p / "__init__.py").exists()])
    missing = [m for m in modules if f"``{m}``" not in helpers.__doc__]
    assert not missing, f"helpers/__init__.py's docstring does not name: {missing}"
