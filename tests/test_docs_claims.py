"""What README.md, docs/ and BENCHMARKS.md claim, checked against the code (issue 25, item 20).

Since issue 36 the README is a front page and most of its paragraphs live in docs/, one file per topic."""

import json
import re
from pathlib import Path
import pytest

pytestmark = pytest.mark.same_on_any_cpu  # what the docs say: no precision changes it

ROOT = Path(__file__).resolve().parent.parent
DOCS = ["README.md"] + sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "docs").glob("*.md"))


def _paragraphs(name: str) -> list[str]:
    return [" ".join(p.split()) for p in (ROOT / name).read_text().split("\n\n")]


def test_the_long_document_warning_is_promised_only_by_notebooks_that_print_it():
    printing = set()
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        code = "".join("".join(c["source"]) for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code")
        if "truncation_note(" in code or ("embeddings, note = cached_embeddings(" in code and "print(note)" in code):
            printing.add(path.name[:2])
    sentences = [s for name in DOCS for p in _paragraphs(name) for s in re.split(r"(?<=[.;])\s", p)
                 if "longer than" in s and "window" in s]
    assert sentences, "README.md and docs/ no longer mention the warning (docs/your-data.md did): drop this test with it"
    for sentence in sentences:
        promised = {n for m in re.finditer(r"Notebooks? (\d\d)(?: and (\d\d))?", sentence) for n in m.groups() if n}
        assert promised and promised <= printing, (sentence, printing)


def test_every_label_passing_the_rubric_is_said_to_be_true_by_construction():
    """The labeler keeps only passing candidates: "every label passes" is a filter, not a result."""
    for name in (*DOCS, "BENCHMARKS.md"):
        for paragraph in _paragraphs(name):
            if re.search(r"every (?:one of our )?labels?(?: of both runs)? pass(?:es)? the (?:strict )?rubric", paragraph, re.I):
                assert "by construction" in paragraph, (name, paragraph[:200])


def test_the_label_comparison_leads_with_the_lexical_measure_the_choice_never_used():
    paragraph = next(p for p in _paragraphs("docs/labels-and-evaluation.md") if "Measured on the offline default" in p)
    measured = paragraph[paragraph.index("Measured on the offline default"):]
    assert measured.index("lexical") < measured.index("embedding"), measured[:300]


def test_the_loading_errors_quoted_in_troubleshooting_are_the_ones_users_get():
    """docs/troubleshooting.md quotes the two loading errors in bold ("..." where it shortens one)."""
    from helpers.llm import explain_loading_error

    text = " ".join((ROOT / "docs" / "troubleshooting.md").read_text().split())
    quotes = [q.removesuffix("...").strip() for q in re.findall(r'\*\*"(.+?)"\*\*', text)]
    model = "meta-llama/Llama-2-13b-chat-hf"
    for error in ("403 Client Error: gated repo", "CUDA out of memory"):
        said = str(explain_loading_error(RuntimeError(error), model))
        assert any(said.startswith(q) for q in quotes), f"docs/troubleshooting.md does not quote: {said}"
        for offered in re.findall(r"profile = '([\w-]+)'|the ungated '([^']+)'", said):
            name = offered[0] or offered[1]
            assert name in text, f"the message offers {name!r}; docs/troubleshooting.md does not say so"


def test_the_package_docstring_names_every_helper_module():
    import helpers

    root = Path(helpers.__file__).parent
    modules = sorted([p.stem for p in root.glob("*.py") if p.stem != "__init__"] +
                     [p.name for p in root.iterdir() if (p / "__init__.py").exists()])
    missing = [m for m in modules if f"``{m}``" not in helpers.__doc__]
    assert not missing, f"helpers/__init__.py's docstring does not name: {missing}"
