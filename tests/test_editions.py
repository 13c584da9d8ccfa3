"""The executed editions in editions/: built from the current notebooks and helpers, executed, small, readable on
GitHub. Nothing runs here: the hashes are recomputed from the sources (`make editions` rebuilds them)."""

import base64
import importlib.util
import io
import json
import re
import shutil

import nbformat
import pytest

from tools.run import REPO, notebook_paths

pytestmark = pytest.mark.same_on_any_cpu  # what the executed editions hold: no precision changes it

spec = importlib.util.spec_from_file_location("build_editions", REPO / "tools" / "build_editions.py")
build_editions = importlib.util.module_from_spec(spec)
spec.loader.exec_module(build_editions)
EDITIONS = REPO / "editions"
NOTEBOOKS = notebook_paths()
MAX_TOTAL = 15_000_000  # bytes of editions/ in all
MAX_EDITION = 3_000_000  # bytes of one edition
# a path of the machine that built them (a home folder, a temporary run folder) must not reach the page
LOCAL_PATH = re.compile(r"(/home/|/root/|/Users/|/tmp/|/var/folders/|[A-Z]:\\\\Users)")


def _edition(notebook):
    return nbformat.read(EDITIONS / notebook.name, as_version=4)


def _outputs(nb):
    return [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]


def test_every_notebook_has_an_edition_and_no_edition_outlives_its_notebook():
    editions = {p.name for p in EDITIONS.glob("*.ipynb")}
    notebooks = {p.name for p in NOTEBOOKS}
    assert notebooks - editions == set(), f"no edition of {sorted(notebooks - editions)}: run `make editions`"
    assert editions - notebooks == set(), f"editions of removed notebooks {sorted(editions - notebooks)}: run `make editions`"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_edition_comes_from_the_current_sources(notebook):
    reasons = build_editions.stale_reasons(notebook, EDITIONS / notebook.name)
    assert not reasons, f"editions/{notebook.name} is stale ({'; '.join(reasons)}): run `make editions` and commit editions/"


def test_the_hash_changes_with_each_source(tmp_path, monkeypatch):
    """The check can fail: a changed cell, a changed tag or a changed helper gives another hash."""
    notebook = NOTEBOOKS[0]
    before = build_editions.source_hashes(notebook)
    nb = nbformat.read(notebook, as_version=4)
    edited = tmp_path / notebook.name
    nb.cells[-1].source += "\n# edited"
    nbformat.write(nb, edited)
    assert build_editions.source_hashes(edited)["notebook"] != before["notebook"]
    nb = nbformat.read(notebook, as_version=4)
    nb.cells[0].metadata.setdefault("tags", []).append("solution")
    nbformat.write(nb, edited)
    assert build_editions.source_hashes(edited)["all"] != before["all"]
    fake_repo = tmp_path / "repo"
    shutil.copytree(REPO / "helpers", fake_repo / "helpers", ignore=shutil.ignore_patterns("__pycache__"))
    for name in build_editions.REQUIREMENTS:
        (fake_repo / name).write_text((REPO / name).read_text())
    monkeypatch.setattr(build_editions, "REPO", fake_repo)
    assert build_editions.source_hashes(notebook) == before
    (fake_repo / "helpers" / "settings.py").write_text((REPO / "helpers" / "settings.py").read_text() + "\n# x\n")
    assert build_editions.source_hashes(notebook)["helpers"] != before["helpers"]


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_edition_is_executed_without_errors(notebook):
    nb = _edition(notebook)
    nbformat.validate(nb)
    lesson = [c for c in nb.cells if c.cell_type == "code" and "solution" not in c.metadata.get("tags", [])]
    unrun = [c.source.splitlines()[:1] for c in lesson if c.execution_count is None]
    assert not unrun, f"editions/{notebook.name}: code cells not executed: {unrun[:3]}"
    errors = [o for o in _outputs(nb) if o.output_type == "error"]
    assert not errors, f"editions/{notebook.name}: {errors[0].ename}: {errors[0].evalue}"
    assert _outputs(nb), f"editions/{notebook.name} shows no output"
    # the edition holds every cell of its notebook, the solutions unrun (plus the note and papermill's parameters)
    sources = [c.source for c in nbformat.read(notebook, as_version=4).cells]
    shown = [c.source for c in nb.cells if not {"edition-note", "injected-parameters"} & set(c.metadata.get("tags", []))]
    assert len(shown) == len(sources)
    solutions = [c for c in nb.cells if "solution" in c.metadata.get("tags", [])]
    assert all(c.cell_type == "code" and not c.outputs for c in solutions)


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_edition_shows_what_github_can_render(notebook):
    from PIL import Image

    for output in _outputs(_edition(notebook)):
        data = output.get("data", {})
        assert build_editions.PLOTLY not in data, f"editions/{notebook.name}: a plotly figure GitHub cannot show"
        assert build_editions.WIDGET not in data, f"editions/{notebook.name}: a widget GitHub cannot show"
        assert len(data.get("text/html", "")) <= build_editions.MAX_HTML, f"editions/{notebook.name}: a huge HTML output"
        if "image/png" in data:
            png = base64.b64decode(data["image/png"])
            assert len(png) <= build_editions.MAX_IMAGE, f"editions/{notebook.name}: an image of {len(png):,} bytes"
            assert Image.open(io.BytesIO(png)).format == "PNG"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_edition_holds_no_local_path_or_timing_metadata(notebook):
    nb = _edition(notebook)
    text = json.dumps(nb)
    found = LOCAL_PATH.search(text)
    assert not found, f"editions/{notebook.name} holds a local path: ...{text[found.start() - 60:found.end() + 60]}..."
    assert "papermill" not in nb.metadata and "widgets" not in nb.metadata
    assert not any("execution" in c.metadata or "papermill" in c.metadata for c in nb.cells)


