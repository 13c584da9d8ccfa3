"""The helpers stay thin (issue 34, item 2): what the notebooks use is few names, each module short, and
nothing is built or patched at run time."""

import ast
import json
from pathlib import Path
import pytest

pytestmark = pytest.mark.same_on_any_cpu  # the helpers' size: no precision changes it

ROOT = Path(__file__).resolve().parent.parent
HELPERS = ROOT / "helpers"
MOST_NAMES = 40  # distinct project functions and classes the notebooks use
MOST_LINES = 300  # per module of helpers/ (the labeler package included)


def project_names_used(notebook: Path) -> set[str]:
    """``module.name`` for every helpers function or class a notebook's code imports or reaches by attribute."""
    used = set()
    for cell in json.loads(notebook.read_text(encoding="utf-8"))["cells"]:
        if cell["cell_type"] != "code":
            continue
        source = "\n".join(line for line in "".join(cell["source"]).splitlines() if not line.lstrip().startswith(("!", "%")))
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("helpers"):
                used |= {f"{node.module}.{alias.name}" for alias in node.names}
            elif isinstance(node, ast.Import):
                used |= {alias.name for alias in node.names if alias.name.startswith("helpers")}
            elif isinstance(node, ast.Attribute):
                parts, base = [], node
                while isinstance(base, ast.Attribute):
                    parts.append(base.attr)
                    base = base.value
                if isinstance(base, ast.Name) and base.id == "helpers":
                    used.add(".".join(["helpers", *reversed(parts)]))
    return used


def test_the_notebooks_use_at_most_40_project_functions_and_classes():
    used = set().union(*(project_names_used(p) for p in sorted((ROOT / "notebooks").glob("*.ipynb"))))
    modules_only = {n for n in used if (HELPERS / f"{n.removeprefix('helpers.').replace('.', '/')}.py").exists()
                    or (HELPERS / n.removeprefix("helpers.").replace(".", "/")).is_dir()}
    assert not modules_only, f"a whole module imported, its names uncounted: {sorted(modules_only)}"
    code = {n for n in used if not n.rpartition(".")[2].isupper()}  # a constant (POST_TOPICS: the post's data) is neither
    assert len(code) <= MOST_NAMES, f"{len(code)} names: {sorted(code)}"


def test_the_counter_counts_what_a_notebook_uses(tmp_path):
    notebook = tmp_path / "nb.ipynb"
    notebook.write_text(json.dumps({"cells": [
        {"cell_type": "code", "source": ["from helpers.topics import a, b as c\n", "import helpers.runs\n",
                                         "helpers.runs.load_results(x)\n", "!pip install nothing\n"]},
        {"cell_type": "markdown", "source": ["from helpers.fake import z"]}]}))
    assert project_names_used(notebook) == {"helpers.topics.a", "helpers.topics.b", "helpers.runs",
                                            "helpers.runs.load_results"}


def test_no_module_of_the_helpers_is_over_300_lines():
    sizes = {str(p.relative_to(HELPERS)): len(p.read_text().splitlines()) for p in HELPERS.rglob("*.py")}
    assert not {name: n for name, n in sizes.items() if n > MOST_LINES}, sizes


def test_no_class_is_built_at_run_time_no_module_getattr_and_no_third_party_patch():
    found = []
    for path in HELPERS.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef) and node.name == "__getattr__" and node in tree.body:
                found.append(f"{path.name}: module __getattr__")
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "type" and len(node.args) == 3:
                found.append(f"{path.name}:{node.lineno}: type(name, bases, dict)")
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                found += [f"{path.name}:{inner.lineno}: class {inner.name} inside {node.name}()"
                          for inner in ast.walk(node) if isinstance(inner, ast.ClassDef)]
            if isinstance(node, ast.Assign):  # numba.jit = ..., SomeLibrary.attr = ... (a module attribute rebound)
                for target in node.targets:
                    if isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name) and \
                            target.value.id in {"numba", "gguf", "transformers", "torch", "bertopic", "umap", "hdbscan"}:
                        found.append(f"{path.name}:{node.lineno}: {target.value.id}.{target.attr} patched")
    assert not found, found