def test_the_first_image_of_the_visualization_notebook_is_a_png():
    notebook = next(p for p in NOTEBOOKS if p.stem.startswith("04"))
    images = [o.data for o in _outputs(_edition(notebook)) if any(k.startswith("image/") for k in o.get("data", {}))]
    assert images and "image/png" in images[0], "04's document map should show as a PNG"


def test_editions_stay_small():
    sizes = {p.name: p.stat().st_size for p in EDITIONS.glob("*.ipynb")}
    assert all(size <= MAX_EDITION for size in sizes.values()), sizes
    assert sum(sizes.values()) <= MAX_TOTAL, sizes


def test_stream_text_reads_as_a_terminal_leaves_it():
    text = "\r  0%|   | 0/13\r100%|███| 13/13\n2026-11-27 20:52:53,666 - BERTopic - Reducing\nplain\r\n"
    assert build_editions.terminal_text(text) == "100%|███| 13/13\nBERTopic - Reducing\nplain\n"


def test_a_large_png_is_made_small(tmp_path):
    import numpy as np
    from PIL import Image

    noise = np.random.default_rng(0).integers(0, 255, (900, 900, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(noise).save(buffer, format="PNG")
    assert buffer.tell() > 1_000_000
    small = build_editions.small_png(buffer.getvalue(), limit=300_000)
    assert len(small) <= 300_000 and Image.open(io.BytesIO(small)).format == "PNG"



PROGRESS_BAR = re.compile(r"\d+%\|[^\n]*\| *\d+/\d+|\d+it \[\d\d:\d\d")  # tqdm drawn as text: "100%|███| 13/13", "0it [00:00"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_an_edition_shows_no_progress_bar_drawn_as_text_and_no_error_stream(notebook):
    """The runner's kernels run with TQDM_DISABLE, our labeler's bars follow it, and BERTopic's log is plain output:
    no "Loading weights: 100%|...", no "0it [00:00, ?it/s]", nothing on stderr (a library's warning, a log)."""
    streams = [o for o in _outputs(_edition(notebook)) if o.output_type == "stream"]
    bars = [m.group(0) for o in streams for m in PROGRESS_BAR.finditer(o.text)]
    assert not bars, f"{notebook.name} shows progress bars as text: {bars[:3]}; run `make editions`"
    errors = [o.text[:200] for o in streams if o.name == "stderr"]
    assert not errors, f"{notebook.name} writes to stderr: {errors[:2]}"


def test_a_progress_bar_widget_is_dropped_and_another_widget_keeps_its_text(tmp_path):
    """tqdm.notebook ignores TQDM_DISABLE, so a cold run's GGUF conversion drew a bar in 01: the edition drops it."""
    state = {"bar-box": {"state": {"children": ["IPY_MODEL_label", "IPY_MODEL_bar"]}},
             "bar": {"state": {"max": 272, "value": 272}},
             "label": {"state": {"value": "Converting and de-quantizing GGUF tensors...: 100%"}},
             "text-box": {"state": {"children": ["IPY_MODEL_label"]}}}

    def shown(model_id):
        return {"output_type": "display_data", "metadata": {},
                "data": {build_editions.WIDGET: {"model_id": model_id}, "text/plain": "HBox(...)"}}

    assert build_editions.static_output(shown("bar-box"), state, tmp_path) is None
    kept = build_editions.static_output(shown("text-box"), state, tmp_path)
    assert kept.output_type == "stream" and kept.text == "Converting and de-quantizing GGUF tensors...: 100%\n"
